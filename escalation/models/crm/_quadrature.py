"""The fixed quadrature rule over the CRM parameter a.

One fixed rule integrates the posterior, shared by :func:`crm_posterior` and
:func:`crm_posterior_batch`: on [-10, 10] the trapezoidal rule on N uniform intervals with 8th-order
Gregory end corrections, whose error for a smooth peak of standard deviation sigma is about
exp(-2 pi^2 sigma^2 / h^2) at spacing h; on each tail (-inf, -10] and [10, inf) a 16-point
Gauss-Laguerre rule after the substitution a^2 = 10^2 + 2 prior_sd^2 t, which absorbs the prior's
Gaussian decay (for priors wider than sd 10/3, Gauss-Legendre panels out to 12 sd). N depends only on the number of patients n, the model and the prior: the spacing
is at most 0.65 / sqrt(2 n I_max + 1 / prior_sd^2), where I_max is the largest Fisher information
one patient carries about a (0.65 empiric; 3.15 logistic with intercept 3). The factor 2 covers
data that disagree with the model (DLTs at low doses, none at high ones), whose posterior is
sharper than the expected information says. Against an 8192-interval rule and against
scipy.integrate.quad the rule is accurate to about 1e-12 relative for up to 150 patients.
Nodes where the posterior is below e^-46 of the maximum over every 8th node (and one such coarse
cell beyond) are skipped: they change no digit. Probabilities below a point (credible intervals,
overdose probabilities) refine the same rule with 8-point Gauss-Legendre cells where the
posterior is not negligible; :func:`crm_posterior_batch` does so for every dose's overdose
threshold at once, from one table of nodes and weights per rule and target.

References
----------
Gregory end corrections: the Euler-Maclaurin formula, e.g. Davis PJ, Rabinowitz P (1984).
Methods of Numerical Integration, 2nd ed., Academic Press, section 2.9. dfcrm 0.2-2.1 (R
package), functions ``crm`` and ``titecrm`` (the ranges of ``estimate`` and ``post.var``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from escalation.models import _special as special

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# dfcrm integrates the numerators of estimate and post.var over (-A_LIMIT, A_LIMIT)
_A_LIMIT = 10.0
# quadrature: trapezoid spacing per posterior standard deviation, end-correction order, tail and
# cell rule sizes
_STEP_PER_SD = 0.65
_INFO_SAFETY = 2.0
_INTERVAL_QUANTUM = 32
_MIN_INTERVALS = 128
_GREGORY_ORDER = 8
_LAGUERRE_ORDER = 16
# tails by Gauss-Laguerre when 10 >= _LAGUERRE_MIN_SDS prior sds, else Gauss-Legendre panels
_LAGUERRE_MIN_SDS = 3.0
_PANEL_ORDER = 16
_PANEL_REACH_SDS = 12.0
_CELL_ORDER = 8


@dataclass(frozen=True, slots=True, eq=False)
class _Rule:
    """Nodes and weights over the whole line; the core [-10, 10] has uniform spacing ``step``."""

    n_intervals: int
    prior_sd: float
    step: float
    nodes: FloatArray
    core: slice
    left_tail: slice
    right_tail: slice
    weight_full: FloatArray
    # columns: whole-line weights, core weights * a, core weights * a^2 (dfcrm's ranges)
    moment_weights: FloatArray


@lru_cache(maxsize=1)
def _gregory_corrections() -> FloatArray:
    """End corrections c_j (j < order) to the trapezoid rule, exact for polynomials of degree < order.

    Solves sum_j c_j j^q = B_{q+1} / (q + 1) for odd q and 0 for even q (Euler-Maclaurin).
    """
    order = _GREGORY_ORDER
    bern = special.bernoulli(order + 1)
    j = np.arange(order, dtype=np.float64)
    vander = np.vander(j, order, increasing=True).T
    rhs = np.array([bern[q + 1] / (q + 1) if q % 2 == 1 else 0.0 for q in range(order)])
    corrections = np.linalg.solve(vander, rhs)
    corrections.setflags(write=False)
    return corrections


@lru_cache(maxsize=1)
def _cell_rule() -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [0, 1]."""
    x, w = special.roots_legendre(_CELL_ORDER)
    return (np.asarray(x) + 1.0) / 2.0, np.asarray(w) / 2.0


@lru_cache(maxsize=1)
def _cell_interpolation() -> FloatArray:
    """Matrix taking values at the Gauss-Legendre nodes on [0, 1] to power-series coefficients."""
    x, _ = _cell_rule()
    return np.asarray(np.linalg.inv(np.vander(x, _CELL_ORDER, increasing=True)))


