"""A random-scenario sweep on one core: BOIN, CRM (and 3+3 where the engine has it) against the
optimal benchmark over Liu & Yuan's random scenarios.

The issue's acceptance run: 1,000 Liu-Yuan scenarios (mu 0.53, sigma0 0.05, sigma 0.35), 5 dose
levels, target 0.3, cohorts of 3, at most 30 patients, 1,000 trials per scenario, one worker.
Prints the averages over the scenarios (every metric is defined in the README, "Simulations:
metrics") and the wall time; asserts nothing.

Run: ``.venv/bin/python benchmarks/random_sweep.py [--scenarios 1000] [--trials 1000] [--mu 0.53]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import escalation
from simulations import run_simulation

TARGET = 0.3
LEVELS = 5
#: dfcrm::getprior(halfwidth 0.05, target 0.3, prior MTD level 3, 5 levels): `escalation skeleton`
SKELETON = [0.1225, 0.204, 0.3, 0.4018, 0.5013]
COMMON = {"target": TARGET, "cohort_size": 3, "max_patients": 30}
COLUMNS = (
    ("correct_selection_pct", "Correct %"),
    ("benchmark_correct_pct", "Benchmark %"),
    ("none_pct", "None %"),
    ("stop_safety_pct", "Safety stop %"),
    ("above_mtd_pct", "Above MTD %"),
    ("dlt_rate_pct", "DLT rate %"),
    ("overdose60_pct", "Overdose60 %"),
    ("overdose80_pct", "Overdose80 %"),
    ("poor_allocation_pct", "Poor alloc. %"),
    ("high_toxicity_pct", "High tox. %"),
    ("n_mean", "Mean n"),
)


def designs() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"name": "BOIN", "method": "boin", **COMMON},
        {"name": "CRM", "method": "crm", "skeleton": SKELETON, **COMMON},
    ]
    if "3+3" in escalation.DESIGNS:  # the 3+3 design, once it exists
        out.append({"name": "3+3", "method": "3+3", "cohort_size": 3, "max_patients": 30})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--mu", type=float, default=0.53)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    spec = {
        "name": f"Liu-Yuan random sweep (mu {args.mu})",
        "designs": designs(),
        "scenarios": {
            "random": {
                "generator": "liu-yuan",
                "count": args.scenarios,
                "target": TARGET,
                "levels": LEVELS,
                "mu": args.mu,
            }
        },
        "trials": args.trials,
        "seed": args.seed,
    }
    start = time.perf_counter()
    cpu = time.process_time()
    out = run_simulation(spec, workers=1)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    engines = {r["design"]: r["engine"] for r in out["results"]}
    print(
        f"{args.scenarios} Liu-Yuan scenarios (mu {args.mu}, {LEVELS} levels, target {TARGET}), "
        f"{args.trials} trials each, cohorts of 3, N 30, seed {args.seed}, one worker"
    )
    header = ["Design", "Engine", *(h for _, h in COLUMNS)]
    rows = [
        [r["design"], engines[r["design"]]]
        + ["-" if r[k] is None else f"{r[k]:.1f}" for k, _ in COLUMNS]
        for r in out["summary"]
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    for line in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
    print(
        f"wall time {wall:.1f} s (compute {out['elapsed_s']:.1f} s, scenario generation and "
        f"parsing included in wall; cpu {cpu:.1f} s)"
    )


if __name__ == "__main__":
    main()
