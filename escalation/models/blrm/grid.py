"""The BLRM's grid engine (deterministic): see :mod:`escalation.models.blrm`, section Engines."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

from escalation.errors import PosteriorComputationError
from escalation.models.blrm.likelihood import _Problem
from escalation.models.blrm.prior import BLRMPrior
from escalation.models.blrm.results import QUANTILE_LEVELS, BLRMPosterior, _posterior_result

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# grid engine: initial half-width of the grid in frame standard deviations, nodes per standard
# deviation, log-density at the edges below which the tails are negligible, passes; quantiles:
# bracketing scan points and Newton steps
_HALF_WIDTH = 9.0
_NODES_PER_SD = 5.0
_EDGE_LOG = -20.0
_MAX_PASSES = 8
_SCAN_POINTS = 33
_NEWTON_STEPS = 8
_NEGLIGIBLE = math.exp(-36.0)
_CACHE_SIZE = 4096


@dataclass(frozen=True, slots=True)
class _Frame:
    """Grid coordinates: b = b0 + sd_b v, a = a0 + slope (b - b0) + sd_a u."""

    a0: float
    b0: float
    slope: float
    sd_a: float
    sd_b: float

    @classmethod
    def from_moments(cls, mean: FloatArray, cov: FloatArray) -> _Frame:
        var_b = float(cov[1, 1])
        slope = float(cov[0, 1]) / var_b
        var_a = float(cov[0, 0]) - slope * float(cov[0, 1])
        return cls(
            a0=float(mean[0]),
            b0=float(mean[1]),
            slope=slope,
            sd_a=math.sqrt(max(var_a, 1e-300)),
            sd_b=math.sqrt(var_b),
        )

    def whiten(self, mean: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviations of (u, v) for a distribution of (a, b)."""
        t = np.array([[1.0 / self.sd_a, -self.slope / self.sd_a], [0.0, 1.0 / self.sd_b]])
        m = t @ (mean - np.array([self.a0, self.b0]))
        c = t @ cov @ t.T
        return m, np.sqrt(np.maximum(np.diag(c), 0.0))


@dataclass(frozen=True, slots=True, eq=False)
class _GridPass:
    u: FloatArray  # (U,)
    h_u: float
    b: FloatArray  # (V,)
    a_center: FloatArray  # (V,)
    sd_a: float
    density: FloatArray  # (V, U), divided by its maximum
    slope: FloatArray  # (V, U): central-difference derivative of the density in u, times h_u
    cumulative: FloatArray  # (V, U): integral along u of the interpolant from the first node
    row_weight: FloatArray  # (V,) outer trapezoid weights / Z
    edge_u: float  # max log density on the u edges, relative to the maximum
    edge_v: float
    mean: FloatArray
    cov: FloatArray


def _grid_pass(problem: _Problem, frame: _Frame, half_u: float, half_v: float) -> _GridPass:
    n_u = math.ceil(2.0 * half_u * _NODES_PER_SD) + 1
    n_v = math.ceil(2.0 * half_v * _NODES_PER_SD) + 1
    u = np.linspace(-half_u, half_u, n_u)
    v = np.linspace(-half_v, half_v, n_v)
    h_u, h_v = float(u[1] - u[0]), float(v[1] - v[0])
    b = frame.b0 + frame.sd_b * v
    a_center = frame.a0 + frame.slope * (b - frame.b0)
    a = a_center[:, None] + frame.sd_a * u[None, :]
    log_f = problem.log_density(a, b[:, None])
    if not np.all(np.isfinite(log_f)):
        raise PosteriorComputationError("the BLRM log posterior is not finite on the grid")
    log_f -= float(log_f.max())
    edge_u = float(max(log_f[:, 0].max(), log_f[:, -1].max()))
    edge_v = float(max(log_f[0, :].max(), log_f[-1, :].max()))
    f = np.exp(log_f)
    # Catmull-Rom: cubic Hermite interpolant with central-difference slopes (zero at the ends,
    # where the density is negligible); its integral over a cell is the trapezoid plus
    # h (m_j - m_j+1) / 12, with m the slope times h
    m = np.zeros_like(f)
    m[:, 1:-1] = 0.5 * (f[:, 2:] - f[:, :-2])
    cell = h_u * (0.5 * (f[:, :-1] + f[:, 1:]) + (m[:, :-1] - m[:, 1:]) / 12.0)
    cumulative = np.zeros_like(f)
    np.cumsum(cell, axis=1, out=cumulative[:, 1:])
    outer = np.full(n_v, h_v)
    outer[[0, -1]] *= 0.5
    total = float(outer @ cumulative[:, -1])
    if not total > 0.0:
        raise PosteriorComputationError("the BLRM posterior could not be normalized")
    row_weight = outer / total
    mass = _node_masses(row_weight, f, h_u)
    bb = np.broadcast_to(b[:, None], a.shape)
    mean = np.array([float((mass * a).sum()), float((mass * bb).sum())])
    da, db = a - mean[0], bb - mean[1]
    cov = np.array(
        [
            [float((mass * da * da).sum()), float((mass * da * db).sum())],
            [float((mass * da * db).sum()), float((mass * db * db).sum())],
        ]
    )
    return _GridPass(
        u=u,
        h_u=h_u,
        b=b,
        a_center=a_center,
        sd_a=frame.sd_a,
        density=f,
        slope=m,
        cumulative=cumulative,
        row_weight=row_weight,
        edge_u=edge_u,
        edge_v=edge_v,
        mean=mean,
        cov=cov,
    )