@lru_cache(maxsize=1)
def _laguerre() -> tuple[FloatArray, FloatArray]:
    """Gauss-Laguerre nodes t_k and scaled weights lambda_k exp(t_k)."""
    t, lam = special.roots_laguerre(_LAGUERRE_ORDER)
    return np.asarray(t), np.asarray(np.exp(np.log(lam) + t))


def _tail_nodes(start: float, prior_sd: float) -> tuple[FloatArray, FloatArray]:
    """Nodes and weights for int_start^inf f(a) da, f including the prior exp(-a^2 / 2 sd^2).

    With a^2 = start^2 + 2 sd^2 t, the prior factor is exp(-start^2 / 2 sd^2) exp(-t) and
    da = sd^2 / a dt, so the Gauss-Laguerre weight of node a_k, applied to f(a_k), is
    lambda_k exp(t_k) sd^2 / a_k. The substitution has a branch point at t = -start^2 / 2 sd^2;
    when that is near 0 (a prior wider than start / 3) Gauss-Legendre panels take over, widths
    0.5, 1, 2, ... capped at sd, out to start + 12 sd.
    """
    if start >= _LAGUERRE_MIN_SDS * prior_sd:
        t, scaled = _laguerre()
        a = np.sqrt(start * start + 2.0 * prior_sd * prior_sd * t)
        return a, scaled * prior_sd * prior_sd / a
    return _panel_nodes(start, prior_sd)


@lru_cache(maxsize=256)
def _panel_nodes(start: float, prior_sd: float) -> tuple[FloatArray, FloatArray]:
    x, w = special.roots_legendre(_PANEL_ORDER)
    edges = [0.0]
    width = 0.5
    while edges[-1] < _PANEL_REACH_SDS * prior_sd:
        edges.append(edges[-1] + min(width, prior_sd))
        width *= 2.0
    lo = start + np.array(edges[:-1])
    half = np.diff(edges) / 2.0
    nodes = (lo + half)[:, None] + half[:, None] * np.asarray(x)[None, :]
    weights = half[:, None] * np.asarray(w)[None, :]
    return nodes.ravel(), weights.ravel()


@lru_cache(maxsize=64)
def _rule(n_intervals: int, prior_sd: float) -> _Rule:
    step = 2.0 * _A_LIMIT / n_intervals
    core_nodes = np.linspace(-_A_LIMIT, _A_LIMIT, n_intervals + 1)
    core_w = np.full(n_intervals + 1, step)
    core_w[0] = core_w[-1] = step / 2.0
    corr = _gregory_corrections()
    core_w[: corr.size] += step * corr
    core_w[-corr.size :] += step * corr[::-1]

    tail_a, tail_w = _tail_nodes(_A_LIMIT, prior_sd)
    k = tail_a.size
    nodes = np.concatenate([-tail_a[::-1], core_nodes, tail_a])
    weight_full = np.concatenate([tail_w[::-1], core_w, tail_w])
    weight_core = np.concatenate([np.zeros(k), core_w, np.zeros(k)])
    moments = np.stack([weight_full, weight_core * nodes, weight_core * nodes * nodes], axis=1)
    for arr in (nodes, weight_full, moments):
        arr.setflags(write=False)
    return _Rule(
        n_intervals=n_intervals,
        prior_sd=prior_sd,
        step=step,
        nodes=nodes,
        core=slice(k, k + n_intervals + 1),
        left_tail=slice(0, k),
        right_tail=slice(k + n_intervals + 1, nodes.size),
        weight_full=weight_full,
        moment_weights=np.ascontiguousarray(moments),
    )


@lru_cache(maxsize=16)
def _max_information(model: str, intercept: float) -> float:
    """Largest Fisher information about a carried by one patient, over p in (0, 1)."""
    z = np.linspace(-40.0, 40.0, 160_001)  # logit p
    p = special.expit(z)
    if model == "empiric":
        log_p = -np.logaddexp(0.0, -z)
        info = p * log_p * log_p / special.expit(-z)
    else:
        info = p * (1.0 - p) * (z - intercept) ** 2
    return float(info.max())


def _n_intervals(n_patients: IntArray, model: str, intercept: float, prior_sd: float) -> IntArray:
    """Number of core intervals for data from ``n_patients`` patients (a fixed rule per n)."""
    info = _INFO_SAFETY * n_patients * _max_information(model, intercept) + prior_sd**-2.0
    step = _STEP_PER_SD / np.sqrt(info)
    quanta = np.ceil(2.0 * _A_LIMIT / step / _INTERVAL_QUANTUM).astype(np.int64)
    return np.asarray(np.maximum(_MIN_INTERVALS, quanta * _INTERVAL_QUANTUM), dtype=np.int64)
