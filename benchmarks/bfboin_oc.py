"""BF-BOIN and BOIN operating characteristics against Zhao et al. (2024) Table 4 and R bfboin.

Runs the paper's twelve scenarios (target 0.25, 10 cohorts of 3, n_stop 9, backfill cap 12 per dose,
3 patients a month with uniform accrual, a one-month window, Weibull DLT times) through the
simulation harness -- BF-BOIN on the generic engine, BOIN on the same conduct without backfill -- and
prints, per scenario and design, the correct selection %, the mean sample size and the mean duration
in months: ours with its Monte Carlo s.e., the published value, and R bfboin 0.1.1's (computed with
tests/data/reference/bfboin_oc.R, stored in tests/data/reference/bfboin_oc.json), with
z = (ours - reference) / s.e. (the s.e. of both where R's is known; the published values are
rounded to 0.1, which adds up to 0.05).

The sample size counts as bfboin does: patients treated, less the backfill patients still inside
their window when the last escalation outcome is known (they are not in the final analysis).

Usage::

    python benchmarks/bfboin_oc.py [--trials 2000] [--scenarios 1,2,3] [--cap 12] [--seed 2024]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from simulations.runner import run_simulation

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"
DAYS_PER_MONTH = 30.0


def spec(
    scenario: dict[str, Any], *, backfill: bool, trials: int, seed: int, cap: int
) -> dict[str, Any]:
    """The harness's spec for one scenario and design (the paper's settings)."""
    design: dict[str, Any] = {
        "name": "BF-BOIN" if backfill else "BOIN",
        "method": "boin",
        "target": 0.25,
        "cohort_size": 3,
        "max_patients": 30,
        "n_stop": 9,
    }
    if backfill:
        design["backfill"] = {"max_per_dose": cap, "min_responses": 1, "assign": "highest"}
    return {
        "designs": [design],
        "scenarios": [scenario],
        "accrual_per_month": 3,
        "accrual": "uniform",
        "dlt_window_days": 30,
        "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
        "suspended_arrivals": "lost",
        "decision_timing": "complete",
        "trials": trials,
        "seed": seed,
    }


def ours(result: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """Correct selection %, mean sample size (as bfboin counts it) and mean duration in months."""
    se = result["se"]
    n, n_se = result["n_mean"], se["n_mean"]
    if result.get("backfill_unevaluated_mean") is not None:
        # bfboin's sample size: the backfill patients pending at the end are not counted; the
        # s.e. of the difference is at most the sum of the two (a conservative bound)
        n -= result["backfill_unevaluated_mean"]
        n_se += se["backfill_unevaluated_mean"]
    return {
        "correct_selection_pct": (result["correct_selection_pct"], se["correct_selection_pct"]),
        "n_mean": (n, n_se),
        "duration_months": (
            result["duration_mean_days"] / DAYS_PER_MONTH,
            se["duration_mean_days"] / DAYS_PER_MONTH,
        ),
    }


_R_KEYS = {
    "correct_selection_pct": ("correct_pct", "correct_se"),
    "n_mean": ("n_mean", "n_se"),
    "duration_months": ("duration_months", "duration_se"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--scenarios", default="1,2,3,4,5,6,7,8,9,10,11,12")
    parser.add_argument("--cap", type=int, default=12, help="backfill max_per_dose")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the fast engine's note that backfill runs on the generic one
    paper = json.loads((REFERENCE / "bfboin_table4.json").read_text())
    r_path = REFERENCE / "bfboin_oc.json"
    r_ref = json.loads(r_path.read_text())["results"] if r_path.exists() else {}
    print(
        f"{'scenario':<9}{'design':<9}{'statistic':<23}{'ours':>8}{'s.e.':>7}"
        f"{'paper':>8}{'z':>6}{'R bfboin':>10}{'s.e.':>7}{'z':>6}"
    )
    for k in (int(x) for x in args.scenarios.split(",")):
        scenario = paper["scenarios"][k - 1]
        for backfill in (True, False):
            name = "BF-BOIN" if backfill else "BOIN"
            started = time.perf_counter()
            result = run_simulation(
                spec(scenario, backfill=backfill, trials=args.trials, seed=args.seed, cap=args.cap)
            )["results"][0]
            elapsed = time.perf_counter() - started
            published = paper["table4"][f"S{k}"][name]
            # BOIN's scenarios 6 to 12 repeat 2 to 5 (the same DLT probabilities)
            same = k if backfill else {6: 2, 7: 3, 8: 4, 9: 5, 10: 3, 11: 4, 12: 5}.get(k, k)
            rr = r_ref.get(f"S{same}_{name}")
            for stat, (value, se) in ours(result).items():
                ref = published[stat]
                z = (value - ref) / math.hypot(se, 0.05 / 2)
                line = f"S{k:<8}{name:<9}{stat:<23}{value:8.2f}{se:7.2f}{ref:8.1f}{z:6.1f}"
                if rr is not None:
                    rv, rse = (float(rr[_R_KEYS[stat][0]]), float(rr[_R_KEYS[stat][1]]))
                    line += f"{rv:10.2f}{rse:7.2f}{(value - rv) / math.hypot(se, rse):6.1f}"
                print(line)
            print(f"{'':9}{name:<9}({args.trials} trials in {elapsed:.0f} s)")


if __name__ == "__main__":
    main()
