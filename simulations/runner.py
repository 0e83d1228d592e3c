"""Run a simulation: blocks of trials per scenario, every design on the same patients.

:func:`run_simulation` is the harness's entry point (the CLI's ``escalation simulate`` and the HTTP
service's background jobs call it). Trials are cut into blocks of :data:`BLOCK_TRIALS` trials of one
scenario, each drawing its patients from its own SeedSequence child
(:func:`simulations.patients.block_seed`). A job simulates a block, or a part of one when a design
runs on the (slow) generic engine (:data:`GENERIC_PART_TRIALS` trials, so that progress is reported
every few seconds): it runs every design on the same patients (common random numbers) and the
optimal benchmark on their tolerances, and returns integer sums; the sums are added in job order.
The results of a seed are therefore the same whatever the number of workers, the executor, or the
size of the parts.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from escalation import __version__
from simulations.engines import choose_engine
from simulations.engines.base import Efficacy, IntArray
from simulations.executors import MIN_PARALLEL_SECONDS, available_cores, run_jobs
from simulations.expansion import simulate_expansion
from simulations.metrics import (
    BlockSummary,
    benchmark_selection,
    efficacy_characteristics,
    operating_characteristics,
    summarize_block,
    true_obd,
    utility_benchmark_selection,
)
from simulations.patients import PatientBlock
from simulations.spec import SimulationSpec, parse_spec

__all__ = [
    "BLOCK_TRIALS",
    "GENERIC_PART_TRIALS",
    "MIN_PARALLEL_SECONDS",
    "choose_workers",
    "estimated_seconds",
    "run_block",
    "run_simulation",
]

log = logging.getLogger(__name__)

#: trials per block of patients; part of what a seed means (changing it changes the random streams)
BLOCK_TRIALS = 5000
#: trials per job when a design runs on the generic engine (progress advances per job); any value
#: gives the same results
GENERIC_PART_TRIALS = 100


@dataclass(frozen=True, slots=True)
class BlockJob:
    """One job: trials ``first`` to ``first + n_trials - 1`` of a block of ``block_trials``
    trials of one scenario, for every design."""

    spec: SimulationSpec
    scenario_index: int
    block_index: int
    n_trials: int
    first: int = 0
    block_trials: int | None = None


def run_block(job: BlockJob) -> list[BlockSummary]:
    """Simulate one block (or part of one) for every design of the spec; one summary per design."""
    spec = job.spec
    scenario = spec.scenarios[job.scenario_index]
    probs = np.asarray(scenario.true_dlt_probs, dtype=np.float64)
    block_trials = job.n_trials if job.block_trials is None else job.block_trials
    block = PatientBlock(
        seed=spec.seed,
        scenario_index=job.scenario_index,
        block_index=job.block_index,
        n_trials=block_trials,
        capacity=spec.capacity,
        conduct=spec.conduct,
        rows=(job.first, job.first + job.n_trials),
        true_response_probs=scenario.true_response_probs,
        tox_eff_correlation=scenario.tox_eff_correlation,
    )
    out = []
    # the benchmark sees only the block's first max_patients tolerances (drawn up front, never
    # changed: extensions append columns), so designs sharing (target, max_patients) share it
    benchmarks: dict[tuple[float, int], IntArray] = {}
    utility_benchmarks: dict[Any, IntArray] = {}
    for i, entry in enumerate(spec.designs):
        design = spec.design(i, scenario.n_levels)
        engine = choose_engine(design, spec.conduct, entry.engine)
        efficacy = (
            Efficacy(
                response_probs=np.asarray(scenario.true_response_probs, dtype=np.float64),
                correlation=scenario.tox_eff_correlation,
            )
            if design.uses_efficacy and scenario.true_response_probs is not None
            else None
        )
        outcomes = engine.run(design, probs, block, spec.conduct, efficacy)
        target = scenario.target if scenario.target is not None else design.target
        mtd = tuple(
            level - 1
            for level in scenario.mtd_levels_for(
                design.target, unacceptable_ratio=spec.unacceptable_ratio
            )
        )
        whole = (
            None
            if spec.expansion is None
            else simulate_expansion(
                spec.expansion.for_scenario(scenario),
                design,
                scenario.true_dlt_probs,
                outcomes,
                spec.conduct,
                seed=spec.seed,
                scenario_index=job.scenario_index,
                block_index=job.block_index,
                first_trial=job.first,
            )
        )
        key = (target, design.max_patients)
        if key not in benchmarks:
            benchmarks[key] = benchmark_selection(
                block.tolerance,
                probs,
                *key,
                unacceptable=spec.unacceptable_ratio * target,
                ties=spec.benchmark_ties,
            )
        obd, benchmark_obd = None, None
        if scenario.true_response_probs is not None and design.uses_efficacy:
            obd, _ = _obd_of(scenario, design)
            eff_key = (
                "utility",
                tuple(design.options()["utility"]),
                design.target,
                design.max_patients,
            )
            if eff_key not in utility_benchmarks:
                utility_benchmarks[eff_key] = utility_benchmark_selection(
                    block.tolerance,
                    block.response_tolerance(scenario.tox_eff_correlation),
                    probs,
                    np.asarray(scenario.true_response_probs, dtype=np.float64),
                    design.utility,  # type: ignore[attr-defined]
                    design.target,
                    design.efficacy_target,  # type: ignore[attr-defined]
                    design.max_patients,
                )
            benchmark_obd = utility_benchmarks[eff_key]
        out.append(
            summarize_block(
                outcomes,
                mtd_indices=mtd,
                benchmark=benchmarks[key],
                target=target,
                max_patients=design.max_patients,
                whole=whole,
                obd_indices=obd,
                benchmark_obd=benchmark_obd,
            )
        )
    return out


#: estimated seconds a trial takes on one core, by fast engine (benchmarks/simulation_speed.py:
#: BOIN 8 us, CRM 10-20 us, TITE-BOIN about 27 us, TITE-CRM about 57 us, BLRM about 0.5 ms with
#: its posteriors; BOIN12 about 43 us, benchmarks/boin12_speed.py), and for a fast engine not named
FAST_TRIAL_SECONDS = {
    "fast-boin": 1e-5,
    "fast-crm": 2e-5,
    "fast-3+3": 1e-5,
    "fast-tite-boin": 3e-5,
    "fast-tite-crm": 6e-5,
    "fast-blrm": 1e-3,
    "fast-boin12": 5e-5,
}
OTHER_FAST_TRIAL_SECONDS = 1e-4
#: estimated seconds a trial takes on the generic engine, by design method (issue 11's table:
#: TITE-BOIN 4 ms, TITE-CRM 32-50 ms, BLRM 55 ms), and for a method not named
GENERIC_TRIAL_SECONDS = {
    "3+3": 2e-3,
    "boin": 3e-3,
    "tite-boin": 5e-3,
    "crm": 3e-2,
    "tite-crm": 5e-2,
    "blrm": 6e-2,
}
OTHER_GENERIC_TRIAL_SECONDS = 5e-2


def estimated_seconds(spec: SimulationSpec) -> float:
    """The work of a simulation on one core, estimated: trials x per-trial cost of each design's
    engine (:data:`FAST_TRIAL_SECONDS`, :data:`GENERIC_TRIAL_SECONDS`), summed over designs and
    scenarios."""
    total = 0.0
    for i, entry in enumerate(spec.designs):
        for scenario in spec.scenarios:
            design = spec.design(i, scenario.n_levels)
            engine = choose_engine(design, spec.conduct, entry.engine).name
            if engine == "generic":
                cost = GENERIC_TRIAL_SECONDS.get(design.method, OTHER_GENERIC_TRIAL_SECONDS)
            else:
                cost = FAST_TRIAL_SECONDS.get(engine, OTHER_FAST_TRIAL_SECONDS)
            total += spec.trials * cost
    return total


def choose_workers(spec: SimulationSpec, available: int, *, load: float | None = None) -> int:
    """Worker processes for ``workers="auto"``.

    One when the run is too short to gain from more (:func:`estimated_seconds` below
    :data:`~simulations.executors.MIN_PARALLEL_SECONDS`, or a single job); otherwise the cores
    that are idle, ``available`` minus the load average (``load``; by default the last minute's,
    ``os.getloadavg``), at least one and at most one per job: on a machine already busy, more
    processes only share the same cores.
    """
    n_jobs = len(_jobs(spec, _part_trials(spec)))
    if n_jobs <= 1 or estimated_seconds(spec) < MIN_PARALLEL_SECONDS:
        return 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # pragma: no cover - no load average on this system
            load = 0.0
    idle = math.floor(available - load + 0.5)
    return max(1, min(available, idle, n_jobs))


def _obd_of(scenario: Any, design: Any) -> tuple[tuple[int, ...], Any]:
    """The true OBD indices and the true utility per level of a scenario, for an efficacy design."""
    pt = np.asarray(scenario.true_dlt_probs, dtype=np.float64)
    pe = np.asarray(scenario.true_response_probs, dtype=np.float64)
    u = _true_utility(pt, pe, design.utility, scenario.tox_eff_correlation)
    return true_obd(pt, pe, u, design.target, design.efficacy_target), u


def _true_utility(pt: Any, pe: Any, utility: Any, correlation: float) -> Any:
    """The mean utility of each level under the scenario's Gaussian copula."""
    from scipy.special import ndtri
    from scipy.stats import multivariate_normal

    u1, u2, u3, u4 = utility
    if correlation == 0.0:
        p11 = pt * pe
    else:
        cov = [[1.0, correlation], [correlation, 1.0]]
        p11 = np.array(
            [
                multivariate_normal(mean=[0.0, 0.0], cov=cov).cdf([ndtri(a), ndtri(b)])
                if 0 < a < 1 and 0 < b < 1
                else a * b
                for a, b in zip(pt, pe, strict=True)
            ]
        )
    p10, p01 = pt - p11, pe - p11
    return u1 * p01 + u2 * (1 - pt - pe + p11) + u3 * p11 + u4 * p10


