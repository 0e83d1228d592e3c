"""Timing of the exact CRM posterior: one decision, and the batch used by the simulation harness.

The batch is timed with and without ``target`` (Pr(p_d > target) per dose, which the simulation
harness needs for CRM's safety stop and overdose control).

Prints, never asserts. Run with ``python benchmarks/crm_posterior_speed.py``. The BLAS library
runs one thread unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) says otherwise: the
simulation harness runs one worker per core, and threaded BLAS on the small matrix products here
mostly waits on itself.

Reported times are the best of several repeats (the least disturbed by other processes) and the
median.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from escalation.models.crm import crm_posterior, crm_posterior_batch
from escalation.models.skeleton import calibrate_skeleton

SKELETON = calibrate_skeleton(0.05, 0.3, 3, 6)
TRUE_TOX = np.array([0.05, 0.12, 0.25, 0.40, 0.55, 0.70])
TARGET = 0.3


def timed(fn: Callable[[], object], *, number: int, repeat: int) -> tuple[float, float]:
    """Best and median seconds per call."""
    fn()
    per_call = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        per_call.append((time.perf_counter() - start) / number)
    return min(per_call), statistics.median(per_call)


def single_decisions(rng: np.random.Generator) -> None:
    print("single decision, 30 patients over 6 doses (crm_posterior, all outputs)")
    dose = np.repeat(np.arange(5), 6)
    dlt = rng.random(30) < TRUE_TOX[dose]
    weight = np.where(rng.random(30) < 0.3, rng.random(30), 1.0)
    for model in ("empiric", "logistic"):
        for label, w in (("CRM", None), ("TITE-CRM", weight)):

            def call(model: str = model, w: np.ndarray | None = w) -> object:
                return crm_posterior(SKELETON, dose, dlt, w, target=TARGET, model=model)

            best, median = timed(call, number=50, repeat=15)
            print(
                f"  {model:8s} {label:8s}  best {best * 1e3:6.3f} ms   median {median * 1e3:6.3f} ms"
            )


def distinct_batch(rng: np.random.Generator, n_trials: int) -> None:
    print(f"\nbatch, {n_trials} trials x 6 doses, 30 patients each, (nearly) all distinct")
    n = rng.multinomial(30, np.full(6, 1 / 6), size=n_trials)
    y = rng.binomial(n, TRUE_TOX)
    n_unique = np.unique(np.concatenate([n, y], axis=1), axis=0).shape[0]
    for model in ("empiric", "logistic"):
        for target in (None, TARGET):

            def call(model: str = model, target: float | None = target) -> object:
                return crm_posterior_batch(SKELETON, n, y, model=model, target=target)

            best, median = timed(call, number=1, repeat=10)
            outputs = "+ prob_overdose" if target is not None else "mean, var, ptox"
            print(
                f"  {model:8s} {outputs:15s} {n_unique} distinct   best {best * 1e3:6.2f} ms   "
                f"median {median * 1e3:6.2f} ms"
            )


def simulated_trials(seed: int, n_trials: int, repeat: int = 3) -> None:
    """A group CRM (cohorts of 3 to 30 patients, no skipping) run for all trials at once.

    The same trials are run ``repeat`` times; each step's time is the best of the repeats.
    """
    print(f"\nsimulated group CRM, {n_trials} trials, cohorts of 3 up to 30 patients")
    n_doses = SKELETON.size
    for model, target in (
        ("empiric", None),
        ("empiric", TARGET),
        ("logistic", None),
        ("logistic", TARGET),
    ):
        best: list[float] = []
        distinct: list[int] = []
        for _ in range(repeat):
            rng = np.random.default_rng(seed)
            n = np.zeros((n_trials, n_doses), dtype=np.int64)
            y = np.zeros((n_trials, n_doses), dtype=np.int64)
            current = np.zeros(n_trials, dtype=np.int64)
            rows = np.arange(n_trials)
            times = []
            distinct = []
            for _ in range(10):
                n[rows, current] += 3
                y[rows, current] += rng.binomial(3, TRUE_TOX[current])
                start = time.perf_counter()
                batch = crm_posterior_batch(SKELETON, n, y, model=model, target=target)
                times.append(time.perf_counter() - start)
                distinct.append(np.unique(np.concatenate([n, y], axis=1), axis=0).shape[0])
                current = np.minimum(batch.mtd_index(TARGET), current + 1)
            best = times if not best else [min(a, b) for a, b in zip(best, times, strict=True)]
        selected = np.bincount(current, minlength=n_doses) / n_trials
        outputs = "with prob_overdose" if target is not None else "mean, var, ptox"
        print(
            f"  {model} ({outputs}): {sum(best) * 1e3:.1f} ms for all 10 decisions of every trial"
        )
        steps = [
            f"n={3 * (k + 1)}: {t * 1e3:.1f} ms ({u} distinct)"
            for k, (t, u) in enumerate(zip(best, distinct, strict=True))
        ]
        print("    " + "; ".join(steps))
        print(f"    selection {np.round(selected, 3).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, cpus={os.cpu_count()}")
    single_decisions(rng)
    distinct_batch(rng, args.trials)
    simulated_trials(args.seed, args.trials)


if __name__ == "__main__":
    main()
