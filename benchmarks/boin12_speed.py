"""BOIN12 simulation speed: 10,000 trials on one core, fast engine against the generic engine.

The paper's design (target 0.35, efficacy target 0.25, utilities 100/40/60/0, n* = 6, cohorts of 3,
30 patients, n_stop 12) on a five-level scenario. "engine" is the fast engine's own time on a block
of 10,000 trials (patients drawn beforehand); "run_simulation" the harness's compute time for the
same number of trials (patients, benchmarks and summaries included, one worker); "cpu" is this
process's CPU time (the machine may be shared: wall time then overstates); "generic" the
generic engine's time per trial, times 10,000. Each figure is the best of a few repetitions.
Prints a table; asserts nothing.

Run: ``.venv/bin/python benchmarks/boin12_speed.py``
"""

from __future__ import annotations

import time

import numpy as np

from escalation import BOIN12
from simulations import Conduct, GenericEngine, PatientBlock, run_simulation
from simulations.engines import BOIN12Engine
from simulations.engines.base import Efficacy

PT = [0.05, 0.10, 0.15, 0.30, 0.45]
PE = [0.10, 0.25, 0.45, 0.50, 0.55]
BLOCK = {
    "method": "boin12",
    "target": 0.35,
    "efficacy_target": 0.25,
    "utility": [100, 40, 60, 0],
    "n_star": 6,
    "c_t": 0.95,
    "c_e": 0.9,
    "cohort_size": 3,
    "max_patients": 30,
    "n_stop": 12,
}
TRIALS = 10_000
REPEATS = 3


def main() -> None:
    design = BOIN12(n_doses=5, **{k: v for k, v in BLOCK.items() if k != "method"})  # type: ignore[arg-type]
    conduct = Conduct()
    eff = Efficacy(response_probs=np.array(PE))
    engine_s = engine_cpu = float("inf")
    for _ in range(REPEATS):
        block = PatientBlock(
            seed=1, scenario_index=0, block_index=0, n_trials=TRIALS, capacity=31, conduct=conduct
        )
        start, cpu = time.perf_counter(), time.process_time()
        BOIN12Engine().run(design, np.array(PT), block, conduct, eff)
        engine_s = min(engine_s, time.perf_counter() - start)
        engine_cpu = min(engine_cpu, time.process_time() - cpu)
    spec = {
        "design": BLOCK,
        "trials": TRIALS,
        "seed": 1,
        "scenarios": [{"name": "S", "true_dlt_probs": PT, "true_response_probs": PE}],
    }
    harness_s = min(run_simulation(spec)["elapsed_s"] for _ in range(REPEATS))
    block = PatientBlock(
        seed=1, scenario_index=0, block_index=0, n_trials=100, capacity=31, conduct=conduct
    )
    start = time.perf_counter()
    GenericEngine().run(design, np.array(PT), block, conduct, eff)
    generic_s = (time.perf_counter() - start) / 100 * TRIALS
    print(f"BOIN12, {TRIALS:,} trials, one core")
    print(f"  fast engine       {engine_s:8.3f} s  (cpu {engine_cpu:.3f} s)")
    print(f"  run_simulation    {harness_s:8.3f} s  (patients, benchmarks, summaries included)")
    print(f"  generic engine    {generic_s:8.1f} s  (estimated from 100 trials)")


if __name__ == "__main__":
    main()