def _node_masses(row_weight: FloatArray, f: FloatArray, h_u: float) -> FloatArray:
    """Posterior mass per node (2-D trapezoid; the density is negligible at the edges)."""
    inner = np.full(f.shape[1], h_u)
    inner[[0, -1]] *= 0.5
    return np.asarray(row_weight[:, None] * f * inner[None, :], dtype=np.float64)


def _eta_cdf(
    g: _GridPass, x: FloatArray, e: FloatArray, *, density: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """Pr(eta_d <= e) and its density, for eta_d = a + exp(b) x_d (``x``, ``e`` broadcast).

    Within each row: the integral of the Catmull-Rom interpolant of the density up to the point;
    across rows: the trapezoidal rule.
    """
    beta = np.exp(g.b)
    shift = g.a_center + beta * x[..., None]  # (..., V)
    t = (e[..., None] - shift) / g.sd_a
    n_u = g.u.size
    pos = (t - g.u[0]) / g.h_u
    j = np.clip(np.floor(pos).astype(np.int64), 0, n_u - 2)
    s = np.clip(pos - j, 0.0, 1.0)
    rows = np.broadcast_to(np.arange(g.b.size), j.shape)
    f0, f1 = g.density[rows, j], g.density[rows, j + 1]
    m0, m1 = g.slope[rows, j], g.slope[rows, j + 1]
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    partial = (
        f0 * (0.5 * s4 - s3 + s)
        + m0 * (0.25 * s4 - 2.0 * s3 / 3.0 + 0.5 * s2)
        + f1 * (s3 - 0.5 * s4)
        + m1 * (0.25 * s4 - s3 / 3.0)
    )
    c = g.cumulative[rows, j] + g.h_u * partial
    inside = (pos > 0.0) & (pos < n_u - 1)
    c = np.where(inside, c, np.where(pos <= 0.0, 0.0, g.cumulative[:, -1]))
    cdf = np.asarray(np.clip((c * g.row_weight).sum(axis=-1), 0.0, 1.0), dtype=np.float64)
    if not density:
        return cdf, None
    dens = (
        f0 * (2 * s3 - 3 * s2 + 1)
        + m0 * (s3 - 2 * s2 + s)
        + f1 * (3 * s2 - 2 * s3)
        + m1 * (s3 - s2)
    )
    dens = np.where(inside, np.maximum(dens, 0.0), 0.0) / g.sd_a
    return cdf, np.asarray((dens * g.row_weight).sum(axis=-1), dtype=np.float64)


@lru_cache(maxsize=_CACHE_SIZE)
def _grid_cached(
    amounts: tuple[float, ...],
    reference_dose: float,
    prior: BLRMPrior,
    n: tuple[int, ...],
    y: tuple[int, ...],
    partial: tuple[tuple[int, float, int], ...],
    interval: tuple[float, float],
) -> BLRMPosterior:
    problem = _Problem.build(amounts, reference_dose, prior, n, y, partial)
    return _grid_posterior(problem, interval)


def _enclosing_pass(problem: _Problem) -> tuple[_GridPass, int, FloatArray]:
    """A grid pass that encloses the posterior and resolves it; the number of passes; the mode.

    The first frame is the Laplace approximation. A pass whose posterior is off-centre (mean more
    than one frame standard deviation away) or narrower than the frame (standard deviation below
    0.6 of the frame's) is redone in the frame of its own moments; a pass whose density at an
    edge is not below e^-20 of the maximum is redone 1.5 times wider on that axis.
    """
    mode, cov = problem.laplace()
    frame = _Frame.from_moments(mode, cov)
    half_u = half_v = _HALF_WIDTH
    for passes in range(1, _MAX_PASSES + 1):
        g = _grid_pass(problem, frame, half_u, half_v)
        offset, spread = frame.whiten(g.mean, g.cov)
        centred = bool(np.all(np.abs(offset) < 1.0) and np.all(spread > 0.6))
        if centred and g.edge_u < _EDGE_LOG and g.edge_v < _EDGE_LOG:
            return g, passes, mode
        logger.debug(
            "BLRM grid pass %d: offset %s, spread %s, edges %.1f/%.1f: refitting",
            passes,
            offset,
            spread,
            g.edge_u,
            g.edge_v,
        )
        if not centred:
            frame = _Frame.from_moments(g.mean, g.cov)
            half_u = half_v = _HALF_WIDTH
        else:
            if g.edge_u >= _EDGE_LOG:
                half_u *= 1.5
            if g.edge_v >= _EDGE_LOG:
                half_v *= 1.5
    raise PosteriorComputationError(
        f"the BLRM grid could not enclose the posterior in {_MAX_PASSES} passes"
    )


def _compact(g: _GridPass) -> _GridPass:
    """The pass restricted to the rows and columns where the density is not negligible (e^-36).

    Integrals over the dropped nodes are below 1e-15 relative: the sums are unchanged to
    rounding, and the per-point work of probabilities and quantiles falls by half or more.
    """
    alive = g.density > _NEGLIGIBLE
    rows = np.flatnonzero(alive.any(axis=1))
    cols = np.flatnonzero(alive.any(axis=0))
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, g.b.size)
    c0, c1 = max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 3, g.u.size)
    return replace(
        g,
        u=g.u[c0:c1],
        b=g.b[r0:r1],
        a_center=g.a_center[r0:r1],
        density=g.density[r0:r1, c0:c1],
        slope=g.slope[r0:r1, c0:c1],
        cumulative=g.cumulative[r0:r1, c0:c1],
        row_weight=g.row_weight[r0:r1],
    )


