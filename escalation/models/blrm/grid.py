"""The BLRM's grid engine (deterministic): see :mod:`escalation.models.blrm`, section Engines."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from escalation.errors import PosteriorComputationError
from escalation.models import _special as special
from escalation.models.blrm.likelihood import _Problem, _Problems
from escalation.models.blrm.prior import BLRMPrior
from escalation.models.blrm.results import QUANTILE_LEVELS, BLRMPosterior, _posterior_result

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# grid engine: initial half-widths of the grid in frame standard deviations (inner axis log(alpha)
# given log(beta), outer axis log(beta)), nodes per standard deviation on each, log-density at the
# edges below which the tails are negligible, passes; quantiles: bracketing scan points and Newton
# steps. Tuned on 221 states of simulated BLRM trials against a grid of 14 nodes per sd to e^-34:
# interval probabilities within 1.6e-5; the outer axis needs fewer nodes than the inner one (its
# trapezoid sums a smooth function of log(beta), whereas the inner axis interpolates the density
# up to a cut), and 8 sds leave one pass per state where 9 sds to e^-20 needed two for half of
# them (about 4x fewer nodes in all)
_HALF_WIDTH = 8.0
_OUTER_HALF_WIDTH = 8.0
_NODES_PER_SD = 5.0
_OUTER_NODES_PER_SD = 5.0
_EDGE_LOG = -14.0
_MAX_PASSES = 8
_SCAN_POINTS = 33
_NEWTON_STEPS = 8
_NEGLIGIBLE = math.exp(-36.0)
_CACHE_SIZE = 4096
# data sets x nodes per chunk of a batched grid pass (a few MB per array)
_CHUNK_NODES = 400_000


@dataclass(frozen=True, slots=True, eq=False)
class _Frames:
    """Grid coordinates of each data set: b = b0 + sd_b v, a = a0 + slope (b - b0) + sd_a u."""

    a0: FloatArray
    b0: FloatArray
    slope: FloatArray
    sd_a: FloatArray
    sd_b: FloatArray

    @classmethod
    def from_moments(cls, mean: FloatArray, cov: FloatArray) -> _Frames:
        """Frames from means (S, 2) and covariances (S, 2, 2) of (a, b)."""
        var_b = cov[:, 1, 1]
        slope = cov[:, 0, 1] / var_b
        var_a = cov[:, 0, 0] - slope * cov[:, 0, 1]
        return cls(
            a0=mean[:, 0].copy(),
            b0=mean[:, 1].copy(),
            slope=slope,
            sd_a=np.sqrt(np.maximum(var_a, 1e-300)),
            sd_b=np.sqrt(var_b),
        )

    def take(self, rows: IntArray) -> _Frames:
        return _Frames(
            a0=self.a0[rows],
            b0=self.b0[rows],
            slope=self.slope[rows],
            sd_a=self.sd_a[rows],
            sd_b=self.sd_b[rows],
        )

    def put(self, rows: IntArray, other: _Frames) -> None:
        """Replace the frames ``rows`` by ``other``'s (in place)."""
        for name in ("a0", "b0", "slope", "sd_a", "sd_b"):
            getattr(self, name)[rows] = getattr(other, name)

    def whiten(self, mean: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Means and standard deviations of (u, v), (S, 2) each, for distributions of (a, b)."""
        t00, t01, t11 = 1.0 / self.sd_a, -self.slope / self.sd_a, 1.0 / self.sd_b
        da, db = mean[:, 0] - self.a0, mean[:, 1] - self.b0
        offset = np.stack([t00 * da + t01 * db, t11 * db], axis=1)
        var_u = t00 * t00 * cov[:, 0, 0] + 2.0 * t00 * t01 * cov[:, 0, 1] + t01 * t01 * cov[:, 1, 1]
        var_v = t11 * t11 * cov[:, 1, 1]
        return offset, np.sqrt(np.maximum(np.stack([var_u, var_v], axis=1), 0.0))


@dataclass(frozen=True, slots=True, eq=False)
class _GridPass:
    """One data set's grid pass."""

    u: FloatArray  # (U,)
    h_u: float
    b: FloatArray  # (V,)
    a_center: FloatArray  # (V,)
    sd_a: float
    density: FloatArray  # (V, U), divided by its maximum
    slope: FloatArray  # (V, U): central-difference derivative of the density in u, times h_u
    cumulative: FloatArray  # (V, U): integral along u of the interpolant from the first node
    row_weight: FloatArray  # (V,) outer trapezoid weights / Z
    mean: FloatArray
    cov: FloatArray


@dataclass(frozen=True, slots=True, eq=False)
class _GridBatch:
    """Grid passes of several data sets on one node layout: the fields of :class:`_GridPass`
    with a leading axis for the data set (``u`` and ``h_u`` shared)."""

    u: FloatArray  # (U,)
    h_u: float
    b: FloatArray  # (S, V)
    a_center: FloatArray  # (S, V)
    sd_a: FloatArray  # (S,)
    density: FloatArray  # (S, V, U)
    slope: FloatArray  # (S, V, U)
    cumulative: FloatArray  # (S, V, U)
    row_weight: FloatArray  # (S, V)
    edge_u: FloatArray  # (S,) max log density on the u edges, relative to the maximum
    edge_v: FloatArray  # (S,)
    mean: FloatArray  # (S, 2)
    cov: FloatArray  # (S, 2, 2)

    def one(self, i: int) -> _GridPass:
        """Data set ``i``'s pass."""
        return _GridPass(
            u=self.u,
            h_u=self.h_u,
            b=self.b[i],
            a_center=self.a_center[i],
            sd_a=float(self.sd_a[i]),
            density=self.density[i],
            slope=self.slope[i],
            cumulative=self.cumulative[i],
            row_weight=self.row_weight[i],
            mean=self.mean[i],
            cov=self.cov[i],
        )


def _grid_batch(problems: _Problems, frame: _Frames, half_u: float, half_v: float) -> _GridBatch:
    """One grid pass of every data set of ``problems`` (each in its own frame)."""
    n_u = math.ceil(2.0 * half_u * _NODES_PER_SD) + 1
    n_v = math.ceil(2.0 * half_v * _OUTER_NODES_PER_SD) + 1
    u = np.linspace(-half_u, half_u, n_u)
    v = np.linspace(-half_v, half_v, n_v)
    h_u, h_v = float(u[1] - u[0]), float(v[1] - v[0])
    b = frame.b0[:, None] + frame.sd_b[:, None] * v[None, :]
    a_center = frame.a0[:, None] + frame.slope[:, None] * (b - frame.b0[:, None])
    n_sets = b.shape[0]
    log_f = problems.grid_log_density(a_center, frame.sd_a, u, b)
    peak = log_f.max(axis=(1, 2), keepdims=True)
    if not np.all(np.isfinite(peak)):  # NaN propagates to the maximum, as does +inf
        raise PosteriorComputationError("the BLRM log posterior is not finite on the grid")
    log_f -= peak
    edge_u = np.maximum(log_f[:, :, 0].max(axis=1), log_f[:, :, -1].max(axis=1))
    edge_v = np.maximum(log_f[:, 0, :].max(axis=1), log_f[:, -1, :].max(axis=1))
    f = np.exp(log_f)
    # Catmull-Rom: cubic Hermite interpolant with central-difference slopes (zero at the ends,
    # where the density is negligible); its integral over a cell is the trapezoid plus
    # h (m_j - m_j+1) / 12, with m the slope times h
    m = np.zeros_like(f)
    m[:, :, 1:-1] = 0.5 * (f[:, :, 2:] - f[:, :, :-2])
    cell = h_u * (0.5 * (f[:, :, :-1] + f[:, :, 1:]) + (m[:, :, :-1] - m[:, :, 1:]) / 12.0)
    cumulative = np.zeros_like(f)
    np.cumsum(cell, axis=2, out=cumulative[:, :, 1:])
    outer = np.full(n_v, h_v)
    outer[[0, -1]] *= 0.5
    total = (cumulative[:, :, -1] * outer[None, :]).sum(axis=1)
    if not np.all(total > 0.0):
        raise PosteriorComputationError("the BLRM posterior could not be normalized")
    row_weight = outer[None, :] / total[:, None]
    # moments of (a, b) from per-row sums: a = a_center + sd_a u along a row
    inner = np.full(n_u, h_u)
    inner[[0, -1]] *= 0.5
    w0 = (f * inner).sum(axis=2) * row_weight  # (S, V): mass per row
    w1 = (f * (inner * u)).sum(axis=2) * row_weight
    w2 = (f * (inner * u * u)).sum(axis=2) * row_weight
    sd_a = frame.sd_a[:, None]
    mean = np.stack([(a_center * w0 + sd_a * w1).sum(axis=1), (b * w0).sum(axis=1)], axis=1)
    da = a_center - mean[:, :1]  # (S, V): a's deviation at u = 0
    db = b - mean[:, 1:]
    cross = da * w0 + sd_a * w1  # sum over the row of mass x (a - mean_a)
    cov = np.empty((n_sets, 2, 2))
    cov[:, 0, 0] = (da * da * w0 + 2.0 * sd_a * da * w1 + sd_a * sd_a * w2).sum(axis=1)
    cov[:, 0, 1] = cov[:, 1, 0] = (db * cross).sum(axis=1)
    cov[:, 1, 1] = (db * db * w0).sum(axis=1)
    return _GridBatch(
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


def _interval_cdf(g: _GridBatch, x: FloatArray, e: FloatArray) -> FloatArray:
    """Pr(eta_d <= e_k), shape (S, D, K), for every data set of the batch, dose ``x`` (D,) and
    point ``e`` (K,): :func:`_eta_cdf`'s rule, row by row."""
    s_n, v_n = g.b.shape
    beta = np.exp(g.b)
    shift = g.a_center[:, None, :] + beta[:, None, :] * x[None, :, None]  # (S, D, V)
    t = (e[None, None, :, None] - shift[:, :, None, :]) / g.sd_a[:, None, None, None]
    n_u = g.u.size
    pos = (t - g.u[0]) / g.h_u
    j = np.clip(np.floor(pos).astype(np.int64), 0, n_u - 2)
    s = np.clip(pos - j, 0.0, 1.0)
    sets = np.arange(s_n)[:, None, None, None]
    rows = np.arange(v_n)[None, None, None, :]
    f0, f1 = g.density[sets, rows, j], g.density[sets, rows, j + 1]
    m0, m1 = g.slope[sets, rows, j], g.slope[sets, rows, j + 1]
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    partial = (
        f0 * (0.5 * s4 - s3 + s)
        + m0 * (0.25 * s4 - 2.0 * s3 / 3.0 + 0.5 * s2)
        + f1 * (s3 - 0.5 * s4)
        + m1 * (0.25 * s4 - s3 / 3.0)
    )
    c = g.cumulative[sets, rows, j] + g.h_u * partial
    inside = (pos > 0.0) & (pos < n_u - 1)
    end = np.broadcast_to(g.cumulative[:, None, None, :, -1], c.shape)
    c = np.where(inside, c, np.where(pos <= 0.0, 0.0, end))
    weighted = c * g.row_weight[:, None, None, :]
    return np.asarray(np.clip(weighted.sum(axis=-1), 0.0, 1.0), dtype=np.float64)


@dataclass(frozen=True, slots=True, eq=False)
class _Enclosed:
    """What :func:`_enclose` returns: per data set, Pr(eta_d <= e_k) (S, D, K), the number of
    passes, the nodes of the last pass and the Laplace mode; the last passes when asked."""

    cdf: FloatArray
    passes: IntArray
    nodes: IntArray  # (S, 2): rows (log beta) and columns (log alpha)
    mode: FloatArray
    grids: list[_GridPass | None]


def _enclose(problems: _Problems, e: FloatArray, *, keep: bool = False) -> _Enclosed:
    """Grid passes that enclose and resolve every data set's posterior, and Pr(eta_d <= e_k).

    The first frame is the Laplace approximation. A pass whose posterior is off-centre (mean more
    than one frame standard deviation away) or narrower than the frame (standard deviation below
    0.6 of the frame's) is redone in the frame of its own moments; a pass whose density at an
    edge is not below e^-20 of the maximum is redone 1.5 times wider on that axis. Data sets go
    through the passes together, in chunks of the same node layout; each one's arithmetic is the
    same as if it were alone (see :class:`_Problems`).
    """
    size = problems.size
    mode, cov = problems.laplace()
    frames = _Frames.from_moments(mode, cov)
    half = np.tile([float(_HALF_WIDTH), float(_OUTER_HALF_WIDTH)], (size, 1))
    out = _Enclosed(
        cdf=np.zeros((size, problems.x.size, e.size)),
        passes=np.zeros(size, dtype=np.int64),
        nodes=np.zeros((size, 2), dtype=np.int64),
        mode=mode,
        grids=[None] * size,
    )
    todo = np.arange(size)
    for passes in range(1, _MAX_PASSES + 1):
        if not todo.size:
            return out
        left = []
        layouts = np.unique(half[todo], axis=0)
        for half_u, half_v in layouts.tolist():
            members = todo[(half[todo, 0] == half_u) & (half[todo, 1] == half_v)]
            nodes = (math.ceil(2 * half_u * _NODES_PER_SD) + 1) * (
                math.ceil(2 * half_v * _OUTER_NODES_PER_SD) + 1
            )
            chunk = max(1, _CHUNK_NODES // nodes)
            for start in range(0, members.size, chunk):
                rows = members[start : start + chunk]
                frame = frames.take(rows)
                g = _grid_batch(problems.take(rows), frame, half_u, half_v)
                offset, spread = frame.whiten(g.mean, g.cov)
                centred = np.all(np.abs(offset) < 1.0, axis=1) & np.all(spread > 0.6, axis=1)
                done = centred & (g.edge_u < _EDGE_LOG) & (g.edge_v < _EDGE_LOG)
                finished = rows[done]
                out.cdf[finished] = _interval_cdf(g, problems.x, e)[done]
                out.passes[finished] = passes
                out.nodes[finished] = g.b.shape[1], g.u.size
                if keep:
                    for i in np.flatnonzero(done).tolist():
                        out.grids[int(rows[i])] = g.one(i)
                refit = ~centred
                if refit.any():
                    frames.put(rows[refit], _Frames.from_moments(g.mean[refit], g.cov[refit]))
                    half[rows[refit]] = _HALF_WIDTH, _OUTER_HALF_WIDTH
                wider = centred & ~done
                half[rows[wider & (g.edge_u >= _EDGE_LOG)], 0] *= 1.5
                half[rows[wider & (g.edge_v >= _EDGE_LOG)], 1] *= 1.5
                left.append(rows[~done])
                logger.debug(
                    "BLRM grid pass %d: %d of %d refitted", passes, (~done).sum(), rows.size
                )
        todo = np.concatenate(left)
    if todo.size:
        raise PosteriorComputationError(
            f"the BLRM grid could not enclose the posterior in {_MAX_PASSES} passes"
        )
    return out


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


def _interval_points(interval: tuple[float, float]) -> FloatArray:
    """The interval's limits on the scale of eta = logit p."""
    lo, hi = interval
    return np.array([float(special.logit(lo)), float(special.logit(hi))])


def _interval_probs(cdf: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Pr(underdosing), Pr(target), Pr(overdosing) from Pr(eta <= logit of each limit)."""
    return cdf[..., 0], np.clip(cdf[..., 1] - cdf[..., 0], 0.0, 1.0), 1.0 - cdf[..., 1]


def _grid_posterior(problem: _Problem, interval: tuple[float, float]) -> BLRMPosterior:
    enclosed = _enclose(_Problems.of([problem]), _interval_points(interval), keep=True)
    full = enclosed.grids[0]
    assert full is not None
    g = _compact(full)
    x = problem.x
    prob_under, prob_target, prob_over = _interval_probs(enclosed.cdf[0])
    quantiles = special.expit(_eta_quantiles(g, x, np.array(QUANTILE_LEVELS)))
    mass = _node_masses(g.row_weight, g.density, g.h_u)
    a = g.a_center[:, None] + g.sd_a * g.u[None, :]
    beta = np.exp(g.b)[:, None]
    mean_p = np.array([float((mass * special.expit(a + beta * xd)).sum()) for xd in x])
    mode = enclosed.mode[0]
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
            "grid_nodes": [int(v) for v in enclosed.nodes[0]],
            "grid_passes": int(enclosed.passes[0]),
            "laplace_mode": [float(mode[0]), float(mode[1])],
        },
    )


def grid_interval_probs(
    template: _Problem, n: IntArray, y: IntArray, interval: tuple[float, float]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Pr(underdosing), Pr(target) and Pr(overdosing), (S, D) each, for S sets of complete data
    ``n``, ``y`` (S, D) on ``template``'s doses and prior: the numbers :func:`_grid_posterior`
    gives each set, to the last bit, computed together."""
    problems = _Problems.complete(template, n, y)
    return _interval_probs(_enclose(problems, _interval_points(interval)).cdf)


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
