"""BOIN's operating characteristics against R's BOIN::get.oc (tests/data/reference/boin_oc.json).

R draws other random numbers, so the comparison is statistical: every selection % and mean number
of patients per level must be within 4 standard errors of the difference between the two Monte
Carlo estimates (R's 10,000 trials, 4,000 here). The negative control shows the check has the power
to fail: the same comparison rejects a BOIN with another target.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulations import run_simulation
from tests.reference import load

TRIALS = 4000
Z = 4.0


def reference() -> list[dict[str, Any]]:
    return list(load("boin_oc.json")["scenarios"])


def spec_for(scenario: dict[str, Any], **design: Any) -> dict[str, Any]:
    i = scenario["inputs"]
    block = {
        "method": "boin",
        "target": i["target"],
        "cohort_size": i["cohortsize"],
        "max_patients": i["ncohort"] * i["cohortsize"],
        "n_stop": i["n.earlystop"],
        "cutoff": i["cutoff.eli"],
        "extra_safe": i["extrasafe"],
        "offset": i["offset"],
        "bound_mtd": i["boundMTD"],
        "phi1": i["p.saf"],
        "phi2": i["p.tox"],
    }
    return {
        "design": block | design,
        "scenarios": [{"name": scenario["id"], "true_dlt_probs": i["p.true"]}],
        "trials": TRIALS,
        "seed": 20261125,
    }


def discrepancies(scenario: dict[str, Any], row: dict[str, Any]) -> list[str]:
    """Every per-level selection % and mean patients further than Z s.e. of the difference."""
    n_r = scenario["inputs"]["ntrial"]
    n = row["trials"]
    bad = []
    for k, (ours, theirs) in enumerate(
        zip(row["selection_pct"], scenario["selpercent"], strict=True)
    ):
        p = (ours * n + theirs * n_r) / (100 * (n + n_r))  # pooled proportion
        se = 100 * math.sqrt(p * (1 - p) * (1 / n + 1 / n_r))
        if abs(ours - theirs) > Z * se + 1e-9:
            bad.append(f"selection L{k + 1}: {ours:.2f} vs R {theirs:.2f} (s.e. {se:.2f})")
    for k, (ours, theirs) in enumerate(
        zip(row["patients_mean"], scenario["npatients"], strict=True)
    ):
        sd = row["se"]["patients_mean"][k] * math.sqrt(n)  # R's spread taken as ours
        se = sd * math.sqrt(1 / n + 1 / n_r)
        if abs(ours - theirs) > Z * se + 1e-9:
            bad.append(f"patients L{k + 1}: {ours:.3f} vs R {theirs:.3f} (s.e. {se:.3f})")
    return bad


@pytest.mark.parametrize("scenario", reference(), ids=lambda s: s["id"])
def test_boin_agrees_with_r_get_oc(scenario: dict[str, Any]) -> None:
    row = run_simulation(spec_for(scenario))["results"][0]
    assert row["engine"] == "fast-boin"
    assert discrepancies(scenario, row) == []
    # R's percentstop: trials stopped for toxicity at the lowest dose, no MTD
    n_r = scenario["inputs"]["ntrial"]
    p = (row["none_pct"] * TRIALS + scenario["percentstop"] * n_r) / (100 * (TRIALS + n_r))
    assert (
        abs(row["none_pct"] - scenario["percentstop"])
        <= Z * 100 * math.sqrt(p * (1 - p) * (1 / TRIALS + 1 / n_r)) + 1e-9
    )


def test_the_comparison_can_fail() -> None:
    """Negative control: a BOIN targeting 0.25 is told apart from R's target-0.3 BOIN."""
    failures = [
        d
        for s in reference()
        for d in discrepancies(
            s, run_simulation(spec_for(s, target=0.25, phi1=0.15, phi2=0.35))["results"][0]
        )
    ]
    assert len(failures) >= 3, failures
