"""The quadrature rule applied to many rows of data at once: posterior sums and Pr(a < x_d).

See :mod:`escalation.models.crm._quadrature` for the rule and its accuracy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escalation.errors import PosteriorComputationError
from escalation.models.crm._curves import _DoseCurves
from escalation.models.crm._quadrature import _A_LIMIT, _cell_rule, _Rule, _tail_nodes

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# exp() is slow on arguments far below its underflow threshold: they are raised to this first
_EXP_FLOOR = -700.0
# every _COARSE_STRIDE-th node locates the posterior; nodes more than _WINDOW_LOG below the
# coarse maximum (and one coarse cell beyond) are left out
_COARSE_STRIDE = 8
_WINDOW_LOG = 46.0
# Pr(a < x_d) in the batch integrates only where the posterior is above e^-36 (2e-16) of the
# coarse maximum, and the cells adjoining
_TAIL_WINDOW_LOG = 36.0
_BATCH_CHUNK = 256
# rows per chunk of the overdose pass: its spans are 8 times longer, and narrower chunks waste
# fewer nodes on their union (and keep BLAS products small enough to stay single-threaded)
_TAIL_CHUNK = 64


@dataclass(frozen=True, slots=True, eq=False)
class _GridTable:
    """The dose-toxicity curves and the prior at the nodes of one rule.

    ``design`` has rows log p_d (D rows), log(1 - p_d) (D rows), the log prior and ones, so that
    [y, n - y, 1, -shift] @ design is the log posterior at the nodes minus ``shift``. ``coarse``
    is the same without the ones row at the nodes ``coarse_index`` (every ``_COARSE_STRIDE``-th
    node and the last one).
    """

    design: FloatArray  # (2D + 2, G)
    coarse: FloatArray  # (2D + 1, len(coarse_index))
    coarse_index: IntArray
    log_q: FloatArray  # (G, D)
    tox: FloatArray  # (G, D)


_TABLE_CACHE: dict[tuple[object, ...], _GridTable] = {}
_TABLE_CACHE_SIZE = 128


def _log_posterior_table(curves: _DoseCurves, nodes: FloatArray, prior_sd: float) -> FloatArray:
    """Rows log p_d (D), log(1 - p_d) (D), the log prior and ones at the nodes: (2D + 2, G)."""
    log_p, log_q = curves.log_tox(nodes)
    log_prior = -0.5 * (nodes / prior_sd) ** 2
    design = np.concatenate(
        [log_p.T, log_q.T, log_prior[None, :], np.ones((1, nodes.size))], axis=0
    )
    return np.ascontiguousarray(design)


def _grid_table(curves: _DoseCurves, rule: _Rule) -> _GridTable:
    key = (*curves.key, rule.n_intervals, rule.prior_sd)
    table = _TABLE_CACHE.get(key)
    if table is None:
        n_nodes = rule.nodes.size
        log_p, log_q = curves.log_tox(rule.nodes)
        design = _log_posterior_table(curves, rule.nodes, rule.prior_sd)
        coarse_index = np.unique(np.append(np.arange(0, n_nodes, _COARSE_STRIDE), n_nodes - 1))
        coarse = np.ascontiguousarray(design[:-1, coarse_index])
        log_q = np.ascontiguousarray(log_q)
        tox = np.exp(log_p)
        for arr in (design, coarse, coarse_index, log_q, tox):
            arr.setflags(write=False)
        table = _GridTable(
            design=design, coarse=coarse, coarse_index=coarse_index, log_q=log_q, tox=tox
        )
        if len(_TABLE_CACHE) >= _TABLE_CACHE_SIZE:
            _TABLE_CACHE.pop(next(iter(_TABLE_CACHE)))
        _TABLE_CACHE[key] = table
    return table


@dataclass(frozen=True, slots=True, eq=False)
class _Sums:
    """Integrals of exp(log posterior - shift) for T rows of data."""

    sums: FloatArray  # (T, 3): whole-line mass, core first and second moments (dfcrm's ranges)
    shift: FloatArray  # (T,)
    density: FloatArray | None  # (T, G) exp(log posterior - shift), 0 where negligible
    # (T,): the rule's nodes lo <= i < hi are those evaluated, the others negligible
    lo: IntArray
    hi: IntArray


@dataclass(frozen=True, slots=True, eq=False)
class _PartialTerms:
    """Per row of data, TITE-CRM's terms sum_k log(1 - w_k p_{d_k}(a)) of its partially followed
    patients (0 < w_k < 1), evaluated at any nodes from a table of the distinct (dose, weight)
    pairs.

    ``index`` (rows, K) points into the pairs (K: the most partial patients of any row; a row with
    fewer points the rest at a zero row); ``count`` is each row's number. Each term is computed as
    :class:`~escalation.models.crm._single._SinglePosterior` computes it, and the terms are added
    in the order of ``index`` as numpy's ``sum`` over them adds them, so that a row's TITE terms
    are those of :func:`~escalation.models.crm.crm_posterior` on the same patients given in the
    same order, bit for bit (the rest of the log posterior, a matrix product over many rows,
    agrees to rounding).
    """

    pair_dose: IntArray  # (U,)
    pair_weight: FloatArray  # (U,)
    index: IntArray  # (rows, K), U: no patient
    count: IntArray  # (rows,)

    def table(self, log_q: FloatArray) -> FloatArray:
        """The terms of each pair at the nodes where log(1 - p_d) is ``log_q`` (D, G), and a zero
        row: shape (U + 1, G)."""
        w = self.pair_weight[:, None]
        terms = np.log(w * np.exp(log_q[self.pair_dose]) + (1.0 - w))
        return np.concatenate([terms, np.zeros((1, log_q.shape[1]))], axis=0)

    def sums(self, terms: FloatArray, rows: IntArray) -> FloatArray:
        """Each of ``rows``' sum of its terms (``terms`` from :meth:`table`): (len(rows), G)."""
        index, count = self.index[rows], self.count[rows]
        out = np.zeros((rows.size, terms.shape[1]))
        short = count < 8  # numpy adds fewer than 8 numbers one after the other (zeros add nothing)
        if short.all():
            for k in range(min(index.shape[1], 7)):
                out += terms[index[:, k]]
            return out
        rows_short = np.flatnonzero(short)
        for k in range(min(index.shape[1], 7)):
            out[rows_short] += terms[index[rows_short, k]]
        for n in np.unique(count[~short]).tolist():
            these = np.flatnonzero(count == n)
            out[these] = _pairwise_sum([terms[index[these, k]] for k in range(n)])
        return out


