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
)
from escalation.models.crm._grid import (
    _TAIL_WINDOW_LOG,
    _grid_table,
    _mean_var,
    _overdose_probabilities,
    _posterior_sums,
    _tail_table,
)
from escalation.models.crm._quadrature import _n_intervals, _rule
from escalation.models.crm._single import _SinglePosterior
from escalation.models.crm.results import CRMPosterior, CRMPosteriorBatch

__all__ = ["crm_posterior", "crm_posterior_batch", "crm_posterior_counts"]


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
    curves = _dose_curves(skeleton, model, intercept)
    _check_prior_sd(prior_sd)
    _check_probability(target, "target")
    _check_probability(conf_level, "conf_level")
    n_doses = curves.skeleton.size
    doses, toxic, weights = _check_patients(dose_index, dlt, weight, n_doses)

    complete = toxic | (weights >= 1.0)
    n_at_dose = np.bincount(doses[complete], minlength=n_doses)
    dlt_at_dose = np.bincount(doses[toxic], minlength=n_doses)
    partial = ~complete & (weights > 0.0)
    posterior = _SinglePosterior(
        curves=curves,
        prior_sd=float(prior_sd),
        n_at_dose=n_at_dose,
        dlt_at_dose=dlt_at_dose,
        partial_dose=doses[partial],
        partial_weight=weights[partial],
        n_patients=int(doses.size),
    )
    return posterior.summarize(
        target=float(target), conf_level=float(conf_level), intervals=intervals
    )


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
    curves = _dose_curves(skeleton, model, intercept)
    _check_prior_sd(prior_sd)
    _check_probability(target, "target")
    _check_probability(conf_level, "conf_level")
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
    posterior = _SinglePosterior(
        curves=curves,
        prior_sd=float(prior_sd),
        n_at_dose=n_arr,
        dlt_at_dose=y_arr,
        partial_dose=np.zeros(0, dtype=np.int64),
        partial_weight=np.zeros(0),
        n_patients=int(n_arr.sum()),
    )
    return posterior.summarize(
        target=float(target), conf_level=float(conf_level), intervals=intervals
    )


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
    curves = _dose_curves(skeleton, model, intercept)
    _check_prior_sd(prior_sd)
    if target is not None:
        _check_probability(target, "target")
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
    n_total = unique_counts.sum(axis=1)
    sums = np.empty((unique_counts.shape[0], 3))
    overdose = None if target is None else np.empty((unique_counts.shape[0], n_doses))
    levels = _n_intervals(n_total, curves.model, curves.intercept, float(prior_sd))
    for level in np.unique(levels):
        rows = np.flatnonzero(levels == level)
        rule = _rule(int(level), float(prior_sd))
        table = _grid_table(curves, rule)
        tight = None if target is None else _TAIL_WINDOW_LOG
        result = _posterior_sums(unique_counts[rows], table, rule, tight_log=tight)
        sums[rows] = result.sums
        if overdose is not None and target is not None:
            tails = _tail_table(curves, rule, float(target))
            overdose[rows] = _overdose_probabilities(unique_counts[rows], result, tails, rule)
    mean, var = _mean_var(sums)
    ptox = curves.tox(mean)
    return CRMPosteriorBatch(
        posterior_mean=_frozen(mean[inverse]),
        posterior_var=_frozen(var[inverse]),
        ptox=_frozen(ptox[inverse]),
        target=None if target is None else float(target),
        prob_overdose=None if overdose is None else _frozen(overdose[inverse]),
    )
