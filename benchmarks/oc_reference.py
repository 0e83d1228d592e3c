"""Operating characteristics against the R reference implementations, at 10,000 trials.

* BOIN vs BOIN::get.oc (tests/data/reference/boin_oc.json), every scenario;
* TITE-BOIN vs TITEgBOIN::get_oc_TITE_QuasiBOIN (titeboin_oc.json) under its conduct: Poisson
  arrivals 2 a month, Weibull times to DLT with half of them in the second half of the window,
  patients arriving during a suspension lost; and its TITE=FALSE comparator (plain BOIN);
* CRM vs dfcrm::crmsim (crm_sim.json, 1,000 R trials): empiric model, skeleton and prior as given,
  coherence (``restrict``), no safety stop.

R draws other random numbers, so the comparison is statistical: a selection % or mean number of
patients per level passes when it is within 4 standard errors of the difference between the two
Monte Carlo estimates (pooled proportion for percentages; for means our spread stands for R's);
TITE-BOIN's mean duration must be within 5% of TITEgBOIN's. Prints a PASS/FAIL table and exits
with status 1 when any comparison fails (0 when all pass), so that a script or CI can rely on it.
The test suite runs the same comparisons at fewer trials (tests/simulations/test_reference_oc.py).

Run: ``.venv/bin/python benchmarks/oc_reference.py [--trials N] [--workers W] [--only GROUP]
[--z Z]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from simulations import run_simulation
from simulations.executors import available_cores

REFERENCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference"
Z = 4.0
SEED = 20261125

# (quantity, ours, R's, s.e. of the difference, passes)
Check = tuple[str, float, float, float, bool]
Group = list[tuple[str, list[Check]]]


def pct_check(name: str, ours: float, n: int, theirs: float, n_r: int, z: float = Z) -> Check:
    """Percentages from ``n`` and ``n_r`` trials: within ``z`` s.e. (pooled proportion)."""
    p = (ours * n + theirs * n_r) / (100 * (n + n_r))
    se = 100 * math.sqrt(max(p * (1 - p), 0.0) * (1 / n + 1 / n_r))
    return name, ours, theirs, se, abs(ours - theirs) <= z * se + 1e-9


def mean_check(
    name: str, ours: float, se_ours: float, n: int, theirs: float, n_r: int, z: float = Z
) -> Check:
    """Means from ``n`` and ``n_r`` trials: within ``z`` s.e. (our spread stands for R's)."""
    se = se_ours * math.sqrt(n) * math.sqrt(1 / n + 1 / n_r)
    return name, ours, theirs, se, abs(ours - theirs) <= z * se + 1e-9


def level_checks(
    row: dict[str, Any], sel_r: list[float], np_r: list[float], n_r: int, z: float = Z
) -> list[Check]:
    n = row["trials"]
    out = [
        pct_check(f"selection % L{k + 1}", a, n, b, n_r, z)
        for k, (a, b) in enumerate(zip(row["selection_pct"], sel_r, strict=True))
    ]
    out += [
        mean_check(f"patients L{k + 1}", a, row["se"]["patients_mean"][k], n, b, n_r, z)
        for k, (a, b) in enumerate(zip(row["patients_mean"], np_r, strict=True))
    ]
    return out


def boin(trials: int, workers: int, z: float = Z) -> Group:
    ref = json.loads((REFERENCE / "boin_oc.json").read_text())
    out = []
    for s in ref["scenarios"]:
        i = s["inputs"]
        spec = {
            "design": {
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
            },
            "scenarios": [{"name": s["id"], "true_dlt_probs": i["p.true"]}],
            "trials": trials,
            "seed": SEED,
        }
        row = run_simulation(spec, workers=workers)["results"][0]
        checks = level_checks(row, s["selpercent"], s["npatients"], i["ntrial"], z)
        checks.append(
            pct_check(
                "no dose % (percentstop)",
                row["none_pct"],
                trials,
                s["percentstop"],
                i["ntrial"],
                z,
            )
        )
        out.append((f"BOIN {s['id']} ({row['engine']})", checks))
    return out


def tite_boin(trials: int, workers: int, z: float = Z) -> Group:
    ref = json.loads((REFERENCE / "titeboin_oc.json").read_text())
    i = ref["inputs"]
    conduct = {
        "accrual_per_month": i["accrual_per_day"] * 30,
        "dlt_time": {"distribution": "weibull", "late_onset_share": i["alpha2"]},
        "dlt_window_days": i["maxt_days"],
        "trials": trials,
        "seed": SEED,
    }
    design = {
        "target": i["target"],
        "cohort_size": i["cohortsize"],
        "max_patients": i["max_n"],
        "n_stop": i["n.earlystop"],
        "cutoff": i["cutoff.eli"],
        "phi1": i["p.saf"],
        "phi2": i["p.tox"],
    }
    out = []
    for s in ref["scenarios"]:
        spec = conduct | {
            "design": {"method": "tite-boin", "max_pending": i["maxpen"], **design},
            "scenarios": [{"name": s["id"], "true_dlt_probs": s["p_true"]}],
            "suspended_arrivals": "lost",
        }
        row = run_simulation(spec, workers=workers)["results"][0]
        checks = level_checks(row, s["selpercent"], s["npatients"], i["ntrial"], z)
        checks.append(
            pct_check("no dose %", row["none_pct"], trials, s["percentstop"], i["ntrial"], z)
        )
        rel = row["duration_mean_days"] / s["duration"] - 1
        # the "s.e." column holds the 5% tolerance / Z, so that |z| <= Z is the 5% criterion
        checks.append(
            (
                "mean duration (days), within 5%",
                row["duration_mean_days"],
                s["duration"],
                0.05 * s["duration"] / Z,
                abs(rel) <= 0.05,
            )
        )
        out.append((f"TITE-BOIN {s['id']} ({row['engine']})", checks))
    for s in ref["non_tite_comparator"]:
        spec = conduct | {
            "design": {"method": "boin", **design},
            "scenarios": [{"name": s["id"], "true_dlt_probs": s["p_true"]}],
        }
        row = run_simulation(spec, workers=workers)["results"][0]
        checks = level_checks(row, s["selpercent"], s["npatients"], i["ntrial"], z)
        out.append((f"BOIN {s['id']} ({row['engine']})", checks))
    return out


def crm(trials: int, workers: int, z: float = Z) -> Group:
    ref = json.loads((REFERENCE / "crm_sim.json").read_text())
    out = []
    for run in ref["runs"]:
        i = run["inputs"]
        spec = {
            "design": {
                "method": "crm",
                "target": i["target"],
                "skeleton": i["prior"],
                "model": i["model"],
                "intercept": float(i["intcpt"]),
                "prior_sd": i["scale"],
                "cohort_size": i["mcohort"],
                "max_patients": i["n"],
                "start_level": i["x0"],
                "coherence": i["restrict"],
                "safety_stop_prob": None,
            },
            "scenarios": [{"name": run["scenario"], "true_dlt_probs": i["PI"]}],
            "trials": trials,
            "seed": SEED,
        }
        row = run_simulation(spec, workers=workers)["results"][0]
        sel = [100 * f for f in run["MTD_selection_fraction"]]
        out.append(
            (
                f"CRM {run['id']} ({row['engine']})",
                level_checks(row, sel, run["mean_patients_per_dose"], i["nsim"], z),
            )
        )
    return out


GROUPS: dict[str, Callable[[int, int, float], Group]] = {
    "boin": boin,
    "tite-boin": tite_boin,
    "crm": crm,
}


def report(groups: Sequence[Group], out: TextIO = sys.stdout) -> bool:
    """Print every comparison as a PASS/FAIL table; True when every one passes."""
    all_pass = True
    for group in groups:
        for title, checks in group:
            out.write(f"\n{title}\n")
            if not checks:
                all_pass = False  # a comparison that compared nothing does not pass
                out.write("  no comparison made: FAIL\n")
                continue
            out.write(f"  {'quantity':32} {'ours':>9} {'R':>9} {'s.e.':>7} {'z':>6}  result\n")
            for name, ours, theirs, se, ok in checks:
                z = (ours - theirs) / se if se > 0 else 0.0
                out.write(
                    f"  {name:32} {ours:9.3f} {theirs:9.3f} {se:7.3f} {z:6.2f}  "
                    f"{'PASS' if ok else 'FAIL'}\n"
                )
                all_pass &= ok
    return all_pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the comparisons; the exit status is 0 when all pass, 1 when any fails."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=available_cores())
    parser.add_argument(
        "--only", action="append", choices=sorted(GROUPS), help="run only these comparisons"
    )
    parser.add_argument(
        "--z", type=float, default=Z, help=f"standard errors allowed (default {Z:g})"
    )
    args = parser.parse_args(argv)
    names = args.only or list(GROUPS)
    all_pass = report([GROUPS[name](args.trials, args.workers, args.z) for name in names])
    print(
        f"\nOverall: {'PASS' if all_pass else 'FAIL'} ({args.trials} trials per scenario, "
        f"seed {SEED}, within {args.z:g} s.e.)"
    )
    return 0 if all_pass else 1


if __name__ == "__main__":
    sys.exit(main())
