"""TITE-BOIN's operating characteristics against R's TITEgBOIN::get_oc_TITE_QuasiBOIN
(tests/data/reference/titeboin_oc.json, 10,000 R trials).

Under TITEgBOIN's conduct: Poisson arrivals, 2 a month; Weibull times to DLT with half of the DLTs
in the second half of the 30-day window; a patient who arrives while accrual is suspended is lost.
R draws other random numbers, so the comparison is a two-sample z-test at 4 standard errors of the
difference for every selection % per level (pooled proportion), mean patients per level (our
spread standing for R's) and the mean trial duration (R reports its standard deviation). The trials
run on the fast TITE-BOIN engine (simulations/engines/tite_boin.py, trial for trial the generic
engine's), so 10,000 of them take about a second: the standard error of a difference is at most 0.7
points of selection %, 0.06 patients per level and 1.1 days of duration, and a design that is off
by a couple of percent fails. At 10,000 trials (benchmarks/oc_reference.py --only tite-boin) every
|z| was below 1.1 but the duration's, 2.2 (527.6 against 530.0 days).
The negative control shows the test has the power to fail: the same TITE-BOIN results are told
apart from R's plain BOIN under the same conduct (TITEgBOIN with TITE = FALSE), which waits for
complete follow-up and lasts about 70 days longer.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulations import run_simulation
from tests.reference import load

TRIALS = 10_000
Z = 4.0
SEED = 20261206
REFERENCE = load("titeboin_oc.json")
INPUTS = REFERENCE["inputs"]


def spec_for(scenario: dict[str, Any], method: str) -> dict[str, Any]:
    design = {
        "method": method,
        "target": INPUTS["target"],
        "cohort_size": INPUTS["cohortsize"],
        "max_patients": INPUTS["max_n"],
        "n_stop": INPUTS["n.earlystop"],
        "cutoff": INPUTS["cutoff.eli"],
        "phi1": INPUTS["p.saf"],
        "phi2": INPUTS["p.tox"],
    }
    spec = {
        "design": design | ({"max_pending": INPUTS["maxpen"]} if method == "tite-boin" else {}),
        "scenarios": [{"name": scenario["id"], "true_dlt_probs": scenario["p_true"]}],
        "accrual_per_month": INPUTS["accrual_per_day"] * 30,
        "dlt_time": {"distribution": "weibull", "late_onset_share": INPUTS["alpha2"]},
        "dlt_window_days": INPUTS["maxt_days"],
        "trials": TRIALS,
        "seed": SEED,
    }
    if method == "tite-boin":
        spec["suspended_arrivals"] = "lost"
    return spec


def discrepancies(
    reference: dict[str, Any], row: dict[str, Any], *, duration: bool = True
) -> list[str]:
    """Every compared quantity further than Z standard errors of the difference from R's."""
    n_r, n = INPUTS["ntrial"], row["trials"]
    bad = []

    def pct(name: str, ours: float, theirs: float) -> None:
        p = (ours * n + theirs * n_r) / (100 * (n + n_r))
        se = 100 * math.sqrt(max(p * (1 - p), 0.0) * (1 / n + 1 / n_r))
        if abs(ours - theirs) > Z * se + 1e-9:
            bad.append(f"{name}: {ours:.2f} vs R {theirs:.2f} (s.e. {se:.2f})")

    for k, (ours, theirs) in enumerate(
        zip(row["selection_pct"], reference["selpercent"], strict=True)
    ):
        pct(f"selection % L{k + 1}", ours, theirs)
    pct("no dose %", row["none_pct"], reference["percentstop"])
    for k, (ours, theirs) in enumerate(
        zip(row["patients_mean"], reference["npatients"], strict=True)
    ):
        sd = row["se"]["patients_mean"][k] * math.sqrt(n)
        se = sd * math.sqrt(1 / n + 1 / n_r)
        if abs(ours - theirs) > Z * se + 1e-9:
            bad.append(f"patients L{k + 1}: {ours:.3f} vs R {theirs:.3f} (s.e. {se:.3f})")
    if duration:
        ours, theirs = row["duration_mean_days"], reference["duration"]
        se = math.sqrt(row["se"]["duration_mean_days"] ** 2 + reference["sdduration"] ** 2 / n_r)
        if abs(ours - theirs) > Z * se:
            bad.append(f"duration: {ours:.1f} vs R {theirs:.1f} days (s.e. {se:.2f})")
    return bad


@pytest.fixture(scope="module")
def tite_rows() -> list[dict[str, Any]]:
    return [run_simulation(spec_for(s, "tite-boin"))["results"][0] for s in REFERENCE["scenarios"]]


@pytest.mark.slow
def test_tite_boin_agrees_with_titegboin(tite_rows: list[dict[str, Any]]) -> None:
    for scenario, row in zip(REFERENCE["scenarios"], tite_rows, strict=True):
        assert row["trials"] == TRIALS
        assert row["engine"] == "fast-tite-boin"
        assert discrepancies(scenario, row) == [], scenario["id"]


@pytest.mark.slow
def test_boin_under_the_same_conduct_agrees_with_titegboin_without_tite() -> None:
    """TITEgBOIN's TITE = FALSE comparator: plain BOIN waiting for complete follow-up."""
    for scenario in REFERENCE["non_tite_comparator"]:
        row = run_simulation(spec_for(scenario, "boin"))["results"][0]
        assert discrepancies(scenario, row, duration=False) == [], scenario["id"]


@pytest.mark.slow
def test_the_comparison_can_fail(tite_rows: list[dict[str, Any]]) -> None:
    """Negative control: TITE-BOIN's results against R's plain BOIN fail, on the duration and on
    the patients per level, although the two designs select much alike."""
    comparator = {s["id"].split("_")[0]: s for s in REFERENCE["non_tite_comparator"]}
    failures = [
        d
        for scenario, row in zip(REFERENCE["scenarios"], tite_rows, strict=True)
        for d in discrepancies(comparator[scenario["id"]], row)
    ]
    assert any(d.startswith("duration") for d in failures), failures
    assert any(d.startswith("patients") for d in failures), failures