def _n_blocks(spec: SimulationSpec) -> int:
    return math.ceil(spec.trials / BLOCK_TRIALS)


def _part_trials(spec: SimulationSpec) -> int:
    """Trials per job: a whole block when every design has a fast engine."""
    generic = any(
        choose_engine(spec.design(i, n), spec.conduct, entry.engine).name == "generic"
        for i, entry in enumerate(spec.designs)
        for n in {s.n_levels for s in spec.scenarios}
    )
    return GENERIC_PART_TRIALS if generic else BLOCK_TRIALS


def _jobs(spec: SimulationSpec, part_trials: int) -> list[BlockJob]:
    jobs = []
    for s in range(len(spec.scenarios)):
        for b in range(_n_blocks(spec)):
            n = min(BLOCK_TRIALS, spec.trials - b * BLOCK_TRIALS)
            for first in range(0, n, part_trials):
                jobs.append(BlockJob(spec, s, b, min(part_trials, n - first), first, n))
    return jobs


def _average(rows: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    values = [r[key] for r in rows if r[key] is not None]
    ses = [r["se"][key] for r in rows if r[key] is not None]
    if not values:
        return None, None
    return float(np.mean(values)), math.sqrt(sum(e * e for e in ses)) / len(values)


_AVERAGED = (
    "correct_selection_pct",
    "benchmark_correct_pct",
    "none_pct",
    "benchmark_none_pct",
    "early_stop_pct",
    "stop_safety_pct",
    "stop_n_stop_pct",
    "above_mtd_pct",
    "overdose60_pct",
    "overdose80_pct",
    "poor_allocation_pct",
    "high_toxicity_pct",
    "dlt_rate_pct",
    "n_mean",
    "duration_mean_days",
    "delay_mean_days",
    "lost_mean",
)


#: averaged too for the designs that use efficacy (their rows have them; see metrics)
_AVERAGED_EFFICACY = (
    "obd_correct_pct",
    "benchmark_obd_correct_pct",
    "selected_utility_mean",
    "benchmark_utility_mean",
)


def _summary(spec: SimulationSpec, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per design, the averages over scenarios (random scenarios)."""
    out = []
    for entry in spec.designs:
        rows = [r for r in results if r["design"] == entry.name]
        row: dict[str, Any] = {"design": entry.name, "scenarios": len(rows)}
        se: dict[str, Any] = {}
        for key in _AVERAGED:
            row[key], se[key] = _average(rows, key)
        for key in _AVERAGED_EFFICACY:  # designs that use efficacy (BOIN12): the OBD's metrics
            if rows and all(key in r for r in rows):
                row[key], se[key] = _average(rows, key)
        row["se"] = se
        out.append(row)
    return out


def run_simulation(
    spec: Mapping[str, Any] | SimulationSpec,
    *,
    workers: int | Literal["auto"] = 1,
    progress: Callable[[int, int], None] | None = None,
    client: Any = None,
    scheduler: str | None = None,
) -> dict[str, Any]:
    """Simulate every design on every scenario; the JSON results of ``escalation simulate --json``.

    Parameters
    ----------
    spec
        The specification (a JSON-like mapping, see :mod:`simulations.spec`, or a parsed one).
    workers
        Local worker processes (1: this process); ``"auto"``: one process for a run too short
        to gain from more (see :func:`choose_workers`), else every available core.
    progress
        Called as ``progress(trials_done, trials_total)`` as jobs finish (a block of trials, or
        :data:`GENERIC_PART_TRIALS` of them when a design runs on the generic engine; trials per
        scenario, summed over scenarios).
    client, scheduler
        Run on a Dask cluster: a ``dask.distributed.Client``, or a scheduler address.

    Returns
    -------
    dict
        ``results`` (one row per scenario and design: ``selection_pct`` per level, ``none_pct``,
        ``patients_mean``, ``dlt_mean``, ``early_stop_pct``, ``n_mean``, ``duration_mean_days``,
        ``correct_selection_pct``, ``benchmark_correct_pct``, ... and ``se``, their Monte Carlo
        standard errors), ``summary`` (averages over random scenarios), ``seed``,
        ``engine_version``, ``elapsed_s`` (the compute time), ``spec`` (every default filled in).

    Raises
    ------
    simulations.InvalidSpecError
        An invalid specification, with every problem named.

    Examples
    --------
    >>> out = run_simulation({"design": {"method": "boin", "target": 0.3},
    ...                       "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3, 0.5]}],
    ...                       "trials": 200, "seed": 7})
    >>> out["results"][0]["design"], len(out["results"][0]["selection_pct"])
    ('boin', 3)
    """
    parsed = spec if isinstance(spec, SimulationSpec) else parse_spec(spec)
    if workers == "auto":
        workers = choose_workers(parsed, available_cores())
    jobs = _jobs(parsed, _part_trials(parsed))
    keys = [(j.scenario_index, j.block_index, j.first) for j in jobs]
    trials_of = {k: j.n_trials for k, j in zip(keys, jobs, strict=True)}
    total = parsed.trials * len(parsed.scenarios)
    finished = 0

    def on_done(key: Any) -> None:
        nonlocal finished
        finished += trials_of[key]
        if progress is not None:
            progress(finished, total)

    if progress is not None:
        progress(0, total)
    start = time.perf_counter()
    done = run_jobs(
        run_block,
        jobs,
        keys,
        workers=workers,
        client=client,
        scheduler=scheduler,
        on_done=on_done,
    )
    by_scenario: dict[int, list[list[BlockSummary]]] = {}
    for key in keys:  # job order
        by_scenario.setdefault(key[0], []).append(done[key])
    results = []
    for s, scenario in enumerate(parsed.scenarios):
        blocks = by_scenario[s]
        for i, entry in enumerate(parsed.designs):
            summary = blocks[0][i]
            for b in blocks[1:]:
                summary = summary + b[i]
            design = parsed.design(i, scenario.n_levels)
            engine = choose_engine(design, parsed.conduct, entry.engine)
            extra: dict[str, Any] = {}
            extra_se: dict[str, Any] = {}
            if scenario.true_response_probs is not None and design.uses_efficacy:
                obd, util = _obd_of(scenario, design)
                extra, extra_se = efficacy_characteristics(summary, util, obd)
                extra["true_response_probs"] = list(scenario.true_response_probs)
            row = operating_characteristics(
                summary,
                () if parsed.expansion is None else parsed.expansion.names,
                futility=parsed.expansion is not None and parsed.expansion.futility is not None,
            )
            row["se"] |= extra_se
            results.append(
                {
                    "scenario": scenario.name,
                    "design": entry.name,
                    "engine": engine.name,
                    "true_dlt_probs": list(scenario.true_dlt_probs),
                    "target": scenario.target if scenario.target is not None else design.target,
                    "mtd_levels": list(
                        scenario.mtd_levels_for(
                            design.target, unacceptable_ratio=parsed.unacceptable_ratio
                        )
                    ),
                    "max_patients": design.max_patients,
                    **row,
                    **extra,
                }
            )
    elapsed = time.perf_counter() - start
    out: dict[str, Any] = {
        "results": results,
        "seed": parsed.seed,
        "trials": parsed.trials,
        "engine_version": __version__,
        "elapsed_s": elapsed,
        "workers": workers if client is None and scheduler is None else None,
        "executor": "dask"
        if client is not None or scheduler is not None
        else ("processes" if workers > 1 else "serial"),
    }
    if parsed.random is not None:
        out["summary"] = _summary(parsed, results)
    out["spec"] = parsed.as_json()
    log.info("simulated %d trials in %.3f s", total * len(parsed.designs), elapsed)
    return out
