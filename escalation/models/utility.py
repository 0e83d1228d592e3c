"""BOIN12's statistics: the utility of toxicity and efficacy, its benchmark, the rank-based
desirability score, admissibility, and the estimates behind the optimal biological dose.

Each patient has one of four outcomes, with a utility each (the paper's u1 to u4, on a 0-100 scale):
efficacy without toxicity (u1, usually 100), neither (u2), both (u3), toxicity without efficacy (u4,
usually 0). With y1..y4 patients of each kind among the n evaluable at a dose, the pseudo-count of
"successes" is x = (u1 y1 + u2 y2 + u3 y3 + u4 y4) / 100, and the dose's utility u (the mean
utility / 100) has the posterior Beta(1 + x, 1 + n - x) under a Beta(1, 1) prior (the
quasi-binomial likelihood of Lin et al. 2020, eq. 2). The desirability of a dose is
Pr(u > u_b | data), u_b = (u_bar + 100) / 2 the utility benchmark, u_bar the utility of a dose
whose toxicity is the target and whose efficacy is the lowest acceptable (independence, as the
paper and its software take it). Ranked over the table of possible outcomes this is the paper's
rank-based desirability score (RDS, Table 3); decisions compare the probabilities themselves, which
order doses as the ranks do.

A dose is admissible while Pr(p_T > target | data) <= c_t and Pr(p_E < efficacy_target | data)
<= c_e (Beta(1, 1) priors); as the software does, a dose is judged once it has at least 3 patients.

References
----------
Lin R, Zhou Y, Yan F, Li D, Yuan Y (2020). BOIN12: Bayesian optimal interval phase I/II trial design
for utility-based dose finding in immunotherapy and targeted therapies. JCO Precision Oncology
4:1393-1402 (section 2, Table 3).

Examples
--------
>>> from escalation.models.utility import utility_benchmark, desirability
>>> u_bar, u_b = utility_benchmark(0.35, 0.25, (100, 40, 60, 0))
>>> round(u_bar, 2), round(u_b, 2)
(41.0, 70.5)
>>> round(float(desirability(3, 0, 3, 0, 0, (100, 40, 60, 0), u_b)), 4)  # 1 - 0.705 ** 4
0.753
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

__all__ = [
    "DesirabilityRow",
    "desirability",
    "desirability_from_x",
    "desirability_table",
    "efficacy_estimates",
    "efficacy_futility_boundary",
    "obd_select_batch",
    "pseudo_successes",
    "utility_benchmark",
    "utility_of_probs",
]

FloatArray = npt.NDArray[np.float64]
Utility = tuple[float, float, float, float]

#: the software judges admissibility only from this many patients at a dose on
MIN_N_ADMISSIBILITY = 3
#: and eliminates a dose for toxicity only from this many DLTs (its boundary search starts there)
MIN_DLT_ELIMINATION = 3


def utility_benchmark(
    target: float, efficacy_target: float, utility: Utility
) -> tuple[float, float]:
    """(u_bar, u_b): the utility of a dose at the target toxicity and lowest acceptable efficacy
    (independent outcomes), and the benchmark halfway between it and 100 (Lin et al. 2020, section 2)."""
    u1, u2, u3, u4 = utility
    pt, pe = target, efficacy_target
    u_bar = u1 * pe * (1 - pt) + u2 * (1 - pe) * (1 - pt) + u3 * pe * pt + u4 * (1 - pe) * pt
    return u_bar, u_bar + (100.0 - u_bar) / 2.0


def utility_of_probs(
    prob_tox: npt.ArrayLike, prob_eff: npt.ArrayLike, utility: Utility, corr: float = 0.0
) -> FloatArray:
    """The mean utility (0-100) of doses with the given marginal toxicity and efficacy
    probabilities; ``corr`` is the correlation of the two binary outcomes (0: independent)."""
    pt = np.asarray(prob_tox, dtype=np.float64)
    pe = np.asarray(prob_eff, dtype=np.float64)
    u1, u2, u3, u4 = utility
    p11 = pt * pe  # toxicity and efficacy
    if corr:
        p11 = p11 + corr * np.sqrt(np.clip(pt * (1 - pt) * pe * (1 - pe), 0.0, None))
    p01 = pe - p11  # efficacy without toxicity
    p10 = pt - p11  # toxicity without efficacy
    p00 = 1 - p11 - p01 - p10
    return np.asarray(u1 * p01 + u2 * p00 + u3 * p11 + u4 * p10, dtype=np.float64)


def pseudo_successes(
    n_eff_only: npt.ArrayLike,
    n_neither: npt.ArrayLike,
    n_both: npt.ArrayLike,
    n_tox_only: npt.ArrayLike,
    utility: Utility,
) -> FloatArray:
    """x = (u1 y1 + u2 y2 + u3 y3 + u4 y4) / 100, elementwise (Lin et al. 2020, eq. 2)."""
    u1, u2, u3, u4 = utility
    return np.asarray(
        (
            u1 * np.asarray(n_eff_only, dtype=np.float64)
            + u2 * np.asarray(n_neither, dtype=np.float64)
            + u3 * np.asarray(n_both, dtype=np.float64)
            + u4 * np.asarray(n_tox_only, dtype=np.float64)
        )
        / 100.0,
        dtype=np.float64,
    )


def desirability_from_x(
    n: npt.ArrayLike, x: npt.ArrayLike, u_b: float, prior_a: float = 1.0, prior_b: float = 1.0
) -> FloatArray:
    """Pr(u > u_b / 100) under the Beta(prior_a + x, prior_b + n - x) posterior, elementwise."""
    from scipy.special import betaincc

    n_arr = np.asarray(n, dtype=np.float64)
    x_arr = np.asarray(x, dtype=np.float64)
    return np.asarray(betaincc(prior_a + x_arr, prior_b + n_arr - x_arr, u_b / 100.0))


def desirability(
    n: npt.ArrayLike,
    n_tox: npt.ArrayLike,
    n_eff: npt.ArrayLike,
    n_both: npt.ArrayLike,
    n_tox_only: npt.ArrayLike | None,
    utility: Utility,
    u_b: float,
) -> FloatArray:
    """The desirability Pr(u > u_b | data) from n patients, n_tox with toxicity, n_eff with
    efficacy, n_both with both (``n_tox_only`` may be None: n_tox - n_both)."""
    n_a = np.asarray(n, dtype=np.float64)
    t = np.asarray(n_tox, dtype=np.float64)
    e = np.asarray(n_eff, dtype=np.float64)
    b = np.asarray(n_both, dtype=np.float64)
    tox_only = t - b if n_tox_only is None else np.asarray(n_tox_only, dtype=np.float64)
    x = pseudo_successes(e - b, n_a - t - e + b, b, tox_only, utility)
    return desirability_from_x(n_a, x, u_b)


def prob_too_toxic(target: float, n: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """Pr(p_T > target | y toxicities among n), Beta(1, 1) prior."""
    from scipy.special import betaincc

    n_a = np.asarray(n, dtype=np.float64)
    y_a = np.asarray(y, dtype=np.float64)
    return np.asarray(betaincc(y_a + 1.0, n_a - y_a + 1.0, target))


def prob_futile(efficacy_target: float, n: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """Pr(p_E < efficacy_target | y responses among n), Beta(1, 1) prior."""
    from scipy.special import betainc

    n_a = np.asarray(n, dtype=np.float64)
    y_a = np.asarray(y, dtype=np.float64)
    return np.asarray(betainc(y_a + 1.0, n_a - y_a + 1.0, efficacy_target))


@lru_cache(maxsize=4096)
def efficacy_futility_boundary(n: int, efficacy_target: float, c_e: float) -> int | None:
    """The largest number of responses among n that makes a dose futile (Pr(p_E < efficacy_target)
    > c_e), or None (n < 3, or no number does)."""
    if n < MIN_N_ADMISSIBILITY:
        return None
    y = np.arange(n + 1)
    futile = np.flatnonzero(prob_futile(efficacy_target, n, y) > c_e)
    return int(futile[-1]) if futile.size else None


@dataclass(frozen=True, slots=True)
class DesirabilityRow:
    """One row of the desirability table: n patients, DLTs and responses, whether the dose is
    admissible and, if so, its rank-based desirability score (``None``: not admissible)."""

    n: int
    dlt: int
    responses: int
    admissible: bool
    probability: float
    score: float | None


def desirability_table(
    sample_sizes: tuple[int, ...],
    *,
    target: float,
    efficacy_target: float,
    utility: Utility,
    c_t: float = 0.95,
    c_e: float = 0.9,
) -> tuple[DesirabilityRow, ...]:
    """The paper's Table 3: for each n in ``sample_sizes`` and every number of DLTs and responses,
    admissibility and the rank-based desirability score.

    The score ranks Pr(u > u_b | data) over the admissible rows of the whole table (ties share
    their average rank, as R's ``rank``). The pseudo-count uses the marginal counts
    x = ((u1 - u2) responses + u2 (n - DLTs) + u4 DLTs) / 100, exact when u1 + u4 = u2 + u3 (the paper's utilities
    100, 40, 60, 0); otherwise the joint counts matter and the table is refused.
    """
    from scipy.stats import rankdata

    u1, u2, u3, u4 = utility
    if abs((u1 + u4) - (u2 + u3)) > 1e-9:
        raise ValueError(
            "the desirability table needs u1 + u4 = u2 + u3 (the utility then depends on the "
            "numbers of DLTs and responses alone)"
        )
    _, u_b = utility_benchmark(target, efficacy_target, utility)
    rows: list[tuple[int, int, int, bool, float]] = []
    for n in sample_sizes:
        for y_t in range(n + 1):
            for y_e in range(n + 1):
                # u1 + u4 = u2 + u3: x depends on the margins only
                x = ((u1 - u2) * y_e + u2 * (n - y_t) + u4 * y_t) / 100.0
                ok = True
                if n >= MIN_N_ADMISSIBILITY:
                    toxic = y_t >= MIN_DLT_ELIMINATION and bool(
                        prob_too_toxic(target, n, y_t) > c_t
                    )
                    ok = not toxic and bool(prob_futile(efficacy_target, n, y_e) <= c_e)
                prob = float(desirability_from_x(n, x, u_b))
                rows.append((n, y_t, y_e, ok, prob))
    admissible = [r for r in rows if r[3]]
    ranks = rankdata([r[4] for r in admissible], method="average")
    rank_of = {id(r): float(k) for r, k in zip(admissible, ranks, strict=True)}
    return tuple(
        DesirabilityRow(
            n=r[0],
            dlt=r[1],
            responses=r[2],
            admissible=r[3],
            probability=r[4],
            score=rank_of.get(id(r)),
        )
        for r in rows
    )


def _increasing_fit(values: FloatArray, weights: FloatArray) -> FloatArray:
    """Weighted isotonic (non-decreasing) regression of each row (pool adjacent violators)."""
    from escalation.models.isotonic import _isotonic_fit

    if values.shape[1] == 0:
        return values.copy()
    return _isotonic_fit(values, weights, np.ones(values.shape, dtype=np.bool_))


def _unimodal_fit(values: FloatArray, weights: FloatArray, mode: int) -> FloatArray:
    """Each row's unimodal fit with its mode at column ``mode``, as R's ``Iso::ufit`` computes it
    (its Fortran ``unimode``): non-decreasing fits left of the mode and non-increasing right of it,
    merged in order of their values (ties: the right part first), the mode's own value last, then
    one weighted non-decreasing fit of that merged sequence mapped back -- with the weights
    placed as ``unimode`` places them (``w1(ind(i)) = w(i)``)."""
    n_rows, n_doses = values.shape
    if mode >= n_doses - 1:
        return _increasing_fit(values, weights)
    if mode <= 0:
        return _increasing_fit(values[:, ::-1], weights[:, ::-1])[:, ::-1]
    left = _increasing_fit(values[:, :mode], weights[:, :mode])
    right = _increasing_fit(values[:, :mode:-1], weights[:, :mode:-1])  # positions D-1 .. mode+1
    merged = np.concatenate([left, right], axis=1)
    origin = np.concatenate([np.arange(mode), np.arange(n_doses - 1, mode, -1)])
    source = np.concatenate([np.ones(mode), np.zeros(n_doses - 1 - mode)])  # right first on ties
    within = np.concatenate([np.arange(mode), np.arange(n_doses - 1 - mode)])
    keys = (
        np.broadcast_to(within, merged.shape),
        np.broadcast_to(source, merged.shape),
        merged,
    )
    order = np.lexsort(keys, axis=-1)
    sorted_values = np.take_along_axis(merged, order, axis=1)
    ind = np.concatenate(
        [origin[order], np.full((n_rows, 1), mode, dtype=np.int64)], axis=1
    )  # merged position -> original column
    sequence = np.concatenate([sorted_values, values[:, mode : mode + 1]], axis=1)
    placed = np.empty_like(weights)
    np.put_along_axis(placed, ind, weights, axis=1)  # unimode's w1(ind(i)) = w(i)
    fit = _increasing_fit(sequence, placed)
    out = np.empty_like(values)
    np.put_along_axis(out, ind, fit, axis=1)
    return out


def efficacy_estimates(n: npt.ArrayLike, n_eff: npt.ArrayLike) -> FloatArray:
    """The MD Anderson BOIN12 software's response-rate estimates (its ``peestimate``), per row:
    unimodal fits of (y + 0.05) / (n + 0.1) with weights n + 0.5 and the mode at each dose in turn
    (:func:`_unimodal_fit`), averaged with weights proportional to their binomial likelihoods,
    plus 0.01 x level (a tie-break)."""
    from scipy.stats import binom

    nf = np.atleast_2d(np.asarray(n, dtype=np.float64))
    yf = np.atleast_2d(np.asarray(n_eff, dtype=np.float64))
    n_doses = nf.shape[1]
    raw = (yf + 0.05) / (nf + 0.1)
    weights = nf + 0.5
    fits = np.stack([_unimodal_fit(raw, weights, m) for m in range(n_doses)], axis=1)
    log_lik = binom.logpmf(yf[:, None, :], nf[:, None, :], fits).sum(axis=2)
    lik = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    lik /= lik.sum(axis=1, keepdims=True)
    return np.asarray(
        np.einsum("rm,rmd->rd", lik, fits) + 0.01 * np.arange(1, n_doses + 1), dtype=np.float64
    )


def obd_select_batch(
    n: npt.ArrayLike,
    n_tox: npt.ArrayLike,
    n_eff: npt.ArrayLike,
    eliminated: npt.ArrayLike,
    *,
    target: float,
    utility: Utility,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray, FloatArray]:
    """BOIN12's optimal biological dose for every row (trial) at once, as MD Anderson's software
    selects it.

    The DLT estimates are the isotonic fit of (y + 0.05) / (n + 0.1) over every dose (weights
    n + 0.1, so an untried dose barely counts) plus 0.001 x level; the MTD is the dose whose
    estimate is closest to ``target``. The response estimates are :func:`efficacy_estimates`. The
    OBD is the treated, admissible (not ``eliminated``) dose at or below the MTD with the highest
    estimated utility (independent outcomes), the lowest among ties; none when no dose qualifies
    (the software then takes dose level 1). Returns the OBD and MTD indices (-1: none) and the DLT
    and utility estimates (NaN at untried doses).
    """
    rows = np.concatenate(
        [np.atleast_2d(np.asarray(a, dtype=np.float64)) for a in (n, n_tox, n_eff, eliminated)],
        axis=1,
    )
    if rows.shape[0] > 1:  # many trials end alike: estimate each distinct ending once
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        if unique.shape[0] < rows.shape[0]:
            k = rows.shape[1] // 4
            out = obd_select_batch(
                unique[:, :k],
                unique[:, k : 2 * k],
                unique[:, 2 * k : 3 * k],
                unique[:, 3 * k :] > 0,
                target=target,
                utility=utility,
            )
            inv = inverse.reshape(-1)
            return out[0][inv], out[1][inv], out[2][inv], out[3][inv]
    nf = np.atleast_2d(np.asarray(n, dtype=np.float64))
    tf = np.atleast_2d(np.asarray(n_tox, dtype=np.float64))
    rf = np.atleast_2d(np.asarray(n_eff, dtype=np.float64))
    elim = np.atleast_2d(np.asarray(eliminated, dtype=np.bool_))
    n_doses = nf.shape[1]
    tried = nf > 0
    tox = _increasing_fit((tf + 0.05) / (nf + 0.1), nf + 0.1) + 0.001 * np.arange(1, n_doses + 1)
    eff = efficacy_estimates(nf, rf)
    util = utility_of_probs(tox, eff, utility)
    mtd = np.argmin(np.abs(tox - target), axis=1)
    any_tried = tried.any(axis=1)
    levels = np.arange(n_doses)[None, :]
    eligible = tried & ~elim & (levels <= mtd[:, None])
    best = np.argmax(np.where(eligible, util, -np.inf), axis=1)
    obd = np.where(any_tried & eligible.any(axis=1), best, -1)
    return (
        np.asarray(obd, dtype=np.int64),
        np.asarray(np.where(any_tried, mtd, -1), dtype=np.int64),
        np.asarray(np.where(tried, tox, np.nan), dtype=np.float64),
        np.asarray(np.where(tried, util, np.nan), dtype=np.float64),
    )
