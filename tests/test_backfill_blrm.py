"""Backfill in the BLRM design (issue 12, point 2): the opening rule, the posterior, a simulation.

The rule (escalation/backfill.py, crmPack 2.1's ``Backfill`` with ``OpeningMinResponses``): while
an escalation cohort is pending at the current level d, a lower level b < d is open when it has
been tried, has at least ``min_responses`` responses and fewer than ``max_per_dose`` patients, is
not above the model's recommended next level, and is admitted by overdose control (EWOC:
Pr(p_b >= 0.33 | data) < ``overdose_cutoff``, b and every higher level excluded otherwise).

The overdose probabilities are checked against a second method: the posterior on a fine grid over
(log alpha, log beta), computed here from the model's definition (logit p_d = log alpha +
exp(log beta) log(d / d*), bivariate normal prior) with numpy alone, on every complete patient --
escalation and backfill. The simulation check replays each backfill patient of simulated trials
against the decision the engine asked for on their arrival day.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from escalation import Action, Patient, TrialData
from escalation.backfill import BackfillPlan
from escalation.designs.blrm import BLRM
from simulations.engines import GenericEngine
from simulations.engines.generic import simulate_trial
from simulations.patients import Conduct, DltTime, PatientBlock

AMOUNTS = (1.0, 2.0, 4.0, 8.0)
PLAN = BackfillPlan(max_per_dose=12, min_responses=1, assign="highest")
WINDOW = 28


def blrm(plan: BackfillPlan | None = PLAN, **options: Any) -> BLRM:
    return BLRM(n_doses=4, target=0.25, dose_amounts=AMOUNTS, backfill=plan, **options)


def brute_force_prob_overdose(
    design: BLRM, n: list[int], y: list[int], bound: float = 0.33
) -> np.ndarray:
    """Pr(p_d >= bound | data) per level by a 2-D grid over (log alpha, log beta) (a second
    method: the model's definition, numpy only)."""
    opts = design.options()
    (m1, m2), (s1, s2), rho = opts["prior"]["mean"], opts["prior"]["sd"], opts["prior"]["corr"]
    a = np.linspace(m1 - 7 * s1, m1 + 7 * s1, 701)
    b = np.linspace(m2 - 7 * s2, m2 + 7 * s2, 701)
    la, lb = np.meshgrid(a, b, indexing="ij")
    za, zb = (la - m1) / s1, (lb - m2) / s2
    log_post = -(za**2 - 2 * rho * za * zb + zb**2) / (2 * (1 - rho**2))
    x = np.log(np.asarray(AMOUNTS) / float(opts["reference_dose"]))
    logits = la[..., None] + np.exp(lb)[..., None] * x  # (a, b, dose)
    log_p = -np.logaddexp(0.0, -logits)
    log_q = -np.logaddexp(0.0, logits)
    log_post = log_post + (np.asarray(y) * log_p + (np.asarray(n) - np.asarray(y)) * log_q).sum(-1)
    w = np.exp(log_post - log_post.max())
    w /= w.sum()
    over = 1.0 / (1.0 + np.exp(-logits)) >= bound
    return np.asarray([(w * over[..., d]).sum() for d in range(len(AMOUNTS))])


def patient(
    pid: str, level: int, day: int, *, dlt: bool = False, response: bool | None = None, **kw: Any
) -> Patient:
    return Patient(
        patient_id=pid,
        dose_level=level,
        infused_day=day,
        dlt=dlt,
        dlt_day=day + 10 if dlt else None,
        response=response,
        **kw,
    )


def escalation_to_level_3(extra: tuple[Patient, ...] = ()) -> TrialData:
    """Three patients at levels 1 and 2 (complete, no DLT, one response each), the escalation
    cohort at level 3 pending, and ``extra`` patients."""
    rows = [patient(f"A{k}", 1, 7 * k, response=k == 0) for k in range(3)]
    rows += [patient(f"B{k}", 2, 40 + 7 * k, response=k == 1) for k in range(3)]
    rows += [patient(f"C{k}", 3, 100 + k) for k in range(3)]
    return TrialData(
        n_doses=4,
        patients=(*rows, *extra),
        as_of_day=110,
        dlt_window_days=WINDOW,
        current_level=3,
    )


def complete_counts(data: TrialData) -> tuple[list[int], list[int]]:
    s = data.summary
    return [int(v) for v in s.n_complete], [int(v) for v in s.n_dlt]


def expected_open(design: BLRM, data: TrialData, recommended: int) -> tuple[int, ...]:
    """The rule of the module docstring, from the brute-force posterior."""
    n, y = complete_counts(data)
    over = brute_force_prob_overdose(design, n, y)
    admitted = np.cumsum(over >= design.overdose_cutoff) == 0  # EWOC excludes d and above
    responses = [
        sum(p.response is True and p.dose_level == b for p in data.patients) for b in range(1, 5)
    ]
    treated = data.summary.n_treated
    current = data.current_dose_level
    assert current is not None
    return tuple(
        b
        for b in range(1, current)
        if treated[b - 1] > 0
        and admitted[b - 1]
        and b <= recommended
        and responses[b - 1] >= PLAN.min_responses
        and treated[b - 1] < PLAN.max_per_dose
    )


def test_the_posterior_of_the_design_is_the_brute_force_one() -> None:
    """The second method agrees with the design's posterior (so that it can judge the rule)."""
    design = blrm()
    data = escalation_to_level_3((patient("X1", 2, 60, dlt=True, cohort="backfill"),))
    decision = design.decide(data)
    n, y = complete_counts(data)
    ours = [d.prob_overdose for d in decision.doses]
    np.testing.assert_allclose(ours, brute_force_prob_overdose(design, n, y), atol=2e-3)


def test_levels_below_the_current_one_that_overdose_control_admits_are_open() -> None:
    design = blrm()
    data = escalation_to_level_3()
    decision = design.decide(data)
    assert decision.action is Action.WAIT  # the level-3 cohort is pending
    status = decision.backfill
    assert status is not None
    assert status.open_levels == (1, 2) and status.assign_level == 2
    assert status.open_levels == expected_open(design, data, recommended=3)
    for d in decision.doses[:2]:
        assert d.prob_overdose is not None and d.prob_overdose < design.overdose_cutoff


def test_a_level_overdose_control_excludes_is_closed_with_every_level_above() -> None:
    """Backfill DLTs at level 2 (3 of 4) make Pr(overdose) there >= 0.25: level 2 closes, level 1
    (no DLT in 3) stays open."""
    design = blrm()
    toxic = tuple(
        patient(f"X{k}", 2, 60 + k, dlt=k < 3, cohort="backfill", response=True) for k in range(4)
    )
    data = escalation_to_level_3(toxic)
    decision = design.decide(data)
    status = decision.backfill
    assert status is not None
    n, y = complete_counts(data)
    over = brute_force_prob_overdose(design, n, y)
    assert over[0] < 0.25 <= over[1]  # what makes this case: level 2 is excluded, level 1 not
    assert 2 in decision.eliminated and 1 not in decision.eliminated
    assert status.open_levels == (1,) and status.closed[2] == "eliminated"
    assert status.open_levels == expected_open(design, data, recommended=1)


def test_a_level_above_the_recommended_dose_is_closed() -> None:
    """Two DLTs in the three at level 2 (complete) and the cohort at level 3 pending: the model
    recommends level 1, so level 2 -- admitted by overdose control or not -- takes no backfill."""
    design = blrm(overdose_cutoff=0.6)
    rows = [patient(f"A{k}", 1, 7 * k, response=True) for k in range(3)]
    rows += [patient(f"B{k}", 2, 40 + 7 * k, dlt=k < 2, response=True) for k in range(3)]
    rows += [patient(f"C{k}", 3, 100 + k) for k in range(3)]
    data = TrialData(
        n_doses=4, patients=tuple(rows), as_of_day=110, dlt_window_days=WINDOW, current_level=3
    )
    decision = design.decide(data)
    n, y = complete_counts(data)
    over = brute_force_prob_overdose(design, n, y)
    assert over[1] < 0.6  # admitted: closed only because it is above the recommended level
    status = decision.backfill
    assert status is not None
    recommended = int(np.argmax([d.prob_target for d in decision.doses[:2]])) + 1
    assert recommended == 1
    assert status.open_levels == (1,)
    assert status.closed[2] == "above the model's recommended dose level 1"
    assert status.open_levels == expected_open(design, data, recommended=1)


def test_backfill_patients_enter_the_posterior_as_escalation_patients_do() -> None:
    design = blrm()
    backfilled = tuple(
        patient(f"X{k}", 2, 60 + 2 * k, dlt=k == 0, cohort="backfill", response=True)
        for k in range(5)
    )
    data = escalation_to_level_3(backfilled)
    with_backfill = design.decide(data)
    # the same patients labelled escalation: the same posterior, dose for dose
    relabelled = replace(
        data, patients=tuple(replace(p, cohort="escalation") for p in data.patients)
    )
    as_escalation = design.decide(relabelled)
    # without them: another posterior
    without = design.decide(escalation_to_level_3())
    n, y = complete_counts(data)
    assert n[1] == 8 and y[1] == 1  # the five backfill patients count at level 2
    expected = brute_force_prob_overdose(design, n, y)
    for k in range(4):
        got = with_backfill.doses[k]
        assert got.n == as_escalation.doses[k].n and got.dlt == as_escalation.doses[k].dlt
        assert got.prob_overdose == pytest.approx(as_escalation.doses[k].prob_overdose, abs=1e-12)
        assert got.prob_overdose == pytest.approx(expected[k], abs=2e-3)
    assert with_backfill.doses[1].n == 8 and without.doses[1].n == 3
    # 1 DLT in 8 rather than 0 in 3: a higher estimate and Pr(target) at level 2
    assert with_backfill.doses[1].estimate > without.doses[1].estimate + 0.02
    assert with_backfill.doses[1].prob_target > without.doses[1].prob_target + 0.05
    # the final selection uses them too (min_at_mtd = 6 is met at level 2 only with them)
    assert design.select(relabelled).dose_level == design.select(data).dose_level
    assert replace(design, min_at_mtd=6).select(data).dose_level is not None


# ---- simulated trials --------------------------------------------------------------------------
PROBS = np.array([0.05, 0.1, 0.25, 0.45])
CONDUCT = Conduct(
    accrual_per_month=3,
    accrual="uniform",
    dlt_time=DltTime(distribution="weibull"),
    suspended_arrivals="lost",
    decision_timing="complete",
)


def block(n_trials: int, responses: list[float] | None) -> PatientBlock:
    return PatientBlock(
        seed=12,
        scenario_index=0,
        block_index=0,
        n_trials=n_trials,
        capacity=31,
        conduct=CONDUCT,
        true_response_probs=responses,
    )


class Recorder:
    """The design, recording every decision the engine asks for and the final data."""

    def __init__(self, design: BLRM) -> None:
        self.design = design
        self.asked: list[tuple[TrialData, Any]] = []
        self.final: TrialData | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.design, name)

    def decide(self, data: TrialData) -> Any:
        decision = self.design.decide(data)
        self.asked.append((data, decision))
        return decision

    def select(self, data: TrialData) -> Any:
        self.final = data
        return self.design.select(data)


