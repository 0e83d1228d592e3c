"""Time of a BLRM decision (issue 6: grid under 50 ms for 30 patients; PyMC 4 x 1000 under 5 s
once compiled).

Prints, never asserts:

* the grid engine: one decision for 30 patients with an empty posterior cache (median and 90th
  percentile), the same decision when the posterior is memoized, a TITE decision with pending
  patients, and the batch path per distinct trial state;
* the MCMC engine: the first decision of the process (import, model build, compilation and
  sampling), then decisions on other data (4 chains x 1000 draws after 500 tuning steps), in
  one process and with two processes, wall and CPU time, with the diagnostics.

    .venv/bin/python benchmarks/blrm_latency.py            # PyTensor's compile cache as it is
    .venv/bin/python benchmarks/blrm_latency.py --cold     # a fresh, empty compile cache
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="compile into an empty cache")
    parser.add_argument("--repeats", type=int, default=50, help="grid repetitions")
    parser.add_argument("--skip-mcmc", action="store_true")
    args = parser.parse_args()
    if args.cold:  # before PyTensor is imported anywhere
        compiledir = tempfile.mkdtemp(prefix="pytensor-cold-")
        os.environ["PYTENSOR_FLAGS"] = f"compiledir={compiledir}"
        print(f"PyTensor compile cache: {compiledir} (empty)")

    import numpy as np

    from escalation import Patient, TrialData
    from escalation.designs.blrm import BLRM
    from escalation.errors import ConvergenceWarning
    from escalation.models import blrm as blrm_model
    from escalation.models.blrm import grid as blrm_grid

    amounts = (0.125e6, 0.25e6, 0.5e6, 1.0e6, 2.0e6, 4.0e6)

    def thirty_patients(*, pending: bool, seed: int = 20261125) -> TrialData:
        """30 patients over 6 levels, cohorts of 3 a week apart; the last pending if asked."""
        rng = np.random.default_rng(seed)
        truth = np.array([0.02, 0.06, 0.12, 0.25, 0.4, 0.55])
        levels = [1, 2, 3, 4, 4, 3, 4, 4, 5, 4]
        as_of = 21 * (len(levels) - 1) + 14 + (10 if pending else 30)
        patients = []
        for cohort, level in enumerate(levels):
            for k in range(3):
                day = 21 * cohort + 7 * k
                dlt_day = day + int(rng.integers(1, 30))
                dlt = bool(rng.random() < truth[level - 1]) and dlt_day <= as_of
                patients.append(
                    Patient(
                        patient_id=f"P{cohort * 3 + k + 1:03d}",
                        dose_level=level,
                        infused_day=day,
                        dlt=dlt,
                        dlt_day=dlt_day if dlt else None,
                    )
                )
        return TrialData(n_doses=6, patients=tuple(patients), as_of_day=as_of)

    def timed(fn, repeats: int, clear: bool) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for _ in range(repeats):
            if clear:
                blrm_grid._grid_cached.cache_clear()
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return out

    def report(name: str, times: list[float]) -> None:
        times = sorted(times)
        p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
        print(
            f"{name:58s} median {1e3 * statistics.median(times):7.2f} ms   p90 {1e3 * p90:7.2f} ms"
        )

    complete = thirty_patients(pending=False)
    pending = thirty_patients(pending=True)
    grid = BLRM(n_doses=6, target=0.25, dose_amounts=amounts, max_patients=36)
    tite = BLRM(n_doses=6, target=0.25, dose_amounts=amounts, max_patients=36, tite_weights=True)
    decision = grid.decide(complete)  # warm imports
    print(
        f"grid, 30 complete patients: {decision.action.value} {decision.next_level}; "
        f"grid {decision.diagnostics['posterior']['grid_nodes']}, "
        f"{decision.diagnostics['posterior']['grid_passes']} pass(es)"
    )
    report(
        "grid decision, 30 patients, posterior computed",
        timed(lambda: grid.decide(complete), args.repeats, True),
    )
    report(
        "grid decision, 30 patients, posterior memoized",
        timed(lambda: grid.decide(complete), args.repeats, False),
    )
    report(
        "grid TITE decision, 30 patients (some pending)",
        timed(lambda: tite.decide(pending), args.repeats, True),
    )

    rng = np.random.default_rng(7)
    n = rng.integers(0, 10, size=(1000, 6))
    y = rng.binomial(n, 0.2)
    blrm_grid._grid_cached.cache_clear()
    start = time.perf_counter()
    blrm_model.blrm_posterior_batch(
        amounts,
        reference_dose=amounts[-1],
        prior=blrm_model.BLRMPrior.weakly_informative(0.25),
        n_at_dose=n,
        dlt_at_dose=y,
    )
    elapsed = time.perf_counter() - start
    distinct = len({(tuple(a), tuple(b)) for a, b in zip(n.tolist(), y.tolist(), strict=True)})
    print(
        f"grid batch: 1000 random states ({distinct} distinct) in {elapsed:.2f} s, "
        f"{1e3 * elapsed / distinct:.2f} ms per distinct state"
    )
    if args.skip_mcmc:
        return

    def mcmc_decision(design: BLRM, data: TrialData, label: str) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("always", ConvergenceWarning)
            d = design.decide(data)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        post = d.diagnostics["posterior"]
        print(
            f"{label:58s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  | R-hat max "
            f"{max(post['rhat'].values()):.4f}, ESS bulk min {min(post['ess_bulk'].values()):.0f}, "
            f"tail min {min(post['ess_tail'].values()):.0f}, divergences {post['divergences']}, "
            f"final {d.diagnostics['final']}"
        )

    mcmc = BLRM(n_doses=6, target=0.25, dose_amounts=amounts, max_patients=36, engine="mcmc")
    mcmc_decision(mcmc, complete, "mcmc first decision (import + build + compile + sample)")
    info = blrm_model.mcmc_model_cache_info()
    print(f"   of which model build and compilation: {info['build_seconds']:.2f} s")
    for seed in (1, 2, 3):
        other = thirty_patients(pending=False, seed=seed)
        mcmc_decision(mcmc, other, f"mcmc decision on other data (seed {seed}), 1 process")
    print(f"   model built once: {blrm_model.mcmc_model_cache_info()}")
    if (os.cpu_count() or 1) > 1:
        for seed in (4, 5):
            other = thirty_patients(pending=False, seed=seed)
            problem = mcmc._statistics(other)
            wall = time.perf_counter()
            post = blrm_model.blrm_posterior(
                amounts,
                reference_dose=amounts[-1],
                prior=mcmc._prior,
                n_at_dose=problem.n_complete,
                dlt_at_dose=problem.n_dlt,
                engine="mcmc",
                seed=seed,
                cores=2,
            )
            print(
                f"{'mcmc posterior on other data, 4 chains in 2 processes':58s} wall "
                f"{time.perf_counter() - wall:6.2f} s  | converged {post.converged}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
