"""Isotonic estimates of DLT probabilities and BOIN's final MTD selection.

This is R's ``BOIN::select.mtd`` (BOIN 2.7.2), step by step:

1. Elimination: the first dose with n >= 3 and Pr(p > target | y, n) > cutoff under a Beta(1, 1)
   prior is eliminated with all higher doses; with extra-safe, dose 1 is also eliminated when that
   probability exceeds cutoff - offset (n1 >= 3).
2. No dose when dose 1 is eliminated or no non-eliminated dose was treated.
3. Over treated, non-eliminated doses: phat = (y + a) / (n + 2a) with a = 0.05 (a Beta(a, a)
   prior), variance (y + a)(n - y + a) / ((n + 2a)^2 (n + 2a + 1)); weighted isotonic regression
   (pool adjacent violators, weights 1 / variance); ties broken by adding i * 1e-10, which picks
   the highest of tied doses below the target and the lowest above it; the dose closest to target.
4. ``bound_mtd``: only doses whose isotonic estimate is <= lambda_d are eligible; none -> no dose.

TITE-BOIN's selection (TITEgBOIN's ``select_mtd_TITE_QuasiBOIN``) is the same with a = 0.005.

The rule is written once, over rows of counts (:func:`select_isotonic_batch`, many trials at
once); :func:`select_isotonic` is its one-row case, with the estimates beside the selection. The
weighted isotonic regression is the max-min formula fit_i = max_{j <= i} min_{k >= i}
mean_w(j..k) over the doses kept (Barlow et al. 1972, theorem 1.4), the values pool-adjacent-
violators finds; doses are few, so the (rows, doses, doses) table of weighted means is small.
tests/test_boin_reference.py reproduces R's selections exactly and its estimates to 1e-9, and
checks the fit against ``scipy.optimize.isotonic_regression`` and the selection against a
restatement of ``select.mtd`` written with it.

References
----------
Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Clin Cancer Res 22:4291-4301 (MTD selection).
Liu S, Yuan Y (2015). JRSS-C 64:507-523, section 2.3.
Barlow RE, Bartholomew DJ, Bremner JM, Brunk HD (1972). Statistical Inference under Order
Restrictions. Wiley, theorem 1.4 (the max-min formula).
BOIN 2.7.2 (R package), ``select.mtd``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidTrialDataError
from escalation.models._counts import unique_rows
from escalation.models.boundaries import beta_overdose_prob, boin_lambdas, elimination_boundary

__all__ = [
    "IsotonicSelection",
    "NoDoseReason",
    "isotonic_estimates",
    "select_isotonic",
    "select_isotonic_batch",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: R's tie-break: i * 1e-10 added to the i-th admissible dose's isotonic estimate
_TIE_BREAK = 1e-10
#: "no number of DLTs" in a table of boundaries
_NEVER = np.iinfo(np.int64).max


class NoDoseReason(StrEnum):
    """Why no dose was selected."""

    NO_PATIENTS = "no_patients"
    LOWEST_ELIMINATED = "lowest_eliminated"
    NONE_ADMISSIBLE = "none_admissible"
    ALL_ABOVE_BOUND = "all_above_bound"


# reason codes of _Selections.reason: 0 is a selected dose
_REASONS: tuple[NoDoseReason | None, ...] = (
    None,
    NoDoseReason.NO_PATIENTS,
    NoDoseReason.LOWEST_ELIMINATED,
    NoDoseReason.NONE_ADMISSIBLE,
    NoDoseReason.ALL_ABOVE_BOUND,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class IsotonicSelection:
    """Result of the isotonic selection; arrays by dose index, NaN for untried doses."""

    dose_index: int | None
    no_dose_reason: NoDoseReason | None
    eliminated: BoolArray
    estimates: FloatArray
    prob_overdose: FloatArray
    raw_estimates: FloatArray


def _shrunk(n: npt.ArrayLike, y: npt.ArrayLike, prior: float) -> tuple[FloatArray, FloatArray]:
    """(y + a) / (n + 2a) and its variance (y + a)(n - y + a) / ((n + 2a)^2 (n + 2a + 1))."""
    nf = np.asarray(n, dtype=np.float64)
    yf = np.asarray(y, dtype=np.float64)
    phat = (yf + prior) / (nf + 2 * prior)
    var = (yf + prior) * (nf - yf + prior) / ((nf + 2 * prior) ** 2 * (nf + 2 * prior + 1))
    return phat, var


@lru_cache(maxsize=64)
def _ordered(n_doses: int) -> BoolArray:
    """[j, k]: j <= k."""
    upper = np.triu(np.ones((n_doses, n_doses), dtype=np.bool_))
    upper.setflags(write=False)
    return upper


def _isotonic_fit(values: FloatArray, weights: FloatArray, keep: BoolArray) -> FloatArray:
    """Weighted isotonic (non-decreasing) regression of each row over its kept doses.

    ``values``, ``weights`` (positive, finite where kept), ``keep``: shape (T, D). The fit over
    the kept doses of a row, in order, is that of pool-adjacent-violators on them alone; NaN at
    the doses not kept. Written as the max-min formula: M[j, k] the weighted mean over the kept
    doses j..k, fit_i = max_{j <= i} min_{k >= i} M[j, k] with j and k kept.
    """
    n_rows, n_doses = values.shape
    cum_w = np.zeros((n_rows, n_doses + 1))
    cum_wv = np.zeros((n_rows, n_doses + 1))
    np.cumsum(np.where(keep, weights, 0.0), axis=1, out=cum_w[:, 1:])
    np.cumsum(np.where(keep, weights * values, 0.0), axis=1, out=cum_wv[:, 1:])
    ordered = _ordered(n_doses)
    valid = ordered & keep[:, :, None] & keep[:, None, :]
    # inner[t, j, k] = M[j, k] where valid, then the minimum over kept k' >= k
    inner = np.divide(
        cum_wv[:, None, 1:] - cum_wv[:, :-1, None],
        cum_w[:, None, 1:] - cum_w[:, :-1, None],
        out=np.full((n_rows, n_doses, n_doses), np.inf),
        where=valid,
    )
    inner = np.minimum.accumulate(inner[:, :, ::-1], axis=2)[:, :, ::-1]
    # fit_i = the maximum over kept j <= i
    fit = np.where(ordered & keep[:, :, None], inner, -np.inf).max(axis=1)
    return np.where(keep, fit, np.nan)


def isotonic_estimates(
    n: npt.ArrayLike, y: npt.ArrayLike, *, prior: float = 0.05
) -> tuple[FloatArray, FloatArray]:
    """Raw and isotonic (weights 1 / variance) DLT probability estimates over the given doses.

    Examples
    --------
    >>> raw, fit = isotonic_estimates([3, 6, 3], [2, 1, 1])
    >>> fit.round(4).tolist()
    [0.3036, 0.3036, 0.3387]
    """
    phat, var = _shrunk(np.atleast_1d(np.asarray(n)), np.atleast_1d(np.asarray(y)), prior)
    keep = np.ones((1, phat.size), dtype=np.bool_)
    return phat, _isotonic_fit(phat[None, :], 1.0 / var[None, :], keep)[0]


#: elimination boundaries are tabulated per (target, cutoff) for n below 32, 64, ..., this
_TABLE_N = 128
_TABLE_STEP = 32


@lru_cache(maxsize=256)
def _boundary_table(target: float, cutoff: float, size: int) -> IntArray:
    """By n = 0..size - 1, :func:`_boundary`."""
    table = np.array([_boundary_at(k, target, cutoff) for k in range(size)], dtype=np.int64)
    table.setflags(write=False)
    return table


def _boundary_at(n: int, target: float, cutoff: float) -> int:
    at_least = elimination_boundary(n, target, cutoff)
    return _NEVER if at_least is None else at_least


def _boundary(n: IntArray, target: float, cutoff: float) -> IntArray:
    """At each entry of n, the fewest DLTs with Pr(p > target | y, n) > cutoff under a Beta(1, 1)
    prior when n >= 3 (:func:`escalation.models.boundaries.elimination_boundary`), else "never"."""
    if n.size == 0:
        return np.zeros(n.shape, dtype=np.int64)
    n_max = int(n.max())
    if n_max < _TABLE_N:
        size = _TABLE_STEP * (n_max // _TABLE_STEP + 1)
        return _boundary_table(float(target), float(cutoff), size)[n]
    counts, inverse = np.unique(n, return_inverse=True)
    at_least = [_boundary_at(k, float(target), float(cutoff)) for k in counts.tolist()]
    return np.array(at_least, dtype=np.int64)[inverse.reshape(n.shape)]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Selections:
    """The rule's outcome for T rows: dose index (-1 none), reason code, eliminated doses; with
    ``describe``, the estimates of :class:`IsotonicSelection` too."""

    dose_index: IntArray  # (T,)
    reason: IntArray  # (T,): index into _REASONS
    eliminated: BoolArray  # (T, D)
    raw_estimates: FloatArray | None = None  # (T, D), over the treated doses
    estimates: FloatArray | None = None  # (T, D), isotonic over the treated doses
    prob_overdose: FloatArray | None = None  # (T, D), isotonic over the treated doses


def _select_rows(
    n: IntArray,
    y: IntArray,
    *,
    target: float,
    cutoff: float,
    extra_safe: bool,
    offset: float,
    lambda_d: float | None,
    prior: float,
    describe: bool = False,
) -> _Selections:
    """The selection rule of the module docstring, for each row of counts (T, D).

    With ``describe``, the isotonic estimates and the isotonic Pr(p > target) under a Beta(a, a)
    prior over the treated doses are fitted beside the selection's (one call for all three).
    """
    n_rows = n.shape[0]
    # 1. elimination: the first dose over the cutoff (n >= 3) and every dose above; with
    #    extra-safe, every dose when the lowest is over cutoff - offset
    over = y >= _boundary(n, target, cutoff)
    eliminated = np.logical_or.accumulate(over, axis=1)
    if extra_safe:
        lowest = y[:, 0] >= _boundary(n[:, 0], target, cutoff - offset)
        eliminated |= lowest[:, None]
    # 2-3. isotonic estimates over the treated, non-eliminated doses, ties broken upwards
    treated = n > 0
    admissible = treated & ~eliminated
    phat, var = _shrunk(n, y, prior)
    if describe:
        tail = beta_overdose_prob(target, n, y, prior, prior)
        fits = _isotonic_fit(
            np.concatenate([phat, phat, tail]),
            np.concatenate([1.0 / var, 1.0 / var, np.ones_like(tail)]),
            np.concatenate([admissible, treated, treated]),
        )
        fit = fits[:n_rows]
    else:
        fit = _isotonic_fit(phat, 1.0 / var, admissible)
    score = fit + np.cumsum(admissible, axis=1) * _TIE_BREAK
    # 4. bound_mtd: only doses whose estimate is <= lambda_d
    eligible = admissible if lambda_d is None else admissible & (score <= lambda_d)
    distance = np.where(eligible, np.abs(score - target), np.inf)
    chosen = np.argmin(distance, axis=1)
    # the first reason that holds, in the order of the module docstring
    reason = np.where(
        ~treated.any(axis=1),
        1,
        np.where(
            eliminated[:, 0],
            2,
            np.where(~admissible.any(axis=1), 3, np.where(~eligible.any(axis=1), 4, 0)),
        ),
    ).astype(np.int64)
    selections = _Selections(
        dose_index=np.where(reason == 0, chosen, -1).astype(np.int64),
        reason=reason,
        eliminated=np.asarray(eliminated),
    )
    if not describe:
        return selections
    return replace(
        selections,
        raw_estimates=np.where(treated, phat, np.nan),
        estimates=fits[n_rows : 2 * n_rows],
        prob_overdose=fits[2 * n_rows :],
    )


def _count_matrices(
    n_at_dose: npt.ArrayLike, dlt_at_dose: npt.ArrayLike
) -> tuple[IntArray, IntArray]:
    """The two count matrices, checked: same (T, D) shape, integer, 0 <= DLTs <= patients."""
    arrays = []
    for name, counts in (("n_at_dose", n_at_dose), ("dlt_at_dose", dlt_at_dose)):
        arr = np.asarray(counts)
        if arr.ndim != 2:
            raise InvalidTrialDataError(
                f"must have shape (n_trials, n_doses), got {arr.shape}", field=name
            )
        if arr.size and arr.dtype.kind not in "iu":
            raise InvalidTrialDataError(f"must hold integer counts, got {arr.dtype}", field=name)
        arrays.append(np.asarray(arr, dtype=np.int64))
    n, y = arrays
    if n.shape != y.shape:
        raise InvalidTrialDataError(
            f"shape {y.shape} differs from n_at_dose's {n.shape}", field="dlt_at_dose"
        )
    bad = (y < 0) | (y > n)
    if bad.any():
        t, d = (int(v) for v in np.argwhere(bad)[0])
        raise InvalidTrialDataError(
            f"{y[t, d]} DLTs among {n[t, d]} patients", field=f"dlt_at_dose[{t}, {d}]"
        )
    return n, y


def _lambda_d(bound_mtd: bool, target: float, phi2: float | None) -> float | None:
    return boin_lambdas(target, None, phi2)[1] if bound_mtd else None


def select_isotonic_batch(
    n_at_dose: npt.ArrayLike,
    dlt_at_dose: npt.ArrayLike,
    *,
    target: float,
    cutoff: float = 0.95,
    extra_safe: bool = False,
    offset: float = 0.05,
    bound_mtd: bool = False,
    phi2: float | None = None,
    prior: float = 0.05,
) -> IntArray:
    """BOIN's final selection (R's ``select.mtd``) for many trials at once.

    The same rule as :func:`select_isotonic` (see the module docstring), row by row; trials with
    the same counts are selected once.

    Parameters
    ----------
    n_at_dose, dlt_at_dose : array_like of int
        Shape (T, D): patients with a complete outcome and DLTs per dose, per trial.
    target : float
        Target DLT probability.
    cutoff : float
        Elimination cutoff on Pr(p > target | data) under a Beta(1, 1) prior.
    extra_safe, offset : bool, float
        Eliminate every dose when the lowest has Pr(p > target) > cutoff - offset (n >= 3).
    bound_mtd : bool
        Only doses whose isotonic estimate is <= lambda_d are eligible.
    phi2 : float, optional
        The toxic rate of lambda_d (default 1.4 target).
    prior : float
        a in the estimate (y + a) / (n + 2a) (0.05 BOIN, 0.005 TITE-BOIN).

    Returns
    -------
    numpy.ndarray
        Shape (T,): the selected dose index per trial, -1 for no dose.

    Raises
    ------
    InvalidTrialDataError
        For count matrices of other shapes, non-integer counts, or DLTs outside 0..n.

    References
    ----------
    Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016), Clin Cancer Res 22:4291; BOIN 2.7.2
    ``select.mtd``.

    Examples
    --------
    >>> select_isotonic_batch([[3, 3, 15, 9, 0], [3, 0, 0, 0, 0]],
    ...                       [[0, 0, 4, 4, 0], [3, 0, 0, 0, 0]], target=0.3).tolist()
    [2, -1]
    """
    n, y = _count_matrices(n_at_dose, dlt_at_dose)
    if n.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    # many trials end with the same counts: select once per distinct (n, y)
    unique, inverse = unique_rows(np.concatenate([n, y], axis=1))
    n_doses = n.shape[1]
    rows = _select_rows(
        unique[:, :n_doses],
        unique[:, n_doses:],
        target=target,
        cutoff=cutoff,
        extra_safe=extra_safe,
        offset=offset,
        lambda_d=_lambda_d(bound_mtd, target, phi2),
        prior=prior,
    )
    return rows.dose_index[inverse]


def select_isotonic(
    n: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    target: float,
    cutoff: float = 0.95,
    extra_safe: bool = False,
    offset: float = 0.05,
    bound_mtd: bool = False,
    phi2: float | None = None,
    prior: float = 0.05,
) -> IsotonicSelection:
    """BOIN's final selection (R's ``select.mtd``) for one trial; see the module docstring.

    The rule of :func:`select_isotonic_batch` on one row, with the estimates: raw and isotonic
    (weights 1 / variance) estimates and the isotonic Pr(p > target) under a Beta(a, a) prior, over
    the treated doses (NaN elsewhere), and the eliminated doses.

    Parameters
    ----------
    n, y : array_like of int
        Shape (D,): patients with a complete outcome and DLTs per dose.
    target, cutoff, extra_safe, offset, bound_mtd, phi2, prior
        As in :func:`select_isotonic_batch`.

    Returns
    -------
    IsotonicSelection

    References
    ----------
    Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016), Clin Cancer Res 22:4291; BOIN 2.7.2
    ``select.mtd``.

    Examples
    --------
    >>> sel = select_isotonic([3, 3, 15, 9, 0], [0, 0, 4, 4, 0], target=0.3)
    >>> sel.dose_index + 1
    3
    """
    n_arr = np.asarray(n, dtype=np.int64).reshape(1, -1)
    y_arr = np.asarray(y, dtype=np.int64).reshape(1, -1)
    rows = _select_rows(
        n_arr,
        y_arr,
        target=target,
        cutoff=cutoff,
        extra_safe=extra_safe,
        offset=offset,
        lambda_d=_lambda_d(bound_mtd, target, phi2),
        prior=prior,
        describe=True,
    )
    assert rows.estimates is not None and rows.prob_overdose is not None
    assert rows.raw_estimates is not None
    index = int(rows.dose_index[0])
    return IsotonicSelection(
        dose_index=None if index < 0 else index,
        no_dose_reason=_REASONS[int(rows.reason[0])],
        eliminated=rows.eliminated[0],
        estimates=rows.estimates[0],
        prob_overdose=rows.prob_overdose[0],
        raw_estimates=rows.raw_estimates[0],
    )