def test_simulated_backfill_patients_go_where_the_rule_says() -> None:
    design = blrm(max_patients=18)
    n_backfill = 0
    for t in range(4):
        rec = Recorder(design)
        simulate_trial(rec, PROBS, block(4, [0.4, 0.5, 0.5, 0.5]), t, CONDUCT)  # type: ignore[arg-type]
        assert rec.final is not None
        patients = sorted(rec.final.patients, key=lambda p: p.infused_day)
        for k, p in enumerate(patients):
            if p.cohort != "backfill":
                continue
            n_backfill += 1
            before = k  # the patients treated before this one
            # the decision the engine asked for on the arrival day, with these patients
            data, decision = next(
                (d, dec)
                for d, dec in reversed(rec.asked)
                if d.as_of_day <= p.infused_day and len(d.patients) <= before
            )
            status = decision.backfill
            assert status is not None and p.dose_level in status.open_levels
            assert p.dose_level == PLAN.pick(status.open_levels)
            current = data.current_dose_level
            assert current is not None and p.dose_level < current
            assert decision.doses[p.dose_level - 1].prob_overdose < design.overdose_cutoff
            # under the cap when treated (escalation patients may come to the level later)
            assert sum(q.dose_level == p.dose_level for q in patients[:k]) < PLAN.max_per_dose
    assert n_backfill >= 10