def _pairwise_sum(parts: list[FloatArray]) -> FloatArray:
    """parts[0] + ... + parts[n - 1] (n >= 8) in the order numpy's pairwise summation adds n numbers
    (eight running sums, combined in pairs, then the remainder; n < 128)."""
    n = len(parts)
    acc = [parts[j].copy() for j in range(8)]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            acc[j] += parts[i + j]
        i += 8
    res = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    for k in range(i, n):
        res += parts[k]
    return res


def _posterior_sums(
    counts: IntArray,
    table: _GridTable,
    rule: _Rule,
    extra: FloatArray | None = None,
    *,
    want_density: bool = False,
    tight_log: float | None = None,
    partial: _PartialTerms | None = None,
) -> _Sums:
    """Apply the rule to rows of counts [y_d, n_d - y_d] (T, 2D).

    ``extra`` (G,) is added to every row's log-likelihood (the TITE partial-weight terms of one
    trial); ``partial``, each row's own terms (many trials).

    Two passes: the log posterior at the coarse nodes gives each row its shift (the coarse
    maximum, within a few units of the true one, so exp cannot overflow) and the span of nodes
    where the posterior is not negligible (above shift - ``_WINDOW_LOG``, widened by one coarse
    cell on each side); the fine pass evaluates only that span. Rows are taken in chunks of
    similar spans. Nodes left out carry less than e^-46 of the peak: the sums are those of the
    full rule to rounding.

    The spans returned (``lo``, ``hi``) are those evaluated; with ``tight_log`` they are narrowed
    to the nodes above shift - ``tight_log`` in the fine pass, widened by one node on each side.
    """
    n_rows = counts.shape[0]
    n_nodes = rule.nodes.size
    rows = np.empty((n_rows, counts.shape[1] + 2))
    rows[:, :-2] = counts
    rows[:, -2] = 1.0
    coarse = rows[:, :-1] @ table.coarse
    if extra is not None:
        coarse += extra[table.coarse_index]
    terms = None
    if partial is not None:
        terms = partial.table(np.ascontiguousarray(table.log_q.T))
        coarse += partial.sums(terms[:, table.coarse_index], np.arange(n_rows))
    shift = coarse.max(axis=1)
    rows[:, -1] = -shift
    alive = coarse >= (shift - _WINDOW_LOG)[:, None]
    n_coarse = table.coarse_index.size
    first = np.argmax(alive, axis=1)
    last = np.max(alive * np.arange(n_coarse), axis=1)
    lo = np.where(first > 0, table.coarse_index[np.maximum(first - 1, 0)], 0)
    hi = np.where(
        last < n_coarse - 1, table.coarse_index[np.minimum(last + 1, n_coarse - 1)] + 1, n_nodes
    )

    # rows in the order of their spans, so that a chunk's union of spans stays narrow
    order = np.argsort(lo + hi, kind="stable")
    rows, lo, hi = rows[order], lo[order], hi[order]
    sorted_sums = np.empty((n_rows, 3))
    density = np.zeros((n_rows, n_nodes)) if want_density else None
    floor = None if tight_log is None else math.exp(-tight_log)
    for start in range(0, n_rows, _BATCH_CHUNK):
        chunk = slice(start, start + _BATCH_CHUNK)
        span = slice(int(lo[chunk].min()), int(hi[chunk].max()))
        values = rows[chunk] @ table.design[:, span]
        if extra is not None:
            values += extra[span]
        if partial is not None and terms is not None:
            values += partial.sums(terms[:, span], order[chunk])
        np.maximum(values, _EXP_FLOOR, out=values)
        np.exp(values, out=values)
        sorted_sums[chunk] = values @ rule.moment_weights[span]
        if density is not None:
            density[order[chunk], span] = values
        if floor is not None:
            above = values > floor  # the coarse maximum is among them: never empty
            width = above.shape[1]
            first_above = np.argmax(above, axis=1)
            last_above = width - 1 - np.argmax(above[:, ::-1], axis=1)
            lo[chunk] = span.start + np.maximum(first_above - 1, 0)
            hi[chunk] = span.start + np.minimum(last_above + 2, width)
    sums = np.empty_like(sorted_sums)
    sums[order] = sorted_sums
    span_lo = np.empty(n_rows, dtype=np.int64)
    span_hi = np.empty(n_rows, dtype=np.int64)
    span_lo[order], span_hi[order] = lo, hi
    return _Sums(sums=sums, shift=shift, density=density, lo=span_lo, hi=span_hi)


