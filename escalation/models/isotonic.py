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

References
----------
Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Clin Cancer Res 22:4291-4301 (MTD selection).
Liu S, Yuan Y (2015). JRSS-C 64:507-523, section 2.3.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy.optimize import isotonic_regression

from escalation.models.boundaries import beta_overdose_prob, boin_lambdas

__all__ = ["IsotonicSelection", "NoDoseReason", "isotonic_estimates", "select_isotonic"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_TIE_BREAK = 1e-10


class NoDoseReason(StrEnum):
    """Why no dose was selected."""

    NO_PATIENTS = "no_patients"
    LOWEST_ELIMINATED = "lowest_eliminated"
    NONE_ADMISSIBLE = "none_admissible"
    ALL_ABOVE_BOUND = "all_above_bound"


@dataclass(frozen=True, slots=True, kw_only=True)
class IsotonicSelection:
    """Result of the isotonic selection; arrays by dose index, NaN for untried doses."""

    dose_index: int | None
    no_dose_reason: NoDoseReason | None
    eliminated: BoolArray
    estimates: FloatArray
    prob_overdose: FloatArray
    raw_estimates: FloatArray


def _shrunk(n: FloatArray, y: FloatArray, prior: float) -> tuple[FloatArray, FloatArray]:
    phat = (y + prior) / (n + 2 * prior)
    var = (y + prior) * (n - y + prior) / ((n + 2 * prior) ** 2 * (n + 2 * prior + 1))
    return phat, var


def isotonic_estimates(
    n: npt.ArrayLike, y: npt.ArrayLike, *, prior: float = 0.05
) -> tuple[FloatArray, FloatArray]:
    """Raw and isotonic (weighted PAVA) DLT probability estimates over the given doses."""
    n_arr = np.asarray(n, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    phat, var = _shrunk(n_arr, y_arr, prior)
    if phat.size <= 1:
        return phat, phat.copy()
    fitted = isotonic_regression(phat, weights=1.0 / var, increasing=True).x
    return phat, np.asarray(fitted, dtype=np.float64)


def eliminated_doses(
    n: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    target: float,
    cutoff: float = 0.95,
    min_n: int = 3,
) -> BoolArray:
    """The Beta(1, 1) elimination rule: the first dose over the cutoff and every dose above it."""
    n_arr = np.asarray(n)
    over = (n_arr >= min_n) & (beta_overdose_prob(target, n_arr, y) > cutoff)
    return np.asarray(np.cumsum(over) > 0)


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
    """BOIN's final selection (R's ``select.mtd``); see the module docstring.

    Examples
    --------
    >>> sel = select_isotonic([3, 3, 15, 9, 0], [0, 0, 4, 4, 0], target=0.3)
    >>> sel.dose_index + 1
    3
    """
    n_arr = np.asarray(n, dtype=np.int64)
    y_arr = np.asarray(y, dtype=np.int64)
    n_doses = n_arr.size
    eliminated = eliminated_doses(n_arr, y_arr, target=target, cutoff=cutoff)
    if (
        extra_safe
        and n_arr[0] >= 3
        and beta_overdose_prob(target, n_arr[0], y_arr[0]) > cutoff - offset
    ):
        eliminated[:] = True

    treated = n_arr > 0
    raw = np.full(n_doses, np.nan)
    estimates = np.full(n_doses, np.nan)
    prob_overdose = np.full(n_doses, np.nan)
    if treated.any():
        raw[treated], estimates[treated] = isotonic_estimates(
            n_arr[treated], y_arr[treated], prior=prior
        )
        tail = beta_overdose_prob(target, n_arr[treated], y_arr[treated], prior, prior)
        prob_overdose[treated] = (
            isotonic_regression(tail, increasing=True).x if tail.size > 1 else tail
        )

    def result(index: int | None, reason: NoDoseReason | None) -> IsotonicSelection:
        return IsotonicSelection(
            dose_index=index,
            no_dose_reason=reason,
            eliminated=eliminated,
            estimates=estimates,
            prob_overdose=prob_overdose,
            raw_estimates=raw,
        )

    if not treated.any():
        return result(None, NoDoseReason.NO_PATIENTS)
    if eliminated[0]:
        return result(None, NoDoseReason.LOWEST_ELIMINATED)
    admissible = treated & ~eliminated
    if not admissible.any():
        return result(None, NoDoseReason.NONE_ADMISSIBLE)
    adm_index = np.flatnonzero(admissible)
    _, phat = isotonic_estimates(n_arr[admissible], y_arr[admissible], prior=prior)
    phat = phat + np.arange(1, phat.size + 1) * _TIE_BREAK
    if bound_mtd:
        _, lambda_d = boin_lambdas(target, None, phi2)
        eligible = phat <= lambda_d
        if not eligible.any():
            return result(None, NoDoseReason.ALL_ABOVE_BOUND)
        phat, adm_index = phat[eligible], adm_index[eligible]
    return result(int(adm_index[int(np.argmin(np.abs(phat - target)))]), None)
