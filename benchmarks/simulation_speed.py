"""Simulation speed: trials per second of the harness, one worker and all workers.

10,000 trials of BOIN, of CRM and of 3+3 (6 levels, 10 cohorts of 3; 3+3 at most 6 a level), and
the same designs over 100 random (pseudo-uniform) scenarios of 1,000 trials each. "CRM" is the default CRM (safety stop on
Pr(p_1 > target) > 0.90, which needs the posterior's tail probabilities); "CRM-crmsim" switches the
stop off, as dfcrm's ``crmsim`` conducts a trial. "compute" is ``elapsed_s``, the wall time of the
simulation itself as ``run_simulation`` reports it (worker start-up included for several workers);
"cpu" is this process's CPU time (one worker only; the machine may be shared). Each figure is the
best of a few repetitions. Prints a table; asserts nothing.

References for scale: R's BOIN::get.oc takes about 8 s for 10,000 trials and simFastBOIN 0.19 s
(tests/data/reference/simfastboin_timing.json); dfcrm's crmsim about 9 ms a trial
(tests/data/reference/crm_sim.json).

"ratios" (issue 11): the time-to-event designs against their plain counterparts on one and the
same run, 10,000 trials of S1 (6 doses, 10 cohorts of 3) with Weibull DLT times, half of the DLTs
in the second half of the window, and arrivals lost while accrual is suspended (TITEgBOIN's
conduct), one worker, BLAS on one thread; the CPU time per trial and its ratio (targets: TITE-BOIN
at most 5 x BOIN, TITE-CRM at most 5 x CRM, BLRM (grid engine, 2,000 trials; each run computes its
own posteriors) at most 50 x CRM). ``--generic N`` adds the same designs forced onto the
generic engine (per-trial, N trials: the time before the fast engines).

Run: ``.venv/bin/python benchmarks/simulation_speed.py [DESIGN ...] [ratios] [--generic N]``
(default: every design below and the ratios; e.g. ``BOIN 3+3`` for those two only, ``ratios`` for
the ratios only).
"""

from __future__ import annotations

import os

# one core: BLAS products stay on one thread (set before numpy is imported)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import sys
import time
from typing import Any

from simulations import run_simulation
from simulations.executors import available_cores

S1 = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7]
SKELETON = [0.1225, 0.204, 0.3, 0.4018, 0.5013, 0.5928]
DESIGNS: dict[str, dict[str, Any]] = {
    "BOIN": {"method": "boin", "target": 0.3, "cohort_size": 3, "max_patients": 30},
    # the default CRM: safety stop on Pr(p_1 > 0.3) > 0.90 with 3 patients at level 1
    "CRM": {
        "method": "crm",
        "target": 0.3,
        "skeleton": SKELETON,
        "cohort_size": 3,
        "max_patients": 30,
    },
    # dfcrm's crmsim conduct: no safety stop
    "CRM-crmsim": {
        "method": "crm",
        "target": 0.3,
        "skeleton": SKELETON,
        "cohort_size": 3,
        "max_patients": 30,
        "safety_stop_prob": None,
    },
    # the traditional algorithm, as R escalation's get_three_plus_three (target only judges)
    "3+3": {"method": "3+3"},
    "3+3-deesc": {"method": "3+3", "allow_deescalation": True},
}
REPEATS = 3


def measure(spec: dict[str, Any], workers: int) -> tuple[float, float, str]:
    best_wall, best_cpu, engine = float("inf"), float("inf"), ""
    for _ in range(REPEATS):
        cpu = time.process_time()
        out = run_simulation(spec, workers=workers)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, out["elapsed_s"])
        engine = out["results"][0]["engine"]
    return best_wall, best_cpu, engine


#: the time-to-event comparison: TITEgBOIN's conduct, the same for every design
TITE_CONDUCT: dict[str, Any] = {
    "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
    "suspended_arrivals": "lost",
}
#: (name, design block, its reference's name): each design's time per trial against the reference's
RATIOS: list[tuple[str, dict[str, Any], str | None]] = [
    ("BOIN", DESIGNS["BOIN"], None),
    (
        "TITE-BOIN",
        {"method": "tite-boin", "target": 0.3, "cohort_size": 3, "max_patients": 30},
        "BOIN",
    ),
    ("CRM", DESIGNS["CRM"], None),
    ("TITE-CRM", {**DESIGNS["CRM"], "method": "tite-crm"}, "CRM"),
    ("BLRM", {"method": "blrm", "target": 0.3, "cohort_size": 3, "max_patients": 30}, "CRM"),
]
RATIO_TRIALS = 10_000
RATIO_TARGET = 5.0
#: designs run on fewer trials, or held to another target, than RATIO_TRIALS and RATIO_TARGET
RATIO_TRIALS_OF = {"BLRM": 2_000}
RATIO_TARGET_OF = {"BLRM": 50.0}
#: BLRM's dose amounts (cells/kg): the reference dose in the middle of the range on the log scale
DOSE_AMOUNTS = [0.125e6, 0.25e6, 0.5e6, 1e6, 2e6, 4e6]