def _mean_var(sums: FloatArray) -> tuple[FloatArray, FloatArray]:
    total = sums[:, 0]
    if not np.all(np.isfinite(sums)) or not np.all(total > 0.0):
        raise PosteriorComputationError("the CRM posterior could not be normalized")
    mean = sums[:, 1] / total
    var = sums[:, 2] / total - mean * mean
    return mean, var


# ---------------------------------------------------------------------------------------------
# Pr(a < x_d) for many rows of counts at once


@dataclass(frozen=True, slots=True, eq=False)
class _TailTable:
    """Gauss-Legendre nodes of one rule for Pr(a < x_d | data), every dose d at once.

    ``nodes`` increase over the rule's left tail, 8 Gauss-Legendre nodes per core cell (a cell
    holding a threshold x_d is split at it, each piece taking its own 8 nodes) and the rule's right
    tail; ``design`` is the log posterior table there (rows as in :class:`_GridTable`). Column 0
    of ``weights`` integrates over the whole line, column 1 + d below x_d. A threshold beyond
    +/-10 takes the tail rule of :func:`_tail_nodes` starting at |x_d| (``far_design``,
    ``far_weights``, evaluated for every row): the mass below x_d <= -10 directly, below
    x_d >= 10 as the whole line minus the mass beyond, as :class:`_Cdf` does.
    """

    nodes: FloatArray  # (G,)
    design: FloatArray  # (2D + 2, G)
    weights: FloatArray  # (G, D + 1)
    far_design: FloatArray  # (2D + 2, K)
    far_weights: FloatArray  # (K, D + 1)


_TAIL_CACHE: dict[tuple[object, ...], _TailTable] = {}