def test_without_responses_the_trials_are_those_without_backfill() -> None:
    """min_responses = 1 and no response: no level ever opens, and every trial is the one BLRM
    without the backfill option runs on the same patients."""
    engine = GenericEngine()
    plain = engine.run(blrm(None, max_patients=15), PROBS, block(6, None), CONDUCT)
    none_open = engine.run(blrm(max_patients=15), PROBS, block(6, None), CONDUCT)
    assert none_open.n_backfill is not None and none_open.n_backfill.sum() == 0
    np.testing.assert_array_equal(plain.selected_index, none_open.selected_index)
    np.testing.assert_array_equal(plain.n_at_dose, none_open.n_at_dose)
    np.testing.assert_array_equal(plain.dlt_at_dose, none_open.dlt_at_dose)


def test_run_simulation_with_blrm_backfill_reports_backfill_patients() -> None:
    from simulations import run_simulation

    spec = {
        "designs": [
            {
                "name": "BLRM+backfill",
                "method": "blrm",
                "target": 0.25,
                "max_patients": 18,
                "backfill": {"max_per_dose": 9, "min_responses": 1},
            },
            {"name": "BLRM", "method": "blrm", "target": 0.25, "max_patients": 18},
        ],
        "dose_amounts": list(AMOUNTS),
        "scenarios": [
            {
                "name": "S",
                "true_dlt_probs": PROBS.tolist(),
                "true_response_probs": [0.4, 0.5, 0.5, 0.5],
            }
        ],
        "accrual_per_month": 3,
        "accrual": "uniform",
        "suspended_arrivals": "lost",
        "trials": 8,
        "seed": 5,
    }
    bf, plain = run_simulation(spec)["results"]
    assert bf["engine"] == "generic" and bf["backfill_mean"] > 0
    assert bf["n_mean"] - bf["backfill_mean"] <= 18 and plain["n_mean"] <= 18
    assert "backfill_mean" not in plain
    assert math.isclose(sum(bf["selection_pct"]) + bf["none_pct"], 100)
