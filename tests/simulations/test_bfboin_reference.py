"""BF-BOIN's and BOIN's operating characteristics against R bfboin and Zhao et al. (2024) Table 4.

A small, fast version of benchmarks/bfboin_oc.py. The references (tests/data/reference/):
``bfboin_oc.json``, R bfboin 0.1.1's simulation of the paper's settings (2000 trials per scenario,
with Monte Carlo s.e.; the R script beside it), and ``bfboin_table4.json``, the published Table 4
(rounded to 0.1; no s.e. given). Ours must lie within 4 combined s.e. of R bfboin, and within 4 s.e.
(+ the 0.05 of rounding) of the published values where R bfboin also reproduces them (scenarios 1
and 2; the published BOIN rows of scenarios 3 to 5 are not reproduced by R's BOIN either -- see
docs/design.md).

Known small differences, inside the tolerance: this harness counts whole days (each cohort after
the first starts, and the trial ends, about half a day earlier than on bfboin's continuous clock:
-0.13 month over scenario 5's 8.7 cohorts at 20,000 trials; see benchmarks/bfboin_oc.py), and it
closes a level at ``max_per_dose`` = 12 patients where bfboin's ``<= n.cap`` admits a 13th.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest

from simulations.runner import run_simulation

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
R_BFBOIN = json.loads((REFERENCE / "bfboin_oc.json").read_text())["results"]
PAPER = json.loads((REFERENCE / "bfboin_table4.json").read_text())
_R_KEYS = {
    "correct_selection_pct": ("correct_pct", "correct_se"),
    "n_mean": ("n_mean", "n_se"),
    "duration_months": ("duration_months", "duration_se"),
}


def _spec(k: int, *, backfill: bool, trials: int) -> dict[str, Any]:
    design: dict[str, Any] = {
        "name": "BF-BOIN" if backfill else "BOIN",
        "method": "boin",
        "target": 0.25,
        "cohort_size": 3,
        "max_patients": 30,
        "n_stop": 9,
    }
    if backfill:
        design["backfill"] = {"max_per_dose": 12, "min_responses": 1, "assign": "highest"}
    return {
        "designs": [design],
        "scenarios": [PAPER["scenarios"][k - 1]],
        "accrual_per_month": 3,
        "accrual": "uniform",
        "dlt_window_days": 30,
        "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
        "suspended_arrivals": "lost",
        "decision_timing": "complete",
        "trials": trials,
        "seed": 12,
    }


def _ours(k: int, *, backfill: bool, trials: int) -> dict[str, tuple[float, float]]:
    """Correct selection %, sample size as bfboin counts it, duration in months; with s.e."""
    logging.disable(logging.WARNING)
    try:
        r = run_simulation(_spec(k, backfill=backfill, trials=trials))["results"][0]
    finally:
        logging.disable(logging.NOTSET)
    se = r["se"]
    n, n_se = r["n_mean"], se["n_mean"]
    if backfill:
        assert r["escalation_mean"] + r["backfill_mean"] == pytest.approx(r["n_mean"])
        assert r["backfill_mean"] > 0
        n -= r["backfill_unevaluated_mean"]
        n_se += se["backfill_unevaluated_mean"]
    return {
        "correct_selection_pct": (r["correct_selection_pct"], se["correct_selection_pct"]),
        "n_mean": (n, n_se),
        "duration_months": (r["duration_mean_days"] / 30, se["duration_mean_days"] / 30),
    }


def _check(k: int, name: str, ours: dict[str, tuple[float, float]], *, paper: bool) -> None:
    r = R_BFBOIN[f"S{k}_{name}"]
    for stat, (value, se) in ours.items():
        rv, rse = float(r[_R_KEYS[stat][0]]), float(r[_R_KEYS[stat][1]])
        assert abs(value - rv) <= 4 * math.hypot(se, rse), (k, name, stat, value, rv)
        if paper:
            published = PAPER["table4"][f"S{k}"][name][stat]
            assert abs(value - published) <= 4 * se + 0.05, (k, name, stat, value, published)


@pytest.mark.slow
@pytest.mark.parametrize("k", [2, 4])
def test_bf_boin_agrees_with_r_bfboin_and_the_paper(k: int) -> None:
    _check(k, "BF-BOIN", _ours(k, backfill=True, trials=200), paper=True)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_boin_on_the_same_conduct_agrees_with_r_bfboin(k: int) -> None:
    """BOIN (the fast engine) with bfboin's conduct: arrivals during a pending cohort are lost."""
    _check(k, "BOIN", _ours(k, backfill=False, trials=4000), paper=k <= 2)


def test_the_paper_s_boin_rows_3_to_5_differ_from_r_bfboin() -> None:
    """Recorded, not hidden: Table 4's BOIN sample sizes for scenarios 3 to 5 are about one
    patient below what R bfboin's (and this harness's) BOIN gives on the stated settings."""
    for k in (3, 4, 5):
        r = R_BFBOIN[f"S{k}_BOIN"]
        published = PAPER["table4"][f"S{k}"]["BOIN"]["n_mean"]
        assert float(r["n_mean"]) - published > 4 * float(r["n_se"])