def _tail_table(curves: _DoseCurves, rule: _Rule, target: float) -> _TailTable:
    key = (*curves.key, rule.n_intervals, rule.prior_sd, target)
    table = _TAIL_CACHE.get(key)
    if table is not None:
        return table
    thresholds = curves.overdose_threshold(target)
    n_doses = thresholds.size
    inner = thresholds[np.isfinite(thresholds) & (np.abs(thresholds) < _A_LIMIT)]
    edges = np.linspace(-_A_LIMIT, _A_LIMIT, rule.n_intervals + 1)
    breaks = np.unique(np.concatenate([edges, inner]))
    width = np.diff(breaks)
    gl_x, gl_w = _cell_rule()
    nodes = np.concatenate(
        [
            rule.nodes[rule.left_tail],
            (breaks[:-1, None] + width[:, None] * gl_x[None, :]).ravel(),
            rule.nodes[rule.right_tail],
        ]
    )
    whole = np.concatenate(
        [
            rule.weight_full[rule.left_tail],
            (width[:, None] * gl_w[None, :]).ravel(),
            rule.weight_full[rule.right_tail],
        ]
    )
    weights = np.zeros((nodes.size, n_doses + 1))
    weights[:, 0] = whole
    far_nodes: list[FloatArray] = []
    far_columns: list[tuple[int, FloatArray]] = []
    for d, x in enumerate(thresholds.tolist()):
        if x == -math.inf:  # p_d(a) never exceeds the target
            continue
        if -_A_LIMIT < x < _A_LIMIT:
            weights[:, 1 + d] = np.where(nodes < x, whole, 0.0)
            continue
        a, w = _tail_nodes(abs(x), rule.prior_sd)
        if x <= -_A_LIMIT:
            far_nodes.append(-a)
            far_columns.append((1 + d, w))
        else:  # the whole line minus the mass beyond x (x = inf: nothing beyond)
            weights[:, 1 + d] = whole
            if math.isfinite(x):
                far_nodes.append(a)
                far_columns.append((1 + d, -w))
    far = np.concatenate(far_nodes) if far_nodes else np.zeros(0)
    far_weights = np.zeros((far.size, n_doses + 1))
    offset = 0
    for column, w in far_columns:
        far_weights[offset : offset + w.size, column] = w
        offset += w.size
    table = _TailTable(
        nodes=nodes,
        design=_log_posterior_table(curves, nodes, rule.prior_sd),
        weights=weights,
        far_design=_log_posterior_table(curves, far, rule.prior_sd),
        far_weights=far_weights,
    )
    for arr in (table.nodes, table.design, table.weights, table.far_design, table.far_weights):
        arr.setflags(write=False)
    if len(_TAIL_CACHE) >= _TABLE_CACHE_SIZE:
        _TAIL_CACHE.pop(next(iter(_TAIL_CACHE)))
    _TAIL_CACHE[key] = table
    return table


def _overdose_probabilities(
    counts: IntArray,
    result: _Sums,
    tails: _TailTable,
    rule: _Rule,
    partial: _PartialTerms | None = None,
) -> FloatArray:
    """Pr(a < x_d | data) for rows of counts [y_d, n_d - y_d] (T, 2D), shape (T, D), and each
    row's TITE terms ``partial``.

    Each row is evaluated over the span ``result`` gives (the cells where the posterior is above
    e^-36 of its peak, and their neighbours: what lies outside moves no probability by 1e-15), with
    the same shift; rows in chunks of similar spans.
    """
    n_rows = counts.shape[0]
    rows = np.empty((n_rows, counts.shape[1] + 2))
    rows[:, :-2] = counts
    rows[:, -2] = 1.0
    rows[:, -1] = -result.shift
    # the span's ends are nodes of the rule: the Gauss-Legendre nodes between them are those of
    # whole cells inside the span, and the rule's own tail nodes inside it
    lo = np.searchsorted(tails.nodes, rule.nodes[result.lo], side="left")
    hi = np.searchsorted(tails.nodes, rule.nodes[result.hi - 1], side="right")
    order = np.argsort(lo + hi, kind="stable")
    mass = np.empty((n_rows, tails.weights.shape[1]))
    n_doses = (tails.design.shape[0] - 2) // 2
    terms = None
    if partial is not None:
        terms = partial.table(np.ascontiguousarray(tails.design[n_doses : 2 * n_doses]))
    for start in range(0, n_rows, _TAIL_CHUNK):
        chunk = order[start : start + _TAIL_CHUNK]
        span = slice(int(lo[chunk].min()), int(hi[chunk].max()))
        values = rows[chunk] @ tails.design[:, span]
        if partial is not None and terms is not None:
            values += partial.sums(terms[:, span], chunk)
        np.maximum(values, _EXP_FLOOR, out=values)
        np.exp(values, out=values)
        mass[chunk] = values @ tails.weights[span]
    if tails.far_weights.shape[0]:
        values = rows @ tails.far_design
        if partial is not None:
            far_q = np.ascontiguousarray(tails.far_design[n_doses : 2 * n_doses])
            values += partial.sums(partial.table(far_q), np.arange(n_rows))
        np.maximum(values, _EXP_FLOOR, out=values)
        mass += np.exp(values) @ tails.far_weights
    total = mass[:, :1]
    if not np.all(np.isfinite(mass)) or not np.all(total > 0.0):
        raise PosteriorComputationError("the CRM posterior could not be normalized")
    return np.asarray(np.clip(mass[:, 1:] / total, 0.0, 1.0), dtype=np.float64)
