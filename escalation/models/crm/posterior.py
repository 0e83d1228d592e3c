"""The CRM and TITE-CRM posteriors: one trial's data, counts, or many trials' counts at once.

See :mod:`escalation.models.crm` for the models, the prior and dfcrm's quantities, and
:mod:`escalation.models.crm._quadrature` for the integration.

References
----------
O'Quigley J, Pepe M, Fisher L (1990). Biometrics 46:33-48. Cheung YK, Chappell R (2000).
Biometrics 56:1177-1182. Cheung YK (2011). Dose Finding by the Continual Reassessment Method,
section 3.2. dfcrm 0.2-2.1 (R package), functions ``crm`` and ``titecrm``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidTrialDataError
from escalation.models._counts import unique_rows
from escalation.models.crm._checks import (
    _check_count_matrix,
    _check_patient_matrices,
    _check_patients,
    _check_prior_sd,
    _check_probability,
    _frozen,
)
from escalation.models.crm._curves import (
    DEFAULT_INTERCEPT,
    DEFAULT_PRIOR_SD,
    CRMModel,
    _dose_curves,
    _DoseCurves,
)
from escalation.models.crm._grid import (
    _TAIL_WINDOW_LOG,
    _grid_table,
    _mean_var,
    _overdose_probabilities,
    _PartialTerms,
    _posterior_sums,
    _tail_table,
)
from escalation.models.crm._quadrature import _n_intervals, _rule
from escalation.models.crm._single import _SinglePosterior
from escalation.models.crm.results import CRMPosterior, CRMPosteriorBatch

__all__ = [
    "crm_overdose_thresholds",
    "crm_posterior",
    "crm_posterior_batch",
    "crm_posterior_counts",
    "tite_crm_posterior_batch",
]

IntArray = npt.NDArray[np.int64]


def _checked_curves(
    skeleton: npt.ArrayLike,
    model: CRMModel,
    intercept: float,
    prior_sd: float,
    target: float | None,
    conf_level: float | None = None,
) -> _DoseCurves:
    """The dose curves of a posterior, after checking its prior, and its target and level where
    given."""
    curves = _dose_curves(skeleton, model, intercept)
    _check_prior_sd(prior_sd)
    if target is not None:
        _check_probability(target, "target")
    if conf_level is not None:
        _check_probability(conf_level, "conf_level")
    return curves


def crm_posterior(
    skeleton: npt.ArrayLike,
    dose_index: npt.ArrayLike,
    dlt: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    target: float,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
    prior_sd: float = DEFAULT_PRIOR_SD,
    conf_level: float = 0.90,
    intervals: bool = True,
) -> CRMPosterior:
    """The CRM (or TITE-CRM) posterior after the patients seen so far.

    Parameters
    ----------
    skeleton : array_like
        Prior guesses of the DLT probabilities, strictly increasing in (0, 1), one per dose.
    dose_index : array_like of int
        Per patient, the 0-based index of the dose received.
    dlt : array_like of bool
        Per patient, whether a DLT was observed.
    weight : array_like of float, optional
        Per patient, the TITE-CRM weight in [0, 1] (see :func:`linear_weights`,
        :func:`adaptive_weights`); ``None`` for complete follow-up (CRM). Patients with a DLT
        always weigh 1, whatever is given.
    target : float
        Target DLT probability, in (0, 1).
    model : {"empiric", "logistic"}
        Working dose-toxicity model.
    intercept : float
        Intercept c of the logistic model (ignored by the empiric model).
    prior_sd : float
        Standard deviation of the normal prior of a.
    conf_level : float
        Level of the plug-in bounds ``ptox_lower``/``ptox_upper`` and of ``prob_tox_interval``.
    intervals : bool
        Whether to compute ``prob_tox_interval`` (two posterior quantiles, the costliest part);
        without it the intervals are NaN and every other field is the same to the last digit.

    Returns
    -------
    CRMPosterior

    Raises
    ------
    InvalidDesignError
        For a skeleton, target, model, intercept, prior or level that is not valid.
    InvalidTrialDataError
        For patient arrays of different lengths, unknown doses or weights outside [0, 1].

    References
    ----------
    O'Quigley, Pepe & Fisher (1990), Biometrics 46:33; Cheung & Chappell (2000), Biometrics
    56:1177, equation (2); Cheung (2011), Dose Finding by the Continual Reassessment Method,
    section 3.2; dfcrm 0.2-2.1 ``crm`` and ``titecrm``.

    Examples
    --------
    >>> post = crm_posterior([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1],
    ...                      target=0.2, model="logistic")
    >>> post.mtd_index, round(float(post.prob_overdose[1]), 3)
    (0, 0.857)
    >>> tite = crm_posterior([0.1, 0.2, 0.3, 0.4], [0, 0, 1], [0, 0, 0], [1.0, 1.0, 0.4], target=0.2)
    >>> round(tite.posterior_mean, 4)
    0.5603
    """
    curves = _checked_curves(skeleton, model, intercept, prior_sd, target, conf_level)
    n_doses = curves.skeleton.size
    doses, toxic, weights = _check_patients(dose_index, dlt, weight, n_doses)

    complete = toxic | (weights >= 1.0)
    n_at_dose = np.bincount(doses[complete], minlength=n_doses)
    dlt_at_dose = np.bincount(doses[toxic], minlength=n_doses)
    partial = ~complete & (weights > 0.0)
    return _SinglePosterior(
        curves=curves,
        prior_sd=float(prior_sd),
        n_at_dose=n_at_dose,
        dlt_at_dose=dlt_at_dose,
        partial_dose=doses[partial],
        partial_weight=weights[partial],
        n_patients=int(doses.size),
    ).summarize(target=float(target), conf_level=float(conf_level), intervals=intervals)


def crm_posterior_counts(
    skeleton: npt.ArrayLike,
    n_at_dose: npt.ArrayLike,
    dlt_at_dose: npt.ArrayLike,
    *,
    target: float,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
    prior_sd: float = DEFAULT_PRIOR_SD,
    conf_level: float = 0.90,
    intervals: bool = True,
) -> CRMPosterior:
    """The CRM posterior on complete data given as counts per dose: the same as
    :func:`crm_posterior` on the patients they count, at a cost O(doses) however many
    (``intervals`` as there).

    Examples
    --------
    >>> a = crm_posterior_counts([0.1, 0.2, 0.3, 0.4], [3, 3, 0, 0], [0, 2, 0, 0],
    ...                          target=0.2, model="logistic")
    >>> b = crm_posterior([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1],
    ...                   target=0.2, model="logistic")
    >>> a.posterior_mean == b.posterior_mean
    True
    """
    curves = _checked_curves(skeleton, model, intercept, prior_sd, target, conf_level)
    n_doses = curves.skeleton.size
    n_arr = np.asarray(n_at_dose, dtype=np.int64)
    y_arr = np.asarray(dlt_at_dose, dtype=np.int64)
    if n_arr.shape != (n_doses,) or y_arr.shape != (n_doses,):
        raise InvalidTrialDataError(
            f"one count per dose ({n_doses}) is needed, got {n_arr.shape} and {y_arr.shape}",
            field="n_at_dose",
        )
    if np.any(n_arr < 0) or np.any(y_arr < 0) or np.any(y_arr > n_arr):
        raise InvalidTrialDataError(
            "counts must be >= 0, with no more DLTs than patients", field="dlt_at_dose"
        )
    return _SinglePosterior(
        curves=curves,
        prior_sd=float(prior_sd),
        n_at_dose=n_arr,
        dlt_at_dose=y_arr,
        partial_dose=np.zeros(0, dtype=np.int64),
        partial_weight=np.zeros(0),
        n_patients=int(n_arr.sum()),
    ).summarize(target=float(target), conf_level=float(conf_level), intervals=intervals)


def crm_posterior_batch(
    skeleton: npt.ArrayLike,
    n_at_dose: npt.ArrayLike,
    dlt_at_dose: npt.ArrayLike,
    *,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
    prior_sd: float = DEFAULT_PRIOR_SD,
    target: float | None = None,
) -> CRMPosteriorBatch:
    """dfcrm's estimate, post.var and ptox for many trials with complete follow-up, vectorized.

    Without TITE weights the likelihood depends on the data only through the number of patients
    and of DLTs at each dose. Identical trials are computed once, and each trial is integrated with
    the same rule as :func:`crm_posterior` would use for it, so the two agree to rounding.

    With a ``target``, the result also carries Pr(p_d > target | data) = Pr(a < x_d | data),
    x_d being where p_d(a) = target (p_d decreases in a). It is integrated, as
    :func:`crm_posterior` integrates it, by 8-point Gauss-Legendre on the rule's core cells where
    the posterior is not negligible, the cells holding an x_d split there, and the rule's tails
    beyond +/-10: one table of nodes and weights per rule and target, every x_d at once.

    Parameters
    ----------
    skeleton : array_like
        Prior guesses of the DLT probabilities, strictly increasing in (0, 1), shape (D,).
    n_at_dose : array_like of int
        Shape (T, D): patients treated at each dose, per trial.
    dlt_at_dose : array_like of int
        Shape (T, D): DLTs observed at each dose, per trial.
    model, intercept, prior_sd
        As in :func:`crm_posterior`.
    target : float, optional
        Target DLT probability, in (0, 1): when given, ``prob_overdose`` is computed.

    Returns
    -------
    CRMPosteriorBatch

    Raises
    ------
    InvalidDesignError
        For a skeleton, model, intercept, prior or target that is not valid.
    InvalidTrialDataError
        For count matrices of the wrong shape, negative counts or more DLTs than patients.

    References
    ----------
    O'Quigley, Pepe & Fisher (1990), Biometrics 46:33; Cheung (2011), Dose Finding by the
    Continual Reassessment Method, section 3.2; dfcrm 0.2-2.1 ``crm``.

    Examples
    --------
    >>> batch = crm_posterior_batch([0.1, 0.2, 0.3], [[3, 0, 0], [3, 3, 0]], [[0, 0, 0], [0, 2, 0]])
    >>> batch.ptox.shape, batch.mtd_index(0.2).tolist()
    ((2, 3), [2, 0])
    >>> tails = crm_posterior_batch([0.1, 0.2, 0.3], [[3, 3, 0]], [[0, 2, 0]], target=0.2)
    >>> tails.prob_overdose.round(3).tolist()
    [[0.58, 0.838, 0.952]]
    """
    curves = _checked_curves(skeleton, model, intercept, prior_sd, target)
    n_doses = curves.skeleton.size
    n_arr = _check_count_matrix(n_at_dose, "n_at_dose", n_doses)
    y_arr = _check_count_matrix(dlt_at_dose, "dlt_at_dose", n_doses)
    if n_arr.shape != y_arr.shape:
        raise InvalidTrialDataError(
            f"shape {y_arr.shape} differs from n_at_dose's {n_arr.shape}", field="dlt_at_dose"
        )
    if np.any(y_arr > n_arr):
        t, d = (int(v) for v in np.argwhere(y_arr > n_arr)[0])
        raise InvalidTrialDataError(
            f"{y_arr[t, d]} DLTs among {n_arr[t, d]} patients", field=f"dlt_at_dose[{t}, {d}]"
        )

    counts = np.concatenate([y_arr, n_arr - y_arr], axis=1)
    unique_counts, inverse = unique_rows(counts)
    return _batch_posterior(
        curves, float(prior_sd), target, unique_counts, unique_counts.sum(axis=1), inverse
    )


def tite_crm_posterior_batch(
    skeleton: npt.ArrayLike,
    dose_index: npt.ArrayLike,
    dlt: npt.ArrayLike,
    weight: npt.ArrayLike,
    *,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
    prior_sd: float = DEFAULT_PRIOR_SD,
    target: float | None = None,
) -> CRMPosteriorBatch:
    """dfcrm's estimate, post.var and ptox for many trials with TITE-CRM weights, vectorized.

    Row t of the (T, K) arrays holds trial t's patients, as :func:`crm_posterior` takes them for
    one trial (``dose_index`` -1 where a row has fewer than K patients). Patients with a DLT or a
    weight of 1 are counted per dose; those with a weight strictly between 0 and 1 add
    log(1 - w p_d(a)) each, added in the order of dose index then weight (the order in which
    :class:`escalation.TITECRM` gives its patients to :func:`crm_posterior`, so that the two
    compute the same terms and add them alike: they agree to rounding, about 1e-15 in ptox and
    the overdose probabilities); weight 0 adds nothing. Each row is integrated with the rule
    :func:`crm_posterior` uses for its number of patients, and with a ``target`` the result
    carries Pr(p_d > target | data) as :func:`crm_posterior_batch` computes it. The terms are
    computed once per distinct (dose, weight) pair (follow-up in whole days makes few), and
    identical trials once.

    Parameters
    ----------
    skeleton : array_like
        Prior guesses of the DLT probabilities, strictly increasing in (0, 1), shape (D,).
    dose_index : array_like of int
        Shape (T, K): each patient's 0-based dose index, -1 for no patient.
    dlt : array_like of bool
        Shape (T, K): whether a DLT was observed.
    weight : array_like of float
        Shape (T, K): the TITE-CRM weight in [0, 1] (:func:`linear_weights`); patients with a DLT
        weigh 1 whatever is given.
    model, intercept, prior_sd, target
        As in :func:`crm_posterior_batch`.

    Returns
    -------
    CRMPosteriorBatch

    Raises
    ------
    InvalidDesignError
        For a skeleton, model, intercept, prior or target that is not valid.
    InvalidTrialDataError
        For arrays of different shapes, unknown doses or weights outside [0, 1].

    References
    ----------
    Cheung & Chappell (2000), Biometrics 56:1177, equation (2); dfcrm 0.2-2.1 ``titecrm``.

    Examples
    --------
    >>> batch = tite_crm_posterior_batch(
    ...     [0.1, 0.2, 0.3], [[0, 0, 1, -1], [0, 0, 0, 1]], [[0, 1, 0, 0], [0, 0, 0, 0]],
    ...     [[1.0, 0.5, 0.3, 0.0], [1.0, 1.0, 1.0, 0.4]], target=0.2)
    >>> one = crm_posterior([0.1, 0.2, 0.3], [0, 0, 0, 1], [0, 0, 0, 0], [1, 1, 1, 0.4], target=0.2)
    >>> bool(abs(batch.posterior_mean[1] - one.posterior_mean) < 1e-12)
    True
    """
    curves = _checked_curves(skeleton, model, intercept, prior_sd, target)
    n_doses = curves.skeleton.size
    doses, toxic, weights = _check_patient_matrices(dose_index, dlt, weight, n_doses)
    n_rows = doses.shape[0]
    has = doses >= 0
    complete = has & (toxic | (weights >= 1.0))
    partial = has & ~complete & (weights > 0.0)

    flat = np.arange(n_rows)[:, None] * n_doses + np.maximum(doses, 0)
    n_at = np.bincount(flat[complete], minlength=n_rows * n_doses).reshape(n_rows, n_doses)
    y_at = np.bincount(flat[has & toxic], minlength=n_rows * n_doses).reshape(n_rows, n_doses)
    # the partial patients of each row, by dose then weight, as distinct (dose, weight) pairs
    order = np.lexsort((np.where(partial, weights, 0.0), np.where(partial, doses, n_doses)))
    count = partial.sum(axis=1)
    width = int(count.max(initial=0))
    order = order[:, :width]
    sorted_dose = np.take_along_axis(doses, order, axis=1)
    sorted_weight = np.take_along_axis(weights, order, axis=1)
    used = np.arange(width) < count[:, None]
    distinct_weights, weight_code = np.unique(sorted_weight[used], return_inverse=True)
    codes, pair_index = np.unique(
        sorted_dose[used] * distinct_weights.size + weight_code.reshape(-1), return_inverse=True
    )
    pair_dose = codes // max(distinct_weights.size, 1)
    pair_weight = distinct_weights[codes % max(distinct_weights.size, 1)]
    index = np.full((n_rows, width), codes.size, dtype=np.int64)
    index[used] = pair_index.reshape(-1)

    # identical trials once: counts, partial patients and number of patients
    key = np.concatenate([y_at, n_at - y_at, index, has.sum(axis=1)[:, None]], axis=1).astype(
        np.int64
    )
    unique_key, inverse = _distinct_rows(key)
    counts = unique_key[:, : 2 * n_doses]
    u_index = unique_key[:, 2 * n_doses : 2 * n_doses + width]
    u_count = (u_index < codes.size).sum(axis=1)
    n_total = unique_key[:, -1]
    terms = _PartialTerms(
        pair_dose=np.asarray(pair_dose, dtype=np.int64),
        pair_weight=np.asarray(pair_weight, dtype=np.float64),
        index=u_index,
        count=u_count,
    )

    return _batch_posterior(curves, float(prior_sd), target, counts, n_total, inverse, terms)


def _batch_posterior(
    curves: _DoseCurves,
    prior_sd: float,
    target: float | None,
    counts: IntArray,
    n_total: IntArray,
    inverse: IntArray,
    terms: _PartialTerms | None = None,
) -> CRMPosteriorBatch:
    """The posterior of distinct rows of counts [y_d, n_d - y_d] (with their TITE terms), each
    integrated with the rule for its number of patients, spread back to the trials by
    ``inverse``; with a ``target``, Pr(p_d > target | data) too."""
    sums = np.empty((counts.shape[0], 3))
    overdose = None if target is None else np.empty((counts.shape[0], curves.skeleton.size))
    levels = _n_intervals(n_total, curves.model, curves.intercept, prior_sd)
    for level in np.unique(levels):
        rows = np.flatnonzero(levels == level)
        rule = _rule(int(level), prior_sd)
        table = _grid_table(curves, rule)
        these = (
            None
            if terms is None
            else _PartialTerms(
                pair_dose=terms.pair_dose,
                pair_weight=terms.pair_weight,
                index=terms.index[rows],
                count=terms.count[rows],
            )
        )
        tight = None if target is None else _TAIL_WINDOW_LOG
        result = _posterior_sums(counts[rows], table, rule, tight_log=tight, partial=these)
        sums[rows] = result.sums
        if overdose is not None and target is not None:
            tails = _tail_table(curves, rule, float(target))
            overdose[rows] = _overdose_probabilities(counts[rows], result, tails, rule, these)
    mean, var = _mean_var(sums)
    ptox = curves.tox(mean)
    return CRMPosteriorBatch(
        posterior_mean=_frozen(mean[inverse]),
        posterior_var=_frozen(var[inverse]),
        ptox=_frozen(ptox[inverse]),
        target=None if target is None else float(target),
        prob_overdose=None if overdose is None else _frozen(overdose[inverse]),
    )


def _distinct_rows(key: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct rows of an integer matrix and the inverse index, by a 64-bit hash of each row
    (checked: rows that share a hash but differ are told apart by :func:`unique_rows`)."""
    if key.shape[0] == 0:
        return key, np.zeros(0, dtype=np.int64)
    multipliers = np.random.default_rng(0x7E11).integers(1, 2**62, key.shape[1], dtype=np.uint64)
    with np.errstate(over="ignore"):
        hashed = (key.astype(np.uint64) * multipliers).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(key[first][inverse], key):
        return unique_rows(key)
    return key[first], inverse


def crm_overdose_thresholds(
    skeleton: npt.ArrayLike,
    target: float,
    *,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
) -> npt.NDArray[np.float64]:
    """Per dose, the value x_d of the model parameter a at which p_d(a) = target.

    p_d decreases in a, so Pr(p_d > target | data) = Pr(a < x_d | data); -inf where p_d never
    exceeds the target (the logistic model with expit(intercept) <= target).

    Parameters
    ----------
    skeleton : array_like
        Prior guesses of the DLT probabilities, strictly increasing in (0, 1), shape (D,).
    target : float
        Target DLT probability, in (0, 1).
    model, intercept
        As in :func:`crm_posterior`.

    Returns
    -------
    numpy.ndarray
        Shape (D,), increasing with the dose.

    References
    ----------
    Cheung (2011), Dose Finding by the Continual Reassessment Method, section 3.2 (the working
    models); dfcrm 0.2-2.1 ``crm``.

    Examples
    --------
    >>> crm_overdose_thresholds([0.1, 0.2, 0.3], 0.2).round(4).tolist()
    [-0.3581, 0.0, 0.2903]
    """
    curves = _dose_curves(skeleton, model, intercept)
    _check_probability(target, "target")
    return _frozen(curves.overdose_threshold(float(target)))
