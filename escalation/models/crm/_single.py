"""One posterior with everything :class:`CRMPosterior` reports, quantiles included."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escalation.errors import PosteriorComputationError
from escalation.models import _special as special
from escalation.models.crm._checks import _frozen
from escalation.models.crm._curves import _DoseCurves
from escalation.models.crm._grid import _grid_table, _mean_var, _posterior_sums
from escalation.models.crm._quadrature import (
    _A_LIMIT,
    _CELL_ORDER,
    _cell_interpolation,
    _cell_rule,
    _n_intervals,
    _Rule,
    _rule,
    _tail_nodes,
)
from escalation.models.crm.results import CRMPosterior, select_mtd_index

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# log-density below the maximum at which the posterior is negligible (e^-46 ~ 1e-20)
_NEGLIGIBLE_LOG = -46.0
# a Newton step this small (relative to the core spacing) leaves an error of its square
_NEWTON_DONE = 1e-7


@dataclass(frozen=True, slots=True, eq=False)
class _SinglePosterior:
    curves: _DoseCurves
    prior_sd: float
    n_at_dose: IntArray
    dlt_at_dose: IntArray
    partial_dose: IntArray
    partial_weight: FloatArray
    n_patients: int

    def _partial_log_lik(self, log_q: FloatArray) -> FloatArray:
        """Sum over partially followed patients of log(1 - w p), from log(1 - p) (n_points, D)."""
        # 1 - w p = (1 - w) + w (1 - p): two non-negative terms, no cancellation
        w = self.partial_weight
        terms = np.log(w * np.exp(log_q[:, self.partial_dose]) + (1.0 - w))
        return np.asarray(terms.sum(axis=1), dtype=np.float64)

    def _log_lik(self, log_p: FloatArray, log_q: FloatArray) -> FloatArray:
        """Log-likelihood at points whose log p / log(1 - p) (n_points, D) are given."""
        value = log_p @ self.dlt_at_dose.astype(np.float64)
        value += log_q @ (self.n_at_dose - self.dlt_at_dose).astype(np.float64)
        if self.partial_dose.size:
            value += self._partial_log_lik(log_q)
        return np.asarray(value, dtype=np.float64)

    def summarize(
        self, *, target: float, conf_level: float, intervals: bool = True
    ) -> CRMPosterior:
        """Everything :class:`CRMPosterior` reports; the credible intervals (two quantiles, most of
        the time here) only with ``intervals``, NaN otherwise."""
        model, intercept = self.curves.model, self.curves.intercept
        n_intervals = _n_intervals(np.array([self.n_patients]), model, intercept, self.prior_sd)
        rule = _rule(int(n_intervals[0]), self.prior_sd)
        table = _grid_table(self.curves, rule)
        counts = np.concatenate([self.dlt_at_dose, self.n_at_dose - self.dlt_at_dose])[None, :]
        extra = self._partial_log_lik(table.log_q) if self.partial_dose.size else None
        result = _posterior_sums(counts, table, rule, extra, want_density=True)
        assert result.density is not None
        sums = result.sums
        mean_arr, var_arr = _mean_var(sums)
        mean, var = float(mean_arr[0]), float(var_arr[0])
        f, shift = result.density[0], float(result.shift[0])

        crit = float(special.ndtri(0.5 + conf_level / 2.0))
        half = crit * math.sqrt(max(var, 0.0))
        ptox = self.curves.tox(np.array([mean, mean + half, mean - half]))
        total = sums[0, 0]
        prob_tox_mean = (rule.weight_full * f) @ table.tox / total

        cdf = _Cdf(self, rule, f, shift)
        alpha = (1.0 - conf_level) / 2.0
        if intervals:
            a_hi = cdf.quantile(1.0 - alpha)
            a_lo = cdf.quantile(alpha)
            interval = self.curves.tox(np.array([a_hi, a_lo])).T  # p decreases in a
        else:
            interval = np.full((self.curves.skeleton.size, 2), np.nan)
        thresholds = self.curves.overdose_threshold(target)
        overdose = cdf.probability_below(thresholds)
        return CRMPosterior(
            target=target,
            conf_level=conf_level,
            posterior_mean=mean,
            posterior_var=var,
            ptox=_frozen(ptox[0]),
            ptox_lower=_frozen(ptox[1]),
            ptox_upper=_frozen(ptox[2]),
            prob_tox_mean=_frozen(np.clip(prob_tox_mean, 0.0, 1.0)),
            prob_tox_interval=_frozen(np.ascontiguousarray(interval)),
            prob_overdose=_frozen(overdose),
            mtd_index=int(select_mtd_index(ptox[0], target)),
        )

    def log_density(self, a: FloatArray, shift: float) -> FloatArray:
        """log posterior density (unnormalized, minus ``shift``) at arbitrary points."""
        log_p, log_q = self.curves.log_tox(a)
        return self._log_lik(log_p, log_q) - 0.5 * (a / self.prior_sd) ** 2 - shift


class _Cdf:
    """Posterior probabilities below a point.

    The rule's core cells where the posterior is not negligible are integrated by 8-point
    Gauss-Legendre (a cell is narrower than the posterior's scale, so this is exact to rounding);
    a partial cell takes a fresh Gauss-Legendre rule on [cell start, x]; beyond +/-10 the tail
    rule of :func:`_tail_nodes` starts at |x|. Quantiles start from the polynomial through a
    cell's Gauss-Legendre values and finish with a Newton step on the posterior itself.
    """

    def __init__(self, post: _SinglePosterior, rule: _Rule, f: FloatArray, shift: float) -> None:
        self._post = post
        self._rule = rule
        self._shift = shift
        self._gl_x, self._gl_w = _cell_rule()
        left_mass = float(rule.weight_full[rule.left_tail] @ f[rule.left_tail])
        right_mass = float(rule.weight_full[rule.right_tail] @ f[rule.right_tail])

        core_f = f[rule.core]
        alive = np.maximum(core_f[:-1], core_f[1:]) > math.exp(_NEGLIGIBLE_LOG)
        alive[1:] |= alive[:-1].copy()
        alive[:-1] |= alive[1:].copy()
        self._alive = alive
        cells = np.flatnonzero(alive)
        starts = -_A_LIMIT + cells * rule.step
        points = (starts[:, None] + rule.step * self._gl_x[None, :]).ravel()
        values = np.exp(post.log_density(points, shift)).reshape(cells.size, _CELL_ORDER)
        cell_mass = np.zeros(rule.n_intervals)
        cell_mass[cells] = rule.step * (values @ self._gl_w)
        self._cell_mass = cell_mass
        self._cell_row = np.full(rule.n_intervals, -1)
        self._cell_row[cells] = np.arange(cells.size)
        self._cell_values = values
        # _before[j]: mass below the start of core cell j; _before[-1]: mass below +10
        self._before = left_mass + np.concatenate([[0.0], np.cumsum(cell_mass)])
        self._total = float(self._before[-1] + right_mass)

    def _mass_and_density(self, x: float) -> tuple[float, float]:
        """Unnormalized mass below x and density at x."""
        rule = self._rule
        prior_sd = self._post.prior_sd
        if abs(x) >= _A_LIMIT:
            a, w = _tail_nodes(abs(x), prior_sd)
            points = np.append(-a if x < 0 else a, x)
            values = np.exp(self._post.log_density(points, self._shift))
            beyond = float(w @ values[:-1])
            mass = beyond if x < 0 else self._total - beyond
            return mass, float(values[-1])
        j = min(int((x + _A_LIMIT) // rule.step), rule.n_intervals - 1)
        mass = float(self._before[j])
        if not self._alive[j]:
            return mass, 0.0
        start = -_A_LIMIT + j * rule.step
        width = x - start
        points = np.append(start + width * self._gl_x, x)
        values = np.exp(self._post.log_density(points, self._shift))
        return mass + width * float(values[:-1] @ self._gl_w), float(values[-1])

    def probability_below(self, thresholds: FloatArray) -> FloatArray:
        """Pr(a < x) for each x (which may be +/-inf), with one evaluation of the posterior."""
        rule = self._rule
        x = np.clip(thresholds, -1e300, 1e300)
        finite = np.isfinite(thresholds)
        tail = finite & (np.abs(x) >= _A_LIMIT)
        j = np.clip(((x + _A_LIMIT) // rule.step), 0, rule.n_intervals - 1).astype(np.int64)
        core = finite & ~tail
        mass = np.where(core, self._before[np.where(core, j, 0)], 0.0)
        partial = np.flatnonzero(core & self._alive[np.where(core, j, 0)])
        tails = np.flatnonzero(tail)
        starts = -_A_LIMIT + j[partial] * rule.step
        widths = x[partial] - starts
        segment_points = starts[:, None] + widths[:, None] * self._gl_x[None, :]
        tail_nodes = [_tail_nodes(abs(float(x[i])), self._post.prior_sd) for i in tails]
        tail_points = [-a if x[i] < 0 else a for i, (a, _) in zip(tails, tail_nodes, strict=True)]
        points = np.concatenate([segment_points.ravel(), *tail_points])
        values = np.exp(self._post.log_density(points, self._shift))
        n_seg = segment_points.size
        seg_values = values[:n_seg].reshape(partial.size, _CELL_ORDER)
        mass[partial] += widths * (seg_values @ self._gl_w)
        offset = n_seg
        for i, (_, w) in zip(tails, tail_nodes, strict=True):
            beyond = float(w @ values[offset : offset + w.size])
            offset += w.size
            mass[i] = beyond if x[i] < 0 else self._total - beyond
        mass = np.where(thresholds == np.inf, self._total, mass)
        return np.clip(mass / self._total, 0.0, 1.0)

    def _within_cell(self, j: int, mass: float) -> float:
        """Where in core cell j (as a fraction of it) the mass from its start reaches ``mass``.

        Solved on the degree-7 polynomial through the cell's Gauss-Legendre values: accurate to
        about 1e-8, a starting point from which one Newton step on the posterior is exact.
        """
        row = int(self._cell_row[j])
        if row < 0 or self._cell_mass[j] <= 0.0:
            return 0.5
        coef = _cell_interpolation() @ self._cell_values[row]  # p(t) on [0, 1], power basis
        antider = coef / np.arange(1, coef.size + 1)  # int_0^t p = sum antider_i t^(i + 1)
        goal = mass / self._rule.step
        t = min(max(goal / float(self._cell_values[row] @ self._gl_w), 0.0), 1.0)
        lo, hi = 0.0, 1.0
        for _ in range(30):
            value = float(np.polynomial.polynomial.polyval(t, antider)) * t - goal
            slope = float(np.polynomial.polynomial.polyval(t, coef))
            if value > 0.0:
                hi = t
            else:
                lo = t
            new_t = t - value / slope if slope > 0.0 else 0.5 * (lo + hi)
            if not lo <= new_t <= hi:
                new_t = 0.5 * (lo + hi)
            if abs(new_t - t) < 1e-12:
                return new_t
            t = new_t
        return t

    def quantile(self, prob: float) -> float:
        """The a with Pr(a' < a) = prob: Newton steps, kept inside a shrinking bracket."""
        goal = prob * self._total
        rule = self._rule
        reach = _A_LIMIT + 40.0 * self._post.prior_sd
        if goal <= self._before[0]:
            lo, hi = -reach, -_A_LIMIT
            x = hi
        elif goal >= self._before[-1]:
            lo, hi = _A_LIMIT, reach
            x = lo
        else:
            j = int(np.searchsorted(self._before, goal, side="right")) - 1
            j = min(max(j, 0), rule.n_intervals - 1)
            lo = -_A_LIMIT + j * rule.step
            hi = lo + rule.step
            x = lo + rule.step * self._within_cell(j, goal - float(self._before[j]))
        for _ in range(200):
            tol = 1e-14 * max(1.0, abs(x))
            mass, density = self._mass_and_density(x)
            excess = mass - goal
            if excess == 0.0:
                return x
            if excess > 0.0:
                hi = x
            else:
                lo = x
            if density > 0.0:
                step = excess / density
                if abs(step) <= max(tol, _NEWTON_DONE * rule.step):
                    return x - step  # Newton converges quadratically: the step is the error
                if lo < x - step < hi:
                    x -= step
                    continue
            x = 0.5 * (lo + hi)
            if hi - lo <= tol:
                return x
        raise PosteriorComputationError(f"posterior quantile {prob} did not converge")
