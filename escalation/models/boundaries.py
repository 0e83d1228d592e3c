"""BOIN interval boundaries and the Beta-posterior elimination boundaries.

The boundaries follow Liu & Yuan (2015): with target phi and the highest DLT rate deemed
sub-therapeutic phi1 and the lowest deemed overly toxic phi2,

    lambda_e = log((1 - phi1) / (1 - phi)) / log(phi (1 - phi1) / (phi1 (1 - phi)))
    lambda_d = log((1 - phi) / (1 - phi2)) / log(phi2 (1 - phi) / (phi (1 - phi2)))

and the decision table is built as R's ``BOIN::get.boundary`` (BOIN 2.7.2) builds it:
escalate if y <= floor(lambda_e n); de-escalate if y >= ceiling(lambda_d n), that integer + 1 when
lambda_d n is itself an integer (de-escalation means y / n > lambda_d, strictly); eliminate from
n >= 3 at the smallest y with Pr(p > phi | y, n) > cutoff under a Beta(1, 1) prior; the
de-escalation boundary is capped at the elimination boundary.

References
----------
Liu S, Yuan Y (2015). Bayesian optimal interval designs for phase I clinical trials. JRSS-C 64:507-523,
equations (2)-(3).
Yuan Y, Hess KR, Hilsenbeck SG, Gilbert MR (2016). Bayesian optimal interval design: a simple and
well-performing design for phase I oncology trials. Clin Cancer Res 22:4291-4301, Table 1.

Examples
--------
>>> from escalation.models.boundaries import boin_lambdas, boundary_row
>>> [round(x, 4) for x in boin_lambdas(0.3)]
[0.2365, 0.3585]
>>> boundary_row(6, target=0.3)
BoundaryRow(n=6, escalate_at_most=1, deescalate_at_least=3, eliminate_at_least=4, stop_lowest_at_least=None)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from escalation.models import _special as special

__all__ = [
    "BoundaryRow",
    "TiteBoinRow",
    "beta_overdose_prob",
    "boin_lambdas",
    "boundary_row",
    "boundary_rows",
    "elimination_boundary",
    "tite_boin_rows",
]

FloatArray = npt.NDArray[np.float64]

#: tolerance under which lambda_d * n counts as an integer (as R's get.boundary)
_INTEGER_TOL = 1e-12


def boin_lambdas(
    target: float, phi1: float | None = None, phi2: float | None = None
) -> tuple[float, float]:
    """The escalation and de-escalation boundaries (lambda_e, lambda_d).

    ``phi1`` defaults to 0.6 target and ``phi2`` to 1.4 target (Liu & Yuan 2015).
    """
    p1 = 0.6 * target if phi1 is None else phi1
    p2 = 1.4 * target if phi2 is None else phi2
    lambda_e = math.log((1 - p1) / (1 - target)) / math.log(target * (1 - p1) / (p1 * (1 - target)))
    lambda_d = math.log((1 - target) / (1 - p2)) / math.log(p2 * (1 - target) / (target * (1 - p2)))
    return lambda_e, lambda_d


def beta_overdose_prob(
    target: float,
    n: npt.ArrayLike,
    y: npt.ArrayLike,
    prior_a: float = 1.0,
    prior_b: float = 1.0,
) -> FloatArray:
    """Pr(p > target | y DLTs in n) under a Beta(prior_a, prior_b) prior, elementwise."""
    n_arr = np.asarray(n, dtype=np.float64)
    y_arr = np.asarray(y, dtype=np.float64)
    return np.asarray(
        special.betaincc(y_arr + prior_a, n_arr - y_arr + prior_b, target), dtype=np.float64
    )


#: up to this n the boundary is found by scanning every y at once; beyond, by bisection (the same
#: answer, as the probability rises with y; the cost of huge counts stays O(log n))
_SCAN_N = 10_000


@lru_cache(maxsize=4096)
def elimination_boundary(n: int, target: float, cutoff: float, min_n: int = 3) -> int | None:
    """Smallest number of DLTs among n that eliminates a dose, or None (n < min_n or never)."""
    if n < min_n:
        return None
    if n <= _SCAN_N:
        y = np.arange(n + 1)
        exceeds = np.flatnonzero(beta_overdose_prob(target, n, y) > cutoff)
        return int(exceeds[0]) if exceeds.size else None

    # Pr(p > target | y, n) rises with y: bisect, O(log n) rather than an array of n + 1
    def exceeds_at(y: int) -> bool:
        return bool(beta_overdose_prob(target, n, y) > cutoff)

    if not exceeds_at(n):
        return None
    lo, hi = -1, n  # exceeds_at(hi) holds; exceeds_at(lo) does not (lo = -1: none below 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if exceeds_at(mid):
            hi = mid
        else:
            lo = mid
    return hi


@dataclass(frozen=True, slots=True)
class BoundaryRow:
    """BOIN's rule for n patients at a dose: escalate if DLTs <= ``escalate_at_most``, and so on.

    ``eliminate_at_least`` is None where no number of DLTs eliminates (n < 3);
    ``stop_lowest_at_least`` is the extra-safe stopping boundary for the lowest dose (None when
    extra-safe is off or n < 3).
    """

    n: int
    escalate_at_most: int
    deescalate_at_least: int
    eliminate_at_least: int | None
    stop_lowest_at_least: int | None = None


@lru_cache(maxsize=8192)
def boundary_row(
    n: int,
    *,
    target: float,
    phi1: float | None = None,
    phi2: float | None = None,
    cutoff: float = 0.95,
    extra_safe: bool = False,
    offset: float = 0.05,
) -> BoundaryRow:
    """BOIN's decision boundaries for ``n`` patients at a dose (R's ``get.boundary``)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    lambda_e, lambda_d = boin_lambdas(target, phi1, phi2)
    escalate = math.floor(lambda_e * n)
    scaled = lambda_d * n
    deescalate = math.ceil(scaled)
    if abs(scaled - round(scaled)) < _INTEGER_TOL:
        deescalate = round(scaled) + 1
    eliminate = elimination_boundary(n, target, cutoff)
    if eliminate is not None:
        deescalate = min(deescalate, eliminate)
    stop_lowest = elimination_boundary(n, target, cutoff - offset) if extra_safe else None
    return BoundaryRow(n, escalate, deescalate, eliminate, stop_lowest)


