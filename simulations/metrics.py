"""Operating characteristics with Monte Carlo standard errors, and the optimal benchmark.

Per design and scenario, from the simulated trials (each an independent replicate). "The MTD" is
the scenario's true MTD: the level(s) whose true DLT probability is closest to the target, or *no
dose* when every level is unacceptably toxic (every true DLT probability above ``unacceptable``,
BOIN's phi2, 1.4 x target by default; :func:`simulations.scenarios.mtd_levels`).

* ``selection_pct`` per level, ``none_pct`` (no dose selected) and ``correct_selection_pct``: the
  selected level is a true MTD level, or no dose is selected when no dose is acceptable; each with
  s.e. 100 sqrt(p (1 - p) / T);
* mean patients and DLTs per level, ``n_mean`` (patients treated), ``duration_mean_days``, mean
  delay and lost patients, each with s.e. sd / sqrt(T); for a design with backfill also
  ``escalation_mean`` and ``backfill_mean`` (patients by cohort type, adding up to ``n_mean``)
  and ``backfill_unevaluated_mean`` (backfill patients still inside their window at the end);
* ``above_mtd_pct``: patients treated above the highest true MTD level (every patient when no dose
  is acceptable), and ``dlt_rate_pct``, DLTs per patient treated: ratios of totals (sum over trials
  / sum of patients, as R's BOIN reports them), with delta-method s.e.;
* ``stop_safety_pct``: trials ended before ``max_patients`` with no dose selected (every dose
  eliminated, or a safety rule on the lowest dose); ``stop_n_stop_pct``: trials ended before
  ``max_patients`` with a dose selected (for BOIN and CRM the ``n_stop`` rule: enough patients at
  the recommended dose); ``early_stop_pct`` is their sum;
* risks per trial, as percentages of trials: ``overdose60_pct`` and ``overdose80_pct``, more than
  60% (80%) of the maximum sample size treated above the MTD, R BOIN 2.7.2 get.oc's ``overdose60``
  and ``overdose80`` (``rowSums(N[, p.true > target]) > 0.6 * npts`` with ``npts = ncohort *
  cohortsize``; R reports them only when a level's probability equals the target, where "above the
  MTD" and "p > target" are the same levels); ``poor_allocation_pct``, fewer than
  :data:`POOR_ALLOCATION_N` (6) patients treated at the MTD (``None`` when no dose is acceptable);
  ``high_toxicity_pct``, an observed DLT rate (DLTs / patients treated) above the target.

The nonparametric optimal benchmark (O'Quigley, Paoletti & Maccario 2002) sees, for the first N
patients of each trial (N the design's ``max_patients``), their tolerances u_i and so their outcome
at every dose at once: it estimates p_d by the share of the N patients with u_i < p_d, selects no
dose when every estimate is above ``unacceptable`` (the rule that defines the true MTD), and
otherwise the level whose estimate is closest to the target. Levels often tie (no patient's
tolerance falls between their probabilities). ``ties="lower"`` (the default) breaks ties as BOIN's
``select.mtd`` does (adding i x 1e-10 to the estimates): of two estimates equally far below and
above the target the one below, i.e. the lower level; among levels with the same estimate the
highest if it is below the target, else the lowest. ``ties="higher"`` prefers the estimate above
the target instead (the higher level), with the same rule among equal estimates. It bounds what any
design could achieve with N patients in that scenario.

All per-trial quantities are integers, so block summaries add exactly: the statistics do not depend
on the order in which blocks are computed or combined.

References
----------
O'Quigley J, Paoletti X, Maccario J (2002). Non-parametric optimal design in dose finding studies.
Biostatistics 3:51-56.
BOIN 2.7.2 (R), ``get.oc`` (R/get.oc.R: ``overdose60``, ``overdose80``) and ``select.mtd``.
Zhou H, Yuan Y, Nie L (2018). Accuracy, safety, and reliability of novel phase I trial designs.
Clin Cancer Res 24:4357-4364 (risk of poor allocation and of high toxicity).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from simulations._mc import mean_estimate as _mean
from simulations._mc import pct_estimate as _pct
from simulations.engines.base import TrialOutcomes
from simulations.expansion import (
    WholeTrialOutcomes,
    WholeTrialSummary,
    summarize_whole_trial,
    whole_trial_characteristics,
)

__all__ = [
    "POOR_ALLOCATION_N",
    "BlockSummary",
    "WholeTrialSummary",
    "benchmark_selection",
    "efficacy_characteristics",
    "operating_characteristics",
    "summarize_block",
    "true_obd",
    "utility_benchmark_selection",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: risk of poor allocation: fewer than this many patients treated at the true MTD
POOR_ALLOCATION_N = 6
#: how the benchmark breaks ties between levels equally close to the target
BenchmarkTies = Literal["lower", "higher"]
BENCHMARK_TIES: tuple[str, ...] = ("lower", "higher")


def benchmark_selection(
    tolerance: FloatArray,
    probs: FloatArray,
    target: float,
    n_patients: int,
    *,
    unacceptable: float | None = None,
    ties: BenchmarkTies = "lower",
) -> IntArray:
    """The optimal benchmark's selected dose index per trial (-1: no dose), from the first
    ``n_patients``.

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
    unacceptable
        No dose is selected when every estimate is above it (``None``: never).
    ties
        ``"lower"`` or ``"higher"``: which of two levels equally close to the target is selected
        (see the module docstring).

    Returns
    -------
    numpy.ndarray
        The selected dose index per trial, -1 for no dose.

    References
    ----------
    O'Quigley, Paoletti & Maccario (2002), Biostatistics 3:51, section 2.

    Examples
    --------
    >>> import numpy as np
    >>> u = np.array([[0.1, 0.3, 0.5, 0.7, 0.9]])  # 5 patients; estimates 1/5 and 2/5 at 0.2, 0.4
    >>> [int(benchmark_selection(u, np.array([0.2, 0.4]), 0.3, 5, ties=t)[0])
    ...  for t in ("lower", "higher")]
    [0, 1]
    """
    if ties not in BENCHMARK_TIES:
        raise ValueError(f"ties: 'lower' or 'higher', got {ties!r}")
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
    above = closest & ~below
    highest_below = n_doses - 1 - np.argmax(below[:, ::-1], axis=1)
    lowest_above = np.argmax(above, axis=1)
    if ties == "lower":
        chosen = np.where(below.any(axis=1), highest_below, lowest_above)
    else:
        chosen = np.where(above.any(axis=1), lowest_above, highest_below)
    if unacceptable is not None:
        # every estimate k / N above the bound: no dose (k > bound N, in floating point once)
        too_toxic = (counts > unacceptable * n_patients).all(axis=1)
        chosen = np.where(too_toxic, -1, chosen)
    return np.asarray(chosen, dtype=np.int64)


def true_obd(
    prob_tox: FloatArray,
    prob_eff: FloatArray,
    utility_values: FloatArray,
    target: float,
    efficacy_target: float,
) -> tuple[int, ...]:
    """The true optimal biological dose index(es): the highest true utility among the doses whose
    DLT probability is at most the target and response probability at least the efficacy target
    (Lin et al. 2020's definition); ``()`` when no dose is acceptable (no dose is then correct)."""
    ok = (np.asarray(prob_tox) <= target + 1e-12) & (
        np.asarray(prob_eff) >= efficacy_target - 1e-12
    )
    if not ok.any():
        return ()
    u = np.where(ok, utility_values, -np.inf)
    best = float(u.max())
    return tuple(int(i) for i in np.flatnonzero(u >= best - 1e-9))


def utility_benchmark_selection(
    tolerance: FloatArray,
    response_tolerance: FloatArray,
    prob_tox: FloatArray,
    prob_eff: FloatArray,
    utility: tuple[float, float, float, float],
    target: float,
    efficacy_target: float,
    n_patients: int,
) -> IntArray:
    """The utility benchmark's selected dose index per trial (-1: none): it sees the first
    ``n_patients`` patients' DLT and response at every dose (their latent tolerances), estimates
    each dose's DLT and response rates and mean utility from them, and selects the highest
    estimated utility among the doses whose estimated rates are acceptable (DLT <= target, response
    >= efficacy target), the lowest among ties -- the nonparametric optimal benchmark of
    O'Quigley, Paoletti & Maccario (2002) with utility in place of the MTD criterion."""
    u = tolerance[:, :n_patients, None]
    w = response_tolerance[:, :n_patients, None]
    tox = u < np.asarray(prob_tox)[None, None, :]
    eff = w < np.asarray(prob_eff)[None, None, :]
    u1, u2, u3, u4 = utility
    value = np.where(tox, np.where(eff, u3, u4), np.where(eff, u1, u2))
    est_u = value.mean(axis=1)
    ok = (tox.sum(axis=1) <= target * n_patients + 1e-9) & (
        eff.sum(axis=1) >= efficacy_target * n_patients - 1e-9
    )
    masked = np.where(ok, est_u, -np.inf)
    chosen = np.argmax(masked, axis=1)
    return np.asarray(np.where(ok.any(axis=1), chosen, -1), dtype=np.int64)


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
    stop_safety: int
    stop_n_stop: int
    overdose60: int
    overdose80: int
    poor_allocation: int
    mtd_known: int  # trials of scenarios with an acceptable dose (poor allocation's denominator)
    high_toxicity: int
    duration_sum: int
    duration_sq: int
    delay_sum: int
    delay_sq: int
    lost_sum: int
    lost_sq: int
    benchmark_selected: IntArray  # (D + 1,): per level, then none
    benchmark_correct: int
    whole: WholeTrialSummary | None = None  # the whole trial (an expansion stage), if any
    backfill_blocks: int = 0  # blocks of a design with backfill (the backfill sums below count)
    backfill_sum: int = 0
    backfill_sq: int = 0
    unevaluated_sum: int = 0
    unevaluated_sq: int = 0
    escalation_sum: int = 0
    escalation_sq: int = 0
    # designs that use efficacy (0 otherwise): responses per level, correct OBD selections, and
    # the utility benchmark's selections (per level, then none) and correct ones
    r_sum: IntArray | int = 0
    r_sq: IntArray | int = 0
    obd_correct: int = 0
    benchmark_obd_selected: IntArray | int = 0
    benchmark_obd_correct: int = 0

    def __add__(self, other: BlockSummary) -> BlockSummary:
        def add(a: Any, b: Any) -> Any:
            return None if a is None and b is None else a + b

        return BlockSummary(
            **{f.name: add(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        )


def summarize_block(
    out: TrialOutcomes,
    *,
    mtd_indices: tuple[int, ...],
    benchmark: IntArray,
    target: float,
    max_patients: int,
    whole: WholeTrialOutcomes | None = None,
    obd_indices: tuple[int, ...] | None = None,
    benchmark_obd: IntArray | None = None,
) -> BlockSummary:
    """The sums of one block's trials.

    ``mtd_indices`` are the true MTD dose indices (empty: no dose is acceptable, and selecting none
    is correct); ``benchmark`` the benchmark's selected index per trial (-1: none); ``target`` and
    ``max_patients`` the design's (high toxicity and overdose risks); ``whole`` the same trials'
    expansion stage and final selection on all the data, if the simulation has one.
    ``max_patients`` the design's (high toxicity and overdose risks). For a scenario with response
    probabilities, ``obd_indices`` are the true OBD indices (:func:`true_obd`; empty: none is
    acceptable) and ``benchmark_obd`` the utility benchmark's selections.
    """
    n_doses = out.n_at_dose.shape[1]
    sel = np.bincount(
        np.where(out.selected_index < 0, n_doses, out.selected_index), minlength=n_doses + 1
    )
    total_n = out.n_at_dose.sum(axis=1)
    total_y = out.dlt_at_dose.sum(axis=1)
    # above the highest MTD level; with no acceptable dose every level is above
    first_above = max(mtd_indices) + 1 if mtd_indices else 0
    above = out.n_at_dose[:, first_above:].sum(axis=1)
    at_mtd = out.n_at_dose[:, list(mtd_indices)].sum(axis=1)
    stopped = out.stopped_early.astype(np.bool_)
    none = out.selected_index < 0

    def s(x: IntArray) -> int:
        return int(x.sum())

    def sq(x: IntArray) -> int:
        return int((x.astype(np.int64) ** 2).sum())

    def right(selected: IntArray) -> int:
        if not mtd_indices:
            return int((selected < 0).sum())
        return int(np.isin(selected, mtd_indices).sum())

    return BlockSummary(
        trials=out.n_trials,
        selected=sel.astype(np.int64),
        correct=right(out.selected_index),
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
        early=int(stopped.sum()),
        stop_safety=int((stopped & none).sum()),
        stop_n_stop=int((stopped & ~none).sum()),
        # R's get.oc: rowSums(N[, above]) > 0.6 * npts, in integers: 10 n > 6 npts
        overdose60=int((10 * above > 6 * max_patients).sum()),
        overdose80=int((10 * above > 8 * max_patients).sum()),
        poor_allocation=int((at_mtd < POOR_ALLOCATION_N).sum()) if mtd_indices else 0,
        mtd_known=out.n_trials if mtd_indices else 0,
        high_toxicity=int(((total_n > 0) & (total_y > target * total_n)).sum()),
        duration_sum=s(out.duration_days),
        duration_sq=sq(out.duration_days),
        delay_sum=s(out.delay_days),
        delay_sq=sq(out.delay_days),
        lost_sum=s(out.lost),
        lost_sq=sq(out.lost),
        benchmark_selected=np.bincount(
            np.where(benchmark < 0, n_doses, benchmark), minlength=n_doses + 1
        ).astype(np.int64),
        benchmark_correct=right(benchmark),
        whole=None if whole is None else summarize_whole_trial(whole, mtd_indices=mtd_indices),
        **_backfill_sums(out, total_n),
        **_efficacy_sums(out, obd_indices, benchmark_obd, n_doses),
    )


def _backfill_sums(out: TrialOutcomes, total_n: IntArray) -> dict[str, int]:
    """The sums of the patients by cohort type, for a design with backfill (none otherwise)."""
    if out.n_backfill is None:
        return {}
    unevaluated = (
        out.backfill_unevaluated
        if out.backfill_unevaluated is not None
        else np.zeros_like(out.n_backfill)
    )
    escalation = total_n - out.n_backfill
    return {
        "backfill_blocks": 1,
        "backfill_sum": int(out.n_backfill.sum()),
        "backfill_sq": int((out.n_backfill.astype(np.int64) ** 2).sum()),
        "unevaluated_sum": int(unevaluated.sum()),
        "unevaluated_sq": int((unevaluated.astype(np.int64) ** 2).sum()),
        "escalation_sum": int(escalation.sum()),
        "escalation_sq": int((escalation.astype(np.int64) ** 2).sum()),
    }


def _efficacy_sums(
    out: TrialOutcomes,
    obd_indices: tuple[int, ...] | None,
    benchmark_obd: IntArray | None,
    n_doses: int,
) -> dict[str, Any]:
    if obd_indices is None:
        return {}

    def right(selected: IntArray) -> int:
        if not obd_indices:
            return int((selected < 0).sum())
        return int(np.isin(selected, obd_indices).sum())

    sums: dict[str, Any] = {"obd_correct": right(out.selected_index)}
    if out.eff_at_dose is not None:
        sums["r_sum"] = out.eff_at_dose.sum(axis=0)
        sums["r_sq"] = (out.eff_at_dose**2).sum(axis=0)
    if benchmark_obd is not None:
        sums["benchmark_obd_selected"] = np.bincount(
            np.where(benchmark_obd < 0, n_doses, benchmark_obd), minlength=n_doses + 1
        ).astype(np.int64)
        sums["benchmark_obd_correct"] = right(benchmark_obd)
    return sums


def efficacy_characteristics(
    s: BlockSummary, utility_values: FloatArray, obd_indices: tuple[int, ...]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The OBD's correct selection %, the mean true utility of the selected dose (over trials
    that select one), the mean responses per level, and the utility benchmark's same figures;
    returns the values and their Monte Carlo standard errors."""
    t = s.trials
    n_doses = utility_values.size
    u = np.asarray(utility_values, dtype=np.float64)

    def mean_utility(selected: IntArray) -> tuple[float | None, float | None]:
        counts = np.asarray(selected[:n_doses], dtype=np.float64)
        k = counts.sum()
        if k <= 0:
            return None, None
        m = float((counts * u).sum() / k)
        var = float((counts * (u - m) ** 2).sum() / max(k - 1, 1))
        return m, math.sqrt(var / k)

    obd = _pct(float(s.obd_correct), t)
    util = mean_utility(s.selected)
    stats: dict[str, Any] = {
        "obd_levels": [i + 1 for i in obd_indices],
        "true_utility": [float(v) for v in u],
        "obd_correct_pct": obd,
        "selected_utility_mean": util,
    }
    if isinstance(s.r_sum, np.ndarray):
        assert isinstance(s.r_sq, np.ndarray)
        stats["responses_mean"] = [
            _mean(float(a), float(b), t) for a, b in zip(s.r_sum, s.r_sq, strict=True)
        ]
    if isinstance(s.benchmark_obd_selected, np.ndarray):
        stats["benchmark_obd_correct_pct"] = _pct(float(s.benchmark_obd_correct), t)
        stats["benchmark_utility_mean"] = mean_utility(s.benchmark_obd_selected)
    out: dict[str, Any] = {
        "obd_levels": stats.pop("obd_levels"),
        "true_utility": stats.pop("true_utility"),
    }
    se: dict[str, Any] = {}
    for key, v in stats.items():
        if isinstance(v, list):
            out[key] = [p[0] for p in v]
            se[key] = [p[1] for p in v]
        else:
            out[key], se[key] = v
    return out, se


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


def operating_characteristics(
    s: BlockSummary, indications: Sequence[str] = (), *, futility: bool = False
) -> dict[str, Any]:
    """The operating characteristics and their Monte Carlo standard errors (percentages 0-100).

    With a whole trial (``s.whole``; ``indications`` its expansion indications, in order), the
    keys of :func:`simulations.expansion.whole_trial_characteristics` are added (``futility``:
    the expansion has a futility rule).
    """
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
    poor: tuple[float | None, float | None] = (
        _pct(float(s.poor_allocation), s.mtd_known) if s.mtd_known else (None, None)
    )
    duration = _mean(s.duration_sum, s.duration_sq, t)
    delay = _mean(s.delay_sum, s.delay_sq, t)
    lost = _mean(s.lost_sum, s.lost_sq, t)
    bench = [_pct(float(c), t) for c in s.benchmark_selected[:n_doses]]
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
        "stop_safety_pct": _pct(float(s.stop_safety), t),
        "stop_n_stop_pct": _pct(float(s.stop_n_stop), t),
        "overdose60_pct": _pct(float(s.overdose60), t),
        "overdose80_pct": _pct(float(s.overdose80), t),
        "poor_allocation_pct": poor,
        "high_toxicity_pct": _pct(float(s.high_toxicity), t),
        "duration_mean_days": duration,
        "delay_mean_days": delay,
        "lost_mean": lost,
        "benchmark_selection_pct": bench,
        "benchmark_none_pct": _pct(float(s.benchmark_selected[n_doses]), t),
        "benchmark_correct_pct": bench_correct,
    }
    if s.backfill_blocks:
        stats["escalation_mean"] = _mean(s.escalation_sum, s.escalation_sq, t)
        stats["backfill_mean"] = _mean(s.backfill_sum, s.backfill_sq, t)
        stats["backfill_unevaluated_mean"] = _mean(s.unevaluated_sum, s.unevaluated_sq, t)

    def part(j: int) -> dict[str, Any]:
        return {
            key: [pair[j] for pair in v] if isinstance(v, list) else v[j]
            for key, v in stats.items()
        }

    values, errors = part(0), part(1)
    if s.whole is not None:
        by_cohort = {"escalation": n_mean}
        if s.backfill_blocks:
            by_cohort = {
                "escalation": _mean(s.escalation_sum, s.escalation_sq, t),
                "backfill": _mean(s.backfill_sum, s.backfill_sq, t),
            }
        whole, whole_se = whole_trial_characteristics(
            s.whole, t, indications, by_cohort, futility=futility
        )
        values |= whole
        errors |= whole_se
    return {"trials": t, **values, "se": errors}
