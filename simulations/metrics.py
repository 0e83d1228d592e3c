"""Operating characteristics with Monte Carlo standard errors, and the optimal benchmark.

Per design and scenario, from the simulated trials (each an independent replicate):

* selection % per level and of no dose, % correct selection (a true MTD level selected), each with
  s.e. 100 sqrt(p (1 - p) / T);
* mean patients and DLTs per level, mean sample size, mean duration in days, mean delay and lost
  patients, each with s.e. sd / sqrt(T);
* % of patients treated above the true MTD and the overall DLT rate, as ratios of totals
  (sum over trials / sum of patients, as R's BOIN reports them), with delta-method s.e.;
* early-stop %: trials stopped by a rule before their maximum sample size.

The nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002) sees, for the first N
patients of each trial (N the design's ``max_patients``), their tolerances u_i and so their outcome
at every dose at once: it estimates p_d by the share of the N patients with u_i < p_d and selects
the level whose estimate is closest to the target. Levels often tie (no patient's tolerance falls
between their probabilities); ties are broken as BOIN's ``select.mtd`` breaks them: the highest of
tied levels below the target, else the lowest. It bounds what any design could achieve with N
patients in that scenario.

All per-trial quantities are integers, so block summaries add exactly: the statistics do not depend
on the order in which blocks are computed or combined.

References
----------
O'Quigley J, Paoletti X, Maccario J (2002). Non-parametric optimal design in dose finding studies.
Biostatistics 3:51-56.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from simulations.engines.base import TrialOutcomes

__all__ = ["BlockSummary", "benchmark_selection", "operating_characteristics", "summarize_block"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def benchmark_selection(
    tolerance: FloatArray, probs: FloatArray, target: float, n_patients: int
) -> IntArray:
    """The optimal benchmark's selected dose index per trial, from the first ``n_patients``.

    Parameters
    ----------
    tolerance
        Shape (trials, >= n_patients): the patients' latent tolerances.
    probs
        True DLT probability per dose.
    target
        Target DLT probability.
    n_patients
        Patients the benchmark sees (the design's maximum sample size).

    Returns
    -------
    numpy.ndarray
        The selected dose index per trial (ties as in the module docstring).

    References
    ----------
    O'Quigley, Paoletti & Maccario (2002), Biostatistics 3:51, section 2.
    """
    u = tolerance[:, :n_patients]
    p = np.asarray(probs, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    n_trials, n_doses = u.shape[0], p.size
    # patient i has a DLT at the sorted doses from position searchsorted(p_sorted, u_i, "right") on
    first = np.searchsorted(p[order], u, side="right")
    bins = np.bincount(
        (np.arange(n_trials)[:, None] * (n_doses + 1) + first).ravel(),
        minlength=n_trials * (n_doses + 1),
    ).reshape(n_trials, n_doses + 1)
    counts = np.empty((n_trials, n_doses), dtype=np.int64)
    counts[:, order] = np.cumsum(bins[:, :n_doses], axis=1)
    # |k / N - target| compared as |k - target N| keeps ties exact
    goal = target * n_patients
    distance = np.abs(counts - goal)
    closest = distance == distance.min(axis=1, keepdims=True)
    below = closest & (counts < goal)
    highest_below = n_doses - 1 - np.argmax(below[:, ::-1], axis=1)
    lowest = np.argmax(closest, axis=1)
    return np.asarray(np.where(below.any(axis=1), highest_below, lowest), dtype=np.int64)


@dataclass(slots=True, kw_only=True)
class BlockSummary:
    """Integer sums over the trials of one or more blocks (add with ``+``)."""

    trials: int
    selected: IntArray  # (D + 1,): per level, then none
    correct: int
    n_sum: IntArray
    n_sq: IntArray
    y_sum: IntArray
    y_sq: IntArray
    total_n_sum: int
    total_n_sq: int
    total_y_sum: int
    total_y_sq: int
    total_ny: int
    above_sum: int
    above_sq: int
    above_n: int
    early: int
    duration_sum: int
    duration_sq: int
    delay_sum: int
    delay_sq: int
    lost_sum: int
    lost_sq: int
    benchmark_selected: IntArray  # (D,)
    benchmark_correct: int

    def __add__(self, other: BlockSummary) -> BlockSummary:
        return BlockSummary(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )


def summarize_block(
    out: TrialOutcomes,
    *,
    mtd_indices: tuple[int, ...],
    benchmark: IntArray,
) -> BlockSummary:
    """The sums of one block's trials; ``mtd_indices`` the true MTD dose indices."""
    n_doses = out.n_at_dose.shape[1]
    sel = np.bincount(
        np.where(out.selected_index < 0, n_doses, out.selected_index), minlength=n_doses + 1
    )
    total_n = out.n_at_dose.sum(axis=1)
    total_y = out.dlt_at_dose.sum(axis=1)
    above = out.n_at_dose[:, max(mtd_indices) + 1 :].sum(axis=1)

    def s(x: IntArray) -> int:
        return int(x.sum())

    def sq(x: IntArray) -> int:
        return int((x.astype(np.int64) ** 2).sum())

    correct = np.isin(out.selected_index, mtd_indices)
    return BlockSummary(
        trials=out.n_trials,
        selected=sel.astype(np.int64),
        correct=int(correct.sum()),
        n_sum=out.n_at_dose.sum(axis=0),
        n_sq=(out.n_at_dose**2).sum(axis=0),
        y_sum=out.dlt_at_dose.sum(axis=0),
        y_sq=(out.dlt_at_dose**2).sum(axis=0),
        total_n_sum=s(total_n),
        total_n_sq=sq(total_n),
        total_y_sum=s(total_y),
        total_y_sq=sq(total_y),
        total_ny=s(total_n * total_y),
        above_sum=s(above),
        above_sq=sq(above),
        above_n=s(above * total_n),
        early=int(out.stopped_early.sum()),
        duration_sum=s(out.duration_days),
        duration_sq=sq(out.duration_days),
        delay_sum=s(out.delay_days),
        delay_sq=sq(out.delay_days),
        lost_sum=s(out.lost),
        lost_sq=sq(out.lost),
        benchmark_selected=np.bincount(benchmark, minlength=n_doses).astype(np.int64),
        benchmark_correct=int(np.isin(benchmark, mtd_indices).sum()),
    )


def _pct(count: float, trials: int) -> tuple[float, float]:
    p = count / trials
    return 100.0 * p, 100.0 * math.sqrt(max(p * (1.0 - p), 0.0) / trials)


def _mean(total: float, squares: float, trials: int) -> tuple[float, float]:
    mean = total / trials
    var = max(squares / trials - mean * mean, 0.0) * trials / max(trials - 1, 1)
    return mean, math.sqrt(var / trials)


def _ratio(
    x_sum: float, x_sq: float, y_sum: float, y_sq: float, xy: float, trials: int
) -> tuple[float | None, float | None]:
    """sum x / sum y and its delta-method s.e. (None when no patient was treated)."""
    if y_sum <= 0:
        return None, None
    r = x_sum / y_sum
    mean_y = y_sum / trials
    # Var(x - r y) estimated from the sums
    resid = (x_sq - 2 * r * xy + r * r * y_sq) / trials - (x_sum / trials - r * mean_y) ** 2
    resid = max(resid, 0.0) * trials / max(trials - 1, 1)
    return r, math.sqrt(resid / trials) / mean_y


def operating_characteristics(s: BlockSummary) -> dict[str, Any]:
    """The operating characteristics and their Monte Carlo standard errors (percentages 0-100)."""
    t = s.trials
    n_doses = s.n_sum.size
    sel = [_pct(float(c), t) for c in s.selected[:n_doses]]
    none = _pct(float(s.selected[n_doses]), t)
    correct = _pct(float(s.correct), t)
    patients = [_mean(float(a), float(b), t) for a, b in zip(s.n_sum, s.n_sq, strict=True)]
    dlts = [_mean(float(a), float(b), t) for a, b in zip(s.y_sum, s.y_sq, strict=True)]
    n_mean = _mean(s.total_n_sum, s.total_n_sq, t)
    dlt_total = _mean(s.total_y_sum, s.total_y_sq, t)
    above = _ratio(s.above_sum, s.above_sq, s.total_n_sum, s.total_n_sq, s.above_n, t)
    rate = _ratio(s.total_y_sum, s.total_y_sq, s.total_n_sum, s.total_n_sq, s.total_ny, t)
    early = _pct(float(s.early), t)
    duration = _mean(s.duration_sum, s.duration_sq, t)
    delay = _mean(s.delay_sum, s.delay_sq, t)
    lost = _mean(s.lost_sum, s.lost_sq, t)
    bench = [_pct(float(c), t) for c in s.benchmark_selected]
    bench_correct = _pct(float(s.benchmark_correct), t)

    def pct_or_none(v: float | None) -> float | None:
        return None if v is None else 100.0 * v

    # each statistic once, in the order of the keys: (mean, s.e.), or one such pair per level
    stats: dict[str, tuple[float | None, float | None] | list[tuple[float, float]]] = {
        "selection_pct": sel,
        "none_pct": none,
        "correct_selection_pct": correct,
        "patients_mean": patients,
        "dlt_mean": dlts,
        "n_mean": n_mean,
        "dlt_total_mean": dlt_total,
        "above_mtd_pct": (pct_or_none(above[0]), pct_or_none(above[1])),
        "dlt_rate_pct": (pct_or_none(rate[0]), pct_or_none(rate[1])),
        "early_stop_pct": early,
        "duration_mean_days": duration,
        "delay_mean_days": delay,
        "lost_mean": lost,
        "benchmark_selection_pct": bench,
        "benchmark_correct_pct": bench_correct,
    }

    def part(j: int) -> dict[str, Any]:
        return {
            key: [pair[j] for pair in v] if isinstance(v, list) else v[j]
            for key, v in stats.items()
        }

    return {"trials": t, **part(0), "se": part(1)}
