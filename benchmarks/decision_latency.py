"""Time of one decision for 30 patients, per design (issue: CRM and TITE-CRM under 2 ms).

Prints the median and the 90th percentile over repeated decisions on the same data, with the
posterior alone beside it for the CRM family. Never asserts: timings are reported, not tested.

    .venv/bin/python benchmarks/decision_latency.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from escalation import BOIN, CRM, TITEBOIN, TITECRM, Patient, TrialData

SKELETON = (0.06, 0.12, 0.2, 0.3, 0.4, 0.5)


def thirty_patients(*, pending: bool) -> TrialData:
    """30 patients over 6 levels, cohorts of 3 a week apart; the last ones pending if asked."""
    rng = np.random.default_rng(20261125)
    truth = np.array([0.02, 0.06, 0.12, 0.25, 0.4, 0.55])
    levels = [1, 2, 3, 4, 4, 3, 4, 4, 5, 4]
    patients = []
    for cohort, level in enumerate(levels):
        for k in range(3):
            day = 21 * cohort + 7 * k
            dlt = bool(rng.random() < truth[level - 1])
            patients.append(
                Patient(
                    patient_id=f"P{cohort * 3 + k + 1:03d}",
                    dose_level=level,
                    infused_day=day,
                    dlt=dlt,
                    dlt_day=day + int(rng.integers(1, 30)) if dlt else None,
                )
            )
    last = max(p.infused_day for p in patients)
    as_of = last + (10 if pending else 31)
    patients = [p for p in patients if not (p.dlt and p.dlt_day is not None and p.dlt_day > as_of)]
    return TrialData(n_doses=6, patients=tuple(patients), as_of_day=as_of)


def timeit(fn: Callable[[], object], repeat: int = 300) -> tuple[float, float]:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(0.9 * len(samples))] * 1e3


def main() -> None:
    complete, pending = thirty_patients(pending=False), thirty_patients(pending=True)
    designs = [
        ("boin", BOIN(n_doses=6, target=0.3, max_patients=36), complete),
        ("tite-boin", TITEBOIN(n_doses=6, target=0.3), pending),
        ("crm", CRM(n_doses=6, target=0.3, skeleton=SKELETON, max_patients=36), complete),
        ("tite-crm", TITECRM(n_doses=6, target=0.3, skeleton=SKELETON), pending),
        (
            "tite-crm adaptive",
            TITECRM(n_doses=6, target=0.3, skeleton=SKELETON, weights="adaptive"),
            pending,
        ),
    ]
    print(f"{'design':<20}{'median ms':>12}{'p90 ms':>10}   (one decision, 30 patients)")
    for name, design, data in designs:
        med, p90 = timeit(lambda d=design, x=data: d.decide(x))  # type: ignore[misc]
        print(f"{name:<20}{med:>12.3f}{p90:>10.3f}")
        if isinstance(design, CRM):
            med, p90 = timeit(lambda d=design, x=data: d.posterior(x))  # type: ignore[misc]
            print(f"{'  posterior only':<20}{med:>12.3f}{p90:>10.3f}")


if __name__ == "__main__":
    main()
