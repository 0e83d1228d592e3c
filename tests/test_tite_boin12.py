"""TITE-BOIN12: on complete data it is BOIN12; with pending outcomes, the approximated likelihood
(hand-computed) and the accrual suspension; in simulation it shortens the trial."""

from __future__ import annotations

import pytest

from escalation import BOIN12, TITEBOIN12, Action, TrialData
from escalation.data import Patient
from simulations import run_simulation
from tests.test_boin12 import REF, design_for, trial

PAPER = [c for c in REF["cases"] if c["set"] == "paper"]


def tite_for(name: str) -> TITEBOIN12:
    b = design_for(name)
    return TITEBOIN12(
        n_doses=5,
        target=b.target,
        efficacy_target=b.efficacy_target,
        utility=b.utility,
        c_t=b.c_t,
        c_e=b.c_e,
        max_patients=b.max_patients,
        n_stop=b.n_stop,
    )


@pytest.mark.parametrize("case", PAPER, ids=[c["outcomes"] for c in PAPER])
def test_complete_data_decide_as_boin12(case: dict) -> None:
    data = trial(case["outcomes"])
    a, b = design_for("paper").decide(data), tite_for("paper").decide(data)
    assert (a.action, a.next_level) == (b.action, b.next_level)


def test_pending_response_imputed_by_follow_up() -> None:
    """C is 60 of 90 days into the efficacy window: p_E = 1 / (2 + 2/3) = 0.375, imputed
    0.375 (1/3) / (1 - 0.25) = 1/6; x = 1 + 0.4 + (1/6 + 5/6 0.4) = 1.9."""
    data = TrialData(
        n_doses=4,
        as_of_day=120,
        patients=(
            Patient(patient_id="A", dose_level=1, infused_day=0, response=True),
            Patient(patient_id="B", dose_level=1, infused_day=10, response=False),
            Patient(patient_id="C", dose_level=1, infused_day=60),
        ),
    )
    design = TITEBOIN12(n_doses=4, target=0.35, efficacy_target=0.25)
    n, t, r, x, _ = design._counts(data)
    assert n[0] == 3 and t[0] == 0
    assert r[0] == pytest.approx(3 * 0.375)
    assert x[0] == pytest.approx(1.9)
    decision = design.decide(data)
    assert decision.doses[0].efficacy is not None
    assert decision.doses[0].efficacy.utility_mean == pytest.approx(58.0)
    # BOIN12 on the same data waits for C's response
    assert BOIN12(n_doses=4, target=0.35, efficacy_target=0.25).decide(data).action is Action.WAIT


def test_accrual_suspended_until_half_the_outcomes_are_known() -> None:
    """Three patients at level 1, one with both outcomes known: at least 2 of each are needed;
    the wait ends when the second DLT window and the second efficacy window close."""
    patients = (
        Patient(patient_id="A", dose_level=1, infused_day=0, response=False),
        Patient(patient_id="B", dose_level=1, infused_day=95),
        Patient(patient_id="C", dose_level=1, infused_day=100),
    )
    data = TrialData(n_doses=4, as_of_day=110, patients=patients)
    decision = TITEBOIN12(n_doses=4, target=0.35, efficacy_target=0.25).decide(data)
    assert decision.action is Action.WAIT
    assert decision.wait_until_day == 95 + 90  # B's efficacy window (its DLT window: day 125)
    assert any(r.label.startswith("SuspendForOutcomes") and r.triggered for r in decision.rules)


@pytest.mark.slow
def test_tite_boin12_shortens_the_trial() -> None:
    """On the same patients (3 a month, responses at day 90), TITE-BOIN12 ends sooner than BOIN12
    and selects the OBD about as often."""
    scenario = {
        "name": "S",
        "true_dlt_probs": [0.05, 0.1, 0.15, 0.3, 0.45],
        "true_response_probs": [0.1, 0.25, 0.45, 0.5, 0.55],
    }
    spec = {
        "designs": [
            {"name": "BOIN12", "method": "boin12", "target": 0.35, "efficacy_target": 0.25},
            {"name": "TITE", "method": "tite-boin12", "target": 0.35, "efficacy_target": 0.25},
        ],
        "scenarios": [scenario],
        "trials": 60,
        "seed": 3,
        "accrual_per_month": 3,
    }
    rows = {r["design"]: r for r in run_simulation(spec)["results"]}
    assert rows["TITE"]["engine"] == "generic"
    assert rows["TITE"]["duration_mean_days"] < rows["BOIN12"]["duration_mean_days"] - 60
    assert abs(rows["TITE"]["obd_correct_pct"] - rows["BOIN12"]["obd_correct_pct"]) < 30
