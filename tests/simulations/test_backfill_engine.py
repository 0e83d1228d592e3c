"""The generic engine's backfill: who gets backfilled, where, and what the results count."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from escalation import BOIN, TITEBOIN
from escalation.backfill import BackfillPlan
from simulations import InvalidSpecError
from simulations.engines import BOINEngine, GenericEngine, choose_engine
from simulations.engines.generic import simulate_trial
from simulations.patients import Conduct, DltTime, PatientBlock
from simulations.spec import parse_spec

PROBS = np.array([0.05, 0.1, 0.25, 0.45])
RESPONSES = [0.3, 0.4, 0.5, 0.5]
CONDUCT = Conduct(
    accrual_per_month=3,
    accrual="uniform",
    dlt_time=DltTime(distribution="weibull"),
    suspended_arrivals="lost",
    decision_timing="complete",
)


def _block(n_trials: int = 30, conduct: Conduct = CONDUCT) -> PatientBlock:
    return PatientBlock(
        seed=4,
        scenario_index=0,
        block_index=0,
        n_trials=n_trials,
        capacity=31,
        conduct=conduct,
        true_response_probs=RESPONSES,
    )


@pytest.mark.parametrize("assign", ["highest", "lowest", "random"])
def test_backfill_patients_come_on_top_of_the_escalation_cohorts(assign: str) -> None:
    design = BOIN(n_doses=4, target=0.25, n_stop=9, backfill=BackfillPlan(assign=assign))
    out = GenericEngine().run(design, PROBS, _block(), CONDUCT)
    assert out.n_backfill is not None and out.backfill_unevaluated is not None
    assert out.n_backfill.sum() > 0
    escalation = out.n_at_dose.sum(axis=1) - out.n_backfill
    assert np.all(escalation <= 30) and np.all(escalation % 3 == 0)
    assert np.all(out.n_at_dose <= 30 + 12)
    assert np.all(out.backfill_unevaluated <= out.n_backfill)
    again = GenericEngine().run(design, PROBS, _block(), CONDUCT)
    np.testing.assert_array_equal(out.n_at_dose, again.n_at_dose)  # seeded, even when random


def test_without_responses_nothing_is_backfilled() -> None:
    design = BOIN(n_doses=4, target=0.25, backfill=BackfillPlan(min_responses=1))
    block = PatientBlock(
        seed=4, scenario_index=0, block_index=0, n_trials=10, capacity=31, conduct=CONDUCT
    )
    out = GenericEngine().run(design, PROBS, block, CONDUCT)
    assert out.n_backfill is not None and out.n_backfill.sum() == 0
    plain = BOINEngine().run(BOIN(n_doses=4, target=0.25), PROBS, block, CONDUCT)
    np.testing.assert_array_equal(out.selected_index, plain.selected_index)
    np.testing.assert_array_equal(out.n_at_dose, plain.n_at_dose)


def test_every_backfill_patient_is_below_the_escalation_dose_of_the_moment() -> None:
    design = BOIN(n_doses=4, target=0.25, backfill=BackfillPlan(min_responses=0))
    for t in range(10):
        result = simulate_trial(design, PROBS, _block(10), t, CONDUCT)
        assert result.n_backfill > 0


def test_backfill_goes_on_while_the_last_escalation_cohort_is_pending() -> None:
    """With two cohorts a level below the current one exists only while the second (last) cohort
    is pending: the arrivals meanwhile are backfilled, as R bfboin does until the last escalation
    outcome is known (its ``max.t``, where the trial ends)."""
    design = BOIN(n_doses=4, target=0.25, max_patients=6, backfill=BackfillPlan(min_responses=0))
    block = _block(20)
    backfilled = 0
    for t in range(20):
        result = simulate_trial(design, PROBS, block, t, CONDUCT)
        assert result.n_at_dose.sum() - result.n_backfill == 6
        backfilled += result.n_backfill
        assert result.backfill_unevaluated <= result.n_backfill
    assert backfilled >= 20  # about three arrivals in the last cohort's 30-day window


@pytest.mark.parametrize("suspended", ["wait", "lost"])
def test_tite_boin_and_waiting_arrivals_run_with_backfill(suspended: str) -> None:
    conduct = Conduct(
        accrual_per_month=6,
        accrual="uniform",
        suspended_arrivals=suspended,  # type: ignore[arg-type]
    )
    for design in (
        TITEBOIN(n_doses=4, target=0.25, backfill=BackfillPlan(min_responses=0)),
        BOIN(n_doses=4, target=0.25, backfill=BackfillPlan(min_responses=0)),
    ):
        out = GenericEngine().run(design, PROBS, _block(5, conduct), conduct)
        assert out.n_backfill is not None
        assert np.all(out.n_at_dose.sum(axis=1) - out.n_backfill <= 30)


def test_fast_engines_refuse_backfill(caplog: pytest.LogCaptureFixture) -> None:
    design = BOIN(n_doses=4, target=0.25, backfill=BackfillPlan())
    with caplog.at_level(logging.WARNING):
        assert choose_engine(design, CONDUCT).name == "generic"
    assert "backfill" in caplog.text


def test_spec_needs_response_probabilities_for_a_backfill_that_waits_for_responses() -> None:
    spec = {
        "design": {"method": "boin", "target": 0.25, "backfill": {"min_responses": 1}},
        "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3]}],
        "trials": 10,
        "seed": 1,
    }
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == ["scenarios[0].true_response_probs"]
    spec["design"]["backfill"] = {"min_responses": 0}  # type: ignore[index]
    assert parse_spec(spec).designs[0].block["backfill"] == {"min_responses": 0}