def boundary_rows(
    n_max: int,
    *,
    target: float,
    phi1: float | None = None,
    phi2: float | None = None,
    cutoff: float = 0.95,
    extra_safe: bool = False,
    offset: float = 0.05,
) -> tuple[BoundaryRow, ...]:
    """The decision table for every n from 1 to ``n_max``."""
    return tuple(
        boundary_row(
            n,
            target=target,
            phi1=phi1,
            phi2=phi2,
            cutoff=cutoff,
            extra_safe=extra_safe,
            offset=offset,
        )
        for n in range(1, n_max + 1)
    )


@dataclass(frozen=True, slots=True)
class TiteBoinRow:
    """TITE-BOIN's rule for n patients at a dose, y observed DLTs and m of them pending.

    ``action`` is ``escalate``, ``stay``, ``de-escalate``, ``eliminate``, ``suspend``, or
    ``depends`` when the decision depends on the standardized total follow-up time (STFT, the sum of
    the pending patients' follow-up fractions, in [0, m)): then escalate when
    STFT >= ``escalate_if_stft_at_least``, de-escalate when STFT <= ``deescalate_if_stft_at_most``,
    stay in between (a missing threshold: that region is empty).
    """

    n: int
    dlt: int
    pending: int
    action: str
    escalate_if_stft_at_least: float | None = None
    deescalate_if_stft_at_most: float | None = None


def tite_boin_rows(
    n_max: int,
    *,
    target: float,
    phi1: float | None = None,
    phi2: float | None = None,
    cutoff: float = 0.95,
    max_pending: float = 0.5,
) -> tuple[TiteBoinRow, ...]:
    """TITE-BOIN's decision table for a middle dose, every n <= ``n_max``, DLT and pending count.

    Closed form of the rule phat = y / (n - m + STFT) against lambda_e and lambda_d (both
    inclusive), with elimination (n >= 3, Beta(1, 1) tail over all n patients > ``cutoff``) before
    suspension (m > ``max_pending`` n), as TITEgBOIN's ``next_TITE_QuasiBOIN``. At the lowest dose a
    de-escalation suspends accrual when patients are pending, and at the highest an escalation
    stays; this table is for a dose with doses above and below.

    References
    ----------
    Yuan Y, Lin R, Li D, Nie L, Warren KE (2018). Clin Cancer Res 24:4921-4930.
    """
    lambda_e, lambda_d = boin_lambdas(target, phi1, phi2)
    rows: list[TiteBoinRow] = []
    for n in range(1, n_max + 1):
        eliminate_at = elimination_boundary(n, target, cutoff)
        for m in range(n + 1):
            for y in range(n - m + 1):
                if eliminate_at is not None and y >= eliminate_at:
                    rows.append(TiteBoinRow(n, y, m, "eliminate"))
                elif m > max_pending * n:
                    rows.append(TiteBoinRow(n, y, m, "suspend"))
                elif y == 0:
                    rows.append(TiteBoinRow(n, y, m, "escalate"))
                else:
                    rows.append(_stft_row(n, y, m, lambda_e, lambda_d))
    return tuple(rows)


def _stft_row(n: int, y: int, m: int, lambda_e: float, lambda_d: float) -> TiteBoinRow:
    # escalate iff STFT >= t_e, de-escalate iff STFT <= t_d, STFT in [0, m)
    t_e = y / lambda_e - (n - m)
    t_d = y / lambda_d - (n - m)
    if m == 0:
        action = "escalate" if t_e <= 0 else "de-escalate" if t_d >= 0 else "stay"
        return TiteBoinRow(n, y, m, action)
    if t_e <= 0:
        return TiteBoinRow(n, y, m, "escalate")
    if t_d >= m:
        return TiteBoinRow(n, y, m, "de-escalate")
    escalate = t_e if t_e < m else None
    deescalate = t_d if t_d >= 0 else None
    if escalate is None and deescalate is None:
        return TiteBoinRow(n, y, m, "stay")
    return TiteBoinRow(n, y, m, "depends", escalate, deescalate)