def _grid_posterior(problem: _Problem, interval: tuple[float, float]) -> BLRMPosterior:
    full, passes, mode = _enclosing_pass(problem)
    g = _compact(full)
    x = problem.x
    k = x.size
    lo, hi = interval
    cdf, _ = _eta_cdf(g, x[:, None], np.tile([logit(lo), logit(hi)], (k, 1)), density=False)
    prob_under = cdf[:, 0]
    prob_over = 1.0 - cdf[:, 1]
    prob_target = np.clip(cdf[:, 1] - cdf[:, 0], 0.0, 1.0)
    quantiles = expit(_eta_quantiles(g, x, np.array(QUANTILE_LEVELS)))
    mass = _node_masses(g.row_weight, g.density, g.h_u)
    a = g.a_center[:, None] + g.sd_a * g.u[None, :]
    beta = np.exp(g.b)[:, None]
    mean_p = np.array([float((mass * expit(a + beta * xd)).sum()) for xd in x])
    return _posterior_result(
        "grid",
        problem,
        interval,
        prob_underdose=prob_under,
        prob_target=prob_target,
        prob_overdose=prob_over,
        prob_tox_mean=mean_p,
        quantiles=quantiles,
        param_mean=g.mean,
        param_cov=g.cov,
        converged=True,
        diagnostics={
            "engine": "grid",
            "grid_nodes": [int(full.b.size), int(full.u.size)],
            "grid_passes": passes,
            "laplace_mode": [float(mode[0]), float(mode[1])],
        },
    )


def _eta_quantiles(g: _GridPass, x: FloatArray, levels: FloatArray) -> FloatArray:
    """Quantiles of eta_d, shape (n_doses, n_levels): a bracketing scan, then safeguarded Newton."""
    beta = np.exp(g.b)
    reach = g.sd_a * float(np.abs(g.u).max())
    shifts = g.a_center[None, :] + beta[None, :] * x[:, None]
    lo = shifts.min(axis=1) - reach
    hi = shifts.max(axis=1) + reach
    scan = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _SCAN_POINTS)[None, :]
    scan_cdf, _ = _eta_cdf(g, x[:, None], scan, density=False)
    k = x.size
    index = np.stack(
        [np.searchsorted(scan_cdf[d], levels, side="left") for d in range(k)]
    )  # first scan point with cdf >= level
    index = np.clip(index, 1, _SCAN_POINTS - 1)
    rows = np.arange(k)[:, None]
    lower, upper = scan[rows, index - 1], scan[rows, index]
    point = 0.5 * (lower + upper)
    for _ in range(_NEWTON_STEPS):
        value, dens = _eta_cdf(g, x[:, None], point)
        assert dens is not None
        excess = value - levels[None, :]
        lower = np.where(excess < 0.0, point, lower)
        upper = np.where(excess < 0.0, upper, point)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = point - excess / dens
        ok = np.isfinite(newton) & (newton >= lower) & (newton <= upper)
        point = np.where(ok, newton, 0.5 * (lower + upper))
    return np.asarray(point, dtype=np.float64)
