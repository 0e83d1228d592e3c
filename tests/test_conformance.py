"""One conformance check run over every design (as scikit-learn's estimator checks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import DESIGNS, Action, BackfillPlan, Decision, InvalidDesignError, TrialData
from tests.designs_catalog import OPTIONS, make_design
from tests.strategies import trial_data

METHODS = sorted(DESIGNS)


def test_every_design_is_in_the_catalog() -> None:
    assert set(DESIGNS) == set(OPTIONS)


def check_decision(decision: Decision, data: TrialData) -> None:
    k = data.n_doses
    assert len(decision.doses) == k
    assert [d.dose_level for d in decision.doses] == list(range(1, k + 1))
    if decision.action in (Action.STOP, Action.WAIT):
        assert decision.next_level is None
    else:
        assert decision.next_level is not None and 1 <= decision.next_level <= k
        assert decision.next_level not in decision.eliminated
        tried = np.flatnonzero(data.summary.n_treated > 0)
        ceiling = max(int(tried[-1]) + 2 if tried.size else 1, 1)
        assert decision.next_level <= max(ceiling, decision.current_level or 1)
        cur = decision.current_level
        if cur is not None:
            expected = (
                Action.ESCALATE
                if decision.next_level > cur
                else Action.DEESCALATE
                if decision.next_level < cur
                else Action.STAY
            )
            assert decision.action is expected
    if decision.action is Action.STOP:
        assert decision.selection is not None
        sel = decision.selection
        assert sel.dose_level is None or (
            1 <= sel.dose_level <= k and sel.dose_level not in sel.eliminated
        )
        assert sel.reason
    if decision.action is Action.WAIT:
        assert decision.wait_until_day is not None and decision.wait_until_day > data.as_of_day
    assert set(decision.eliminated).isdisjoint(decision.admissible)
    assert sorted((*decision.eliminated, *decision.admissible)) == list(range(1, k + 1))
    assert decision.reason
    assert any(r.triggered for r in decision.rules)


@pytest.mark.parametrize("method", METHODS)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=trial_data(), n_doses_seed=st.just(0))
def test_conformance(method: str, data: TrialData, n_doses_seed: int) -> None:
    design = make_design(method, data.n_doses)
    decision = design.decide(data)
    check_decision(decision, data)
    again = make_design(method, data.n_doses).decide(data)
    assert again == decision  # deterministic
    selection = design.select(data)
    assert selection.dose_level is None or 1 <= selection.dose_level <= data.n_doses
    assert len(selection.estimates) == data.n_doses


#: the designs that take the backfill option (BOIN family: BF-BOIN; model-based: crmPack's rule)
BACKFILL_METHODS = sorted(m for m, cls in DESIGNS.items() if cls.backfill_kind is not None)
PLAN = BackfillPlan(max_per_dose=6, min_responses=1, assign="highest")


def test_backfill_designs_are_the_expected_ones() -> None:
    assert BACKFILL_METHODS == ["blrm", "boin", "crm", "tite-boin", "tite-crm"]


@pytest.mark.parametrize("method", BACKFILL_METHODS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=trial_data(backfill=True))
def test_backfill_conformance(method: str, data: TrialData) -> None:
    """Every design that backfills, on data with backfill patients and responses: the decision
    conforms as without backfill, and the levels it opens are below the current dose, tried, not
    eliminated, with a response, under the cap, never above the recommended dose for a model,
    none once the trial stops (after its last escalation cohort's outcomes, or at once when every
    dose is eliminated); every other level below the current dose is closed with a reason."""
    k = data.n_doses
    design = DESIGNS[method](n_doses=k, **OPTIONS[method](k), backfill=PLAN)
    decision = design.decide(data)
    check_decision(decision, data)
    assert DESIGNS[method](n_doses=k, **OPTIONS[method](k), backfill=PLAN).decide(data) == decision
    status = decision.backfill
    assert status is not None
    opened = list(status.open_levels)
    assert opened == sorted(set(opened))
    assert set(opened).isdisjoint(status.closed)
    current = decision.current_level
    assert set(opened) | set(status.closed) == set(range(1, current or 1))
    assert all(reason for reason in status.closed.values())
    for level in opened:
        at = [p for p in data.patients if p.dose_level == level]
        assert at, f"level {level} opened untried"
        assert level not in decision.eliminated
        assert any(p.response is True for p in at)
        assert len(at) < PLAN.max_per_dose
        if design.backfill_kind == "model" and decision.next_level is not None:
            assert level <= decision.next_level
    escalation_pending = data.of_cohorts(("escalation",)).summary.n_pending.sum() > 0
    if decision.action is Action.STOP and (not escalation_pending or not decision.admissible):
        assert not opened  # backfill ends with the escalation (while its last cohort is pending)
    assert status.assign_level == (max(opened) if opened else None)
    selection = design.select(data)
    assert selection.dose_level is None or selection.dose_level not in selection.eliminated


def test_a_backfill_option_that_is_not_a_plan_is_named() -> None:
    with pytest.raises(InvalidDesignError, match="BackfillPlan"):
        DESIGNS["boin"](n_doses=3, **OPTIONS["boin"](3), backfill={"max_per_dose": 6})