def ratios(generic_trials: int) -> None:
    """Time per trial of each design of :data:`RATIOS` on one run of the TITE conduct, one worker."""
    print(f"\nratios: S1, {RATIO_TRIALS:,} trials, Weibull DLT times (half late), arrivals lost")
    print(f"{'design':10} {'engine':15} {'trials':>7} {'cpu s':>8} {'us/trial':>10} {'ratio':>22}")
    per_trial: dict[str, float] = {}
    runs = [
        (name, design, ref, "auto", RATIO_TRIALS_OF.get(name, RATIO_TRIALS))
        for name, design, ref in RATIOS
    ]
    if generic_trials:
        runs += [(name, design, None, "generic", generic_trials) for name, design, _ in RATIOS]
    for name, design, ref, engine, trials in runs:
        spec = {
            "design": design | ({"engine": engine} if engine != "auto" else {}),
            "scenarios": [{"name": "S1", "true_dlt_probs": S1}],
            "trials": trials,
            "seed": 1,
            **TITE_CONDUCT,
        }
        if design["method"] == "blrm":
            spec["dose_amounts"] = DOSE_AMOUNTS
        best_cpu, used = float("inf"), ""
        for _ in range(REPEATS if engine == "auto" else 1):
            cpu = time.process_time()
            out = run_simulation(spec, workers=1)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            used = out["results"][0]["engine"]
        us = best_cpu / trials * 1e6
        if engine == "auto":
            per_trial[name] = us
        ratio = ""
        if ref is not None and ref in per_trial:
            r = us / per_trial[ref]
            target = RATIO_TARGET_OF.get(name, RATIO_TARGET)
            ratio = f"{r:5.2f} x {ref} ({'ok' if r <= target else 'over'} <= {target:g})"
        print(f"{name:10} {used:15} {trials:7d} {best_cpu:8.3f} {us:10.1f} {ratio:>22}")


def main() -> None:
    cores = available_cores()
    args = sys.argv[1:]
    generic_trials = 0
    if "--generic" in args:
        at = args.index("--generic")
        generic_trials = int(args[at + 1])
        del args[at : at + 2]
    want_ratios = not args or "ratios" in args
    chosen = [a for a in args if a != "ratios"] or ([] if args else list(DESIGNS))
    unknown = sorted(set(chosen) - set(DESIGNS))
    if unknown:
        sys.exit(f"unknown design(s) {unknown}; known: {', '.join(DESIGNS)}, ratios")
    if chosen:
        plain(chosen, cores)
    if want_ratios:
        ratios(generic_trials)


def plain(chosen: list[str], cores: int) -> None:
    """The designs' speed on S1 and on random scenarios, one worker and every worker."""
    rows = []
    for name in chosen:
        design = DESIGNS[name]
        fixed = {
            "design": design,
            "scenarios": [{"name": "S1", "true_dlt_probs": S1}],
            "trials": 10_000,
            "seed": 1,
        }
        random = {
            "design": design,
            "scenarios": {
                "random": {"generator": "pseudo-uniform", "count": 100, "target": 0.3, "levels": 6}
            },
            "trials": 1_000,
            "seed": 1,
        }
        for label, spec, trials in (
            ("10,000 trials, S1", fixed, 10_000),
            ("100 random x 1,000", random, 100_000),
        ):
            for workers in sorted({1, cores}):
                wall, cpu, engine = measure(spec, workers)
                rows.append(
                    (name, label, workers, engine, trials, wall, cpu if workers == 1 else None)
                )
    header = f"{'design':10} {'run':20} {'workers':>7} {'engine':10} {'trials':>8} {'compute s':>10} {'cpu s':>8} {'trials/s':>12}"
    print(header)
    print("-" * len(header))
    for name, label, workers, engine, trials, wall, cpu in rows:
        cpu_text = f"{cpu:8.3f}" if cpu is not None else f"{'-':>8}"
        print(
            f"{name:10} {label:20} {workers:7d} {engine:10} {trials:8d} {wall:10.3f} {cpu_text} {trials / wall:12,.0f}"
        )
    print()
    one = {r[0]: r for r in rows if r[2] == 1 and r[1].startswith("10,000")}
    boin = one.get("BOIN")
    for name, r in one.items():
        # per trial: compute (wall) and CPU; the ratio on CPU, which a shared machine disturbs less
        cpu = float(r[6] or 0.0)
        vs = (
            f"; CPU {cpu / float(boin[6] or 1.0):.2f} x BOIN's"
            if boin is not None and name != "BOIN"
            else ""
        )
        print(
            f"{name:10} 10,000 trials, one worker, {r[3]}: {r[5] / r[4] * 1e6:.1f} us a trial "
            f"compute, {cpu / r[4] * 1e6:.1f} us CPU{vs}"
        )
    print("targets: BOIN < 0.1 s, CRM < 1 s")


if __name__ == "__main__":
    main()
