"""dfcrm's simulated trial replayed through the engine, patient by patient.

``crm_sim.json``'s ``single_trial`` is one trial of ``dfcrm::crmsim`` (scenario S1, empiric model,
cohorts of 3, 30 patients, start at level 1, ``restrict = TRUE``): each patient's dose level, DLT
and ``beta.hat``, the posterior mean of log(beta) that chose the patient's dose (from the patients
before its cohort; 0 for the first cohort), and the final fit. Here the same patients are entered
one by one into trial documents, with dates, and every cohort's dose is the engine's
recommendation on the patients before it (read from the document as the command line and the
service read it). Every dose must be dfcrm's, and every estimate dfcrm's to 1e-6 relative.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from escalation import CRM, Action, Decision, parse_document
from tests.reference import load

SIM = load("crm_sim.json")
TRIAL = SIM["single_trial"]
INPUTS = next(run["inputs"] for run in SIM["runs"] if run["id"] == "S1_x0_1")
REL = 1e-6
WINDOW = 30
START = dt.date(2026, 1, 5)
COHORT = INPUTS["mcohort"]


def _design() -> dict[str, Any]:
    return {
        "method": "crm",
        "target": INPUTS["target"],
        "skeleton": INPUTS["prior"],
        "model": INPUTS["model"],
        "intercept": float(INPUTS["intcpt"]),
        "prior_sd": INPUTS["scale"],
        "cohort_size": COHORT,
        "max_patients": INPUTS["n"],
        "start_level": INPUTS["x0"],
        "coherence": INPUTS["restrict"],
        "safety_stop_prob": None,  # crmsim has no safety stop
    }


def _patient(i: int, level: int, dlt: int) -> dict[str, Any]:
    """Patient i, infused with its cohort (a day apart), its outcome known within the window."""
    infused = START + dt.timedelta(days=60 * (i // COHORT) + i % COHORT)
    record: dict[str, Any] = {
        "id": f"P{i + 1:02d}",
        "dose_level": level,
        "infused_on": infused.isoformat(),
        "dlt": bool(dlt),
    }
    if dlt:
        record["dlt_on"] = (infused + dt.timedelta(days=10)).isoformat()
    return record


def _before(i: int) -> tuple[Decision, CRM, Any]:
    """The engine's decision on the patients before patient i, the day before its infusion."""
    patients = [
        _patient(k, level, tox)
        for k, (level, tox) in enumerate(zip(TRIAL["level"][:i], TRIAL["tox"][:i], strict=True))
    ]
    as_of = START + dt.timedelta(days=60 * (i // COHORT) - 1) if i else START
    doc = parse_document(
        {
            "design": _design(),
            "doses": [
                {"level": k + 1, "label": f"level {k + 1}"} for k in range(len(INPUTS["prior"]))
            ],
            "dlt_window_days": WINDOW,
            "as_of": as_of.isoformat(),
            "patients": patients,
        }
    )
    assert isinstance(doc.design, CRM)
    return doc.design.decide(doc.data), doc.design, doc.data


def test_the_trial_is_the_s1_run_of_crmsim() -> None:
    assert len(TRIAL["level"]) == len(TRIAL["tox"]) == len(TRIAL["beta.hat"]) == INPUTS["n"]
    assert INPUTS["PI"] == [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]


@pytest.mark.parametrize("i", range(INPUTS["n"]), ids=lambda i: f"patient-{i + 1:02d}")
def test_each_patient_gets_dfcrm_dose_and_estimate(i: int) -> None:
    start = i - i % COHORT  # the first patient of i's cohort: the decision was made before it
    decision, _, _ = _before(start)
    assert decision.action is not Action.STOP
    assert decision.action is not Action.WAIT  # every earlier patient has completed the window
    assert decision.next_level == TRIAL["level"][i]
    assert decision.model is not None
    beta_hat = TRIAL["beta.hat"][i]
    if start == 0:
        # no patient yet: the prior's mean, 0, and the starting dose
        assert decision.model["posterior_mean"] == pytest.approx(0.0, abs=1e-12)
        assert decision.current_level is None
    else:
        assert decision.model["posterior_mean"] == pytest.approx(beta_hat, rel=REL)
        # the action is the move from the previous cohort's dose
        previous = TRIAL["level"][start - 1]
        expected = (
            Action.ESCALATE
            if decision.next_level > previous  # type: ignore[operator]
            else Action.DEESCALATE
            if decision.next_level < previous  # type: ignore[operator]
            else Action.STAY
        )
        assert decision.action is expected


def test_the_cohort_in_progress_waits_for_its_patients() -> None:
    """Between the infusions of a cohort the design waits: the cohort's dose stands."""
    for start in range(COHORT, INPUTS["n"], COHORT):
        patients = [
            _patient(k, TRIAL["level"][k], TRIAL["tox"][k]) for k in range(start + 1)
        ]  # the cohort's first patient infused, still inside the window
        infused = dt.date.fromisoformat(patients[-1]["infused_on"])
        if patients[-1]["dlt"]:
            continue  # a DLT is complete at once
        doc = parse_document(
            {
                "design": _design(),
                "doses": [{"level": k + 1} for k in range(len(INPUTS["prior"]))],
                "dlt_window_days": WINDOW,
                "as_of": infused.isoformat(),
                "patients": patients,
            }
        )
        decision = doc.design.decide(doc.data)
        assert decision.action is Action.WAIT, start


def test_the_final_fit_and_selection_are_dfcrm() -> None:
    decision, design, data = _before(INPUTS["n"])
    assert decision.action is Action.STOP  # 30 patients: the maximum sample size
    assert decision.selection is not None
    assert decision.selection.dose_level == TRIAL["MTD"]
    assert decision.model is not None
    assert decision.model["posterior_mean"] == pytest.approx(TRIAL["final.est"], rel=REL)
    assert decision.model["posterior_var"] == pytest.approx(TRIAL["post.var"], rel=REL)
    estimates = [d.estimate for d in decision.doses]
    np.testing.assert_allclose(estimates, TRIAL["ptox"], rtol=REL, atol=0)
    post = design.posterior(data)  # dfcrm's 90% plug-in bounds
    np.testing.assert_allclose(post.ptox_lower, TRIAL["ptoxL"], rtol=REL, atol=0)
    np.testing.assert_allclose(post.ptox_upper, TRIAL["ptoxU"], rtol=REL, atol=0)


def test_the_replay_can_fail() -> None:
    """Negative control: the same trial with the prior sd rounded to 1.16 departs from dfcrm's
    estimates by more than the tolerance."""
    _, design, data = _before(INPUTS["n"])
    other = CRM(
        n_doses=design.n_doses,
        target=design.target,
        skeleton=design.skeleton,
        prior_sd=1.16,
        safety_stop_prob=None,
        max_patients=design.max_patients,
    )
    fit = other.decide(data).model
    assert fit is not None
    assert abs(fit["posterior_mean"] / TRIAL["final.est"] - 1) > REL
