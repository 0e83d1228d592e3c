"""Exact Bayesian CRM and TITE-CRM posteriors, by numerical integration over the model parameter.

The one-parameter working models of dfcrm 0.2-2.1, for dose index d with skeleton value s_d:

* ``"empiric"`` (power): p_d(a) = s_d ** exp(a);
* ``"logistic"``: logit p_d(a) = c + exp(a) x_d, with x_d = logit(s_d) - c and intercept c (3 by
  default), so that p_d(0) = s_d.

The prior is a ~ N(0, prior_sd^2), prior_sd = sqrt(1.34) by default. A patient treated at dose d
adds log p_d(a) to the log-likelihood when a DLT was observed, and log(1 - w p_d(a)) otherwise,
where w in [0, 1] is the TITE-CRM weight of the follow-up (w = 1 for complete follow-up; a patient
with a DLT always weighs 1). Every quantity is computed in log space with ``log1p``/``expm1``, so
that p_d(a) may be 1 - 1e-5 or 1e-300 without loss.

What dfcrm calls ``estimate`` and ``post.var`` are reproduced with its integration ranges: the
numerators int a L(a) phi(a) da and int a^2 L(a) phi(a) da run over (-10, 10) while the
denominator int L(a) phi(a) da runs over the whole line. ``ptox`` is the dose-toxicity curve at
``estimate`` (a plug-in, not the posterior mean of p_d), and ``ptoxL``/``ptoxU`` the curve at
estimate +/- z sqrt(post.var). Beside them :class:`CRMPosterior` carries the exact posterior mean of
each p_d, its equal-tailed credible interval and Pr(p_d > target | data).

Quadrature
----------
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
O'Quigley J, Pepe M, Fisher L (1990). Continual reassessment method: a practical design for phase 1
clinical trials in cancer. Biometrics 46:33-48.
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182 (weighted likelihood, equation 2; adaptive weights, section 3).
Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method. Clin Trials
6:227-238.
Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC, chapters
3-4 (the empiric and logistic working models, the N(0, 1.34) prior).
dfcrm 0.2-2.1 (R package), functions ``crm`` and ``titecrm``.

Examples
--------
>>> from escalation.models.crm import crm_posterior
>>> skeleton = [0.05, 0.12, 0.25, 0.40, 0.55]
>>> post = crm_posterior(skeleton, dose_index=[0, 0, 0, 1, 1, 1], dlt=[0, 0, 0, 0, 1, 0], target=0.25)
>>> round(post.posterior_mean, 4), post.mtd_index
(-0.2711, 1)
>>> post.ptox.round(3).tolist()
[0.102, 0.199, 0.347, 0.497, 0.634]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy.special import bernoulli, expit, ndtri, roots_laguerre, roots_legendre

from escalation.errors import InvalidDesignError, InvalidTrialDataError, PosteriorComputationError
from escalation.models._counts import unique_rows

__all__ = [
    "DEFAULT_INTERCEPT",
    "DEFAULT_PRIOR_SD",
    "CRMModel",
    "CRMPosterior",
    "CRMPosteriorBatch",
    "adaptive_weights",
    "crm_posterior",
    "crm_posterior_batch",
    "crm_posterior_counts",
    "linear_weights",
    "select_mtd_index",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

CRMModel = Literal["empiric", "logistic"]

#: dfcrm's prior standard deviation of a, sqrt(1.34)
DEFAULT_PRIOR_SD = math.sqrt(1.34)
#: dfcrm's intercept of the one-parameter logistic model
DEFAULT_INTERCEPT = 3.0

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
# log-density below the maximum at which the posterior is negligible (e^-46 ~ 1e-20)
_NEGLIGIBLE_LOG = -46.0
# a Newton step this small (relative to the core spacing) leaves an error of its square
_NEWTON_DONE = 1e-7
# floor for log-probabilities that underflow (p = 0 at an extreme a); finite so that 0 * floor = 0
_LOG_FLOOR = -1e280
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


# ---------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, slots=True, kw_only=True)
class CRMPosterior:
    """The CRM posterior after one set of data; arrays are indexed by dose index (0-based).

    Attributes
    ----------
    target : float
        Target DLT probability.
    conf_level : float
        Level of the plug-in bounds and of the credible intervals.
    posterior_mean : float
        dfcrm's ``estimate``: posterior mean of a, numerator integrated over (-10, 10).
    posterior_var : float
        dfcrm's ``post.var``: E[a^2] - estimate^2 with the same ranges.
    ptox : numpy.ndarray
        dfcrm's ``ptox``: p_d at ``posterior_mean``.
    ptox_lower, ptox_upper : numpy.ndarray
        dfcrm's ``ptoxL``/``ptoxU``: p_d at estimate +/- z sqrt(post.var), z = qnorm((1 + conf) / 2).
    prob_tox_mean : numpy.ndarray
        Posterior mean of p_d.
    prob_tox_interval : numpy.ndarray
        Shape (D, 2): equal-tailed ``conf_level`` credible interval of p_d (lower, upper).
    prob_overdose : numpy.ndarray
        Pr(p_d > target | data).
    mtd_index : int
        dfcrm's ``mtd`` - 1: the dose with ``ptox`` closest to target (see :func:`select_mtd_index`).
    """

    target: float
    conf_level: float
    posterior_mean: float
    posterior_var: float
    ptox: FloatArray
    ptox_lower: FloatArray
    ptox_upper: FloatArray
    prob_tox_mean: FloatArray
    prob_tox_interval: FloatArray
    prob_overdose: FloatArray
    mtd_index: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CRMPosteriorBatch:
    """dfcrm's estimate, post.var and ptox for T trials at once, and optionally Pr(p_d > target).

    Attributes
    ----------
    posterior_mean : numpy.ndarray
        Shape (T,): dfcrm's ``estimate`` per trial.
    posterior_var : numpy.ndarray
        Shape (T,): dfcrm's ``post.var`` per trial.
    ptox : numpy.ndarray
        Shape (T, D): p_d at each trial's ``posterior_mean``.
    target : float or None
        The target of ``prob_overdose``; ``None`` when it was not asked for.
    prob_overdose : numpy.ndarray or None
        Shape (T, D): Pr(p_d > target | data) per trial, as :class:`CRMPosterior` has it;
        ``None`` unless :func:`crm_posterior_batch` was given a ``target``.
    """

    posterior_mean: FloatArray
    posterior_var: FloatArray
    ptox: FloatArray
    target: float | None = None
    prob_overdose: FloatArray | None = None

    def mtd_index(self, target: float) -> IntArray:
        """dfcrm's recommended dose index per trial, shape (T,); see :func:`select_mtd_index`."""
        return select_mtd_index(self.ptox, target)


# ---------------------------------------------------------------------------------------------
# public functions


def select_mtd_index(ptox: npt.ArrayLike, target: float) -> IntArray:
    """dfcrm's recommended dose (0-based) from plug-in DLT probabilities.

    The highest dose when every p_d <= target, the lowest when every p_d >= target, otherwise the
    dose with p_d closest to target, the lowest such dose on exact ties.

    Parameters
    ----------
    ptox : array_like
        Shape (D,) or (T, D): DLT probabilities by dose index along the last axis.
    target : float
        Target DLT probability.

    Returns
    -------
    numpy.ndarray
        Integer dose indices, shape () or (T,).

    Examples
    --------
    >>> select_mtd_index([0.1, 0.22, 0.35], 0.25).tolist()
    1
    >>> select_mtd_index([[0.1, 0.2], [0.5, 0.6]], 0.25).tolist()
    [1, 0]
    """
    p = np.asarray(ptox, dtype=np.float64)
    if p.ndim == 0 or p.shape[-1] == 0:
        raise InvalidTrialDataError(
            f"needs at least one dose along its last axis, got shape {p.shape}", field="ptox"
        )
    closest = np.argmin(np.abs(p - target), axis=-1)
    all_below = np.all(p <= target, axis=-1)
    all_above = np.all(p >= target, axis=-1)
    chosen = np.where(all_below, p.shape[-1] - 1, np.where(all_above, 0, closest))
    return np.asarray(chosen, dtype=np.int64)


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
    return posterior.summarize(target=float(target), conf_level=float(conf_level))


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
) -> CRMPosterior:
    """The CRM posterior on complete data given as counts per dose: the same as
    :func:`crm_posterior` on the patients they count, at a cost O(doses) however many.

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
    return posterior.summarize(target=float(target), conf_level=float(conf_level))


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


def linear_weights(followup_days: npt.ArrayLike, window_days: float) -> FloatArray:
    """TITE-CRM linear weights: min(follow-up / window, 1).

    Patients with a DLT weigh 1 in :func:`crm_posterior` whatever their weight here.

    Parameters
    ----------
    followup_days : array_like of float
        Per patient, days of follow-up so far (for a patient with a DLT: days to the DLT).
    window_days : float
        Length of the DLT observation window.

    Returns
    -------
    numpy.ndarray
        Weights in [0, 1].

    References
    ----------
    Cheung & Chappell (2000), Biometrics 56:1177, section 2; dfcrm 0.2-2.1 ``titecrm``
    (``scheme = "linear"``).

    Examples
    --------
    >>> linear_weights([30, 15, 45, 0], 30).tolist()
    [1.0, 0.5, 1.0, 0.0]
    """
    window = _check_window(window_days)
    followup = _check_followup(followup_days)
    return np.minimum(followup / window, 1.0)


def adaptive_weights(
    followup_days: npt.ArrayLike, dlt: npt.ArrayLike, window_days: float
) -> FloatArray:
    """TITE-CRM adaptive weights of Cheung & Chappell (2000), as dfcrm's ``titecrm`` computes them.

    With z DLTs observed at follow-up times u_1 <= ... <= u_z (all patients pooled), a patient
    followed for t days, m of the u_i being <= t, weighs (m + (t - u_m) / (u_{m+1} - u_m)) / (z + 1),
    with u_0 = 0 (the first piece is t / u_1 / (z + 1)) and u_{z+1} = window; weights are capped at
    1; without any DLT they are linear, t / window. Patients with a DLT weigh 1.

    Parameters
    ----------
    followup_days : array_like of float
        Per patient, days of follow-up so far; for a patient with a DLT, days to the DLT (at most
        the window).
    dlt : array_like of bool
        Per patient, whether a DLT was observed.
    window_days : float
        Length of the DLT observation window.

    Returns
    -------
    numpy.ndarray
        Weights in [0, 1], 1 for patients with a DLT (dfcrm's ``weights`` after ``titecrm``).

    References
    ----------
    Cheung & Chappell (2000), Biometrics 56:1177, section 3; dfcrm 0.2-2.1 ``titecrm``
    (``scheme = "adaptive"``).

    Examples
    --------
    >>> w = adaptive_weights([30, 12, 25, 20, 8], [0, 1, 0, 1, 0], 30)
    >>> w.round(4).tolist()
    [1.0, 1.0, 0.8333, 1.0, 0.2222]
    """
    window = _check_window(window_days)
    followup = _check_followup(followup_days)
    toxic = _check_dlt(dlt, followup.size, "dlt")
    late = np.flatnonzero(toxic & (followup > window))
    if late.size:
        i = int(late[0])
        raise InvalidTrialDataError(
            f"a DLT after {followup[i]} days lies outside the {window}-day window",
            field=f"followup_days[{i}]",
        )
    support = np.sort(followup[toxic])
    z = support.size
    if z == 0:
        weights = followup / window
    else:
        knots = np.concatenate([[0.0], support, [window]])
        m = np.searchsorted(support, followup, side="right")  # number of u_i <= t
        left = knots[m]
        right = knots[m + 1]
        width = right - left
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = np.where(width > 0, (followup - left) / width, 1.0)
        weights = (m + fraction) / (z + 1)
    weights = np.minimum(weights, 1.0)
    weights[toxic] = 1.0
    return weights


# ---------------------------------------------------------------------------------------------
# dose-toxicity curves


@dataclass(frozen=True, slots=True, eq=False)
class _DoseCurves:
    """The working model over the doses: p_d(a) and its logarithms."""

    model: CRMModel
    intercept: float
    skeleton: FloatArray
    # log s_d (empiric) or x_d = logit(s_d) - intercept (logistic)
    param: FloatArray
    key: tuple[object, ...]

    def log_tox(self, a: FloatArray) -> tuple[FloatArray, FloatArray]:
        """log p_d(a) and log(1 - p_d(a)), shape (len(a), D), finite (floored)."""
        a_col = np.asarray(a, dtype=np.float64)[:, None]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            scale = np.exp(a_col)
            if self.model == "empiric":
                log_p = scale * self.param  # exp(a) log s_d <= 0
                log_q = np.log(-np.expm1(log_p))
            else:
                # log p = -softplus(-eta), log(1 - p) = -softplus(eta), sharing log1p(exp(-|eta|))
                eta = self.intercept + scale * self.param
                soft = np.log1p(np.exp(-np.abs(eta)))
                log_p = -(np.maximum(-eta, 0.0) + soft)
                log_q = -(np.maximum(eta, 0.0) + soft)
        # -inf (p = 0 or 1 to double precision at an extreme a) becomes a finite floor
        return np.maximum(log_p, _LOG_FLOOR), np.maximum(log_q, _LOG_FLOOR)

    def tox(self, a: npt.ArrayLike) -> FloatArray:
        """p_d(a), shape (len(a), D), written as dfcrm writes it."""
        a_col = np.asarray(a, dtype=np.float64)[:, None]
        with np.errstate(over="ignore"):
            if self.model == "empiric":
                return np.asarray(np.power(self.skeleton, np.exp(a_col)), dtype=np.float64)
            eta = self.intercept + np.exp(a_col) * self.param
            return np.asarray(expit(eta), dtype=np.float64)

    def overdose_threshold(self, target: float) -> FloatArray:
        """Per dose, the a at which p_d(a) = target (p_d decreases in a); -inf if never reached."""
        if self.model == "empiric":
            return np.log(math.log(target) / self.param)
        numerator = math.log(target / (1.0 - target)) - self.intercept
        if numerator >= 0.0:  # p_d(a) < expit(intercept) <= target for every a
            return np.full(self.param.size, -np.inf)
        return np.log(numerator / self.param)


def _dose_curves(skeleton: npt.ArrayLike, model: str, intercept: float) -> _DoseCurves:
    """The validated working model; the same design's curves are built once."""
    try:
        values = np.asarray(skeleton, dtype=np.float64)
        c = float(intercept)
    except (TypeError, ValueError):
        values, c = np.zeros((0, 0)), math.nan
    if values.ndim != 1 or not math.isfinite(c):
        return _build_dose_curves(skeleton, model, intercept)  # raises the error for the field
    return _cached_dose_curves(tuple(values.tolist()), str(model), c)


@lru_cache(maxsize=64)
def _cached_dose_curves(skeleton: tuple[float, ...], model: str, intercept: float) -> _DoseCurves:
    return _build_dose_curves(skeleton, model, intercept)


def _build_dose_curves(skeleton: npt.ArrayLike, model: str, intercept: float) -> _DoseCurves:
    if model not in get_args(CRMModel):
        raise InvalidDesignError(
            f"unknown CRM model {model!r}; expected one of {list(get_args(CRMModel))}",
            field="model",
        )
    try:
        skel = np.array(skeleton, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidDesignError(
            f"not an array of numbers: {skeleton!r}", field="skeleton"
        ) from exc
    if skel.ndim != 1 or skel.size == 0:
        raise InvalidDesignError(
            f"must be a non-empty 1-D array, got shape {skel.shape}", field="skeleton"
        )
    outside = np.flatnonzero(~((skel > 0.0) & (skel < 1.0)))
    if outside.size:
        i = int(outside[0])
        raise InvalidDesignError(f"{skel[i]} is not in (0, 1)", field=f"skeleton[{i}]")
    not_increasing = np.flatnonzero(np.diff(skel) <= 0.0)
    if not_increasing.size:
        i = int(not_increasing[0]) + 1
        raise InvalidDesignError(
            f"{skel[i]} does not exceed the previous value {skel[i - 1]}: the skeleton must be "
            "strictly increasing",
            field=f"skeleton[{i}]",
        )
    c = float(intercept)
    if not math.isfinite(c):
        raise InvalidDesignError(f"must be finite, got {intercept}", field="intercept")
    if model == "empiric":
        param = np.log(skel)
    else:
        param = np.log(skel / (1.0 - skel)) - c
        if not np.all(param < 0.0):
            i = int(np.flatnonzero(param >= 0.0)[0])
            raise InvalidDesignError(
                f"skeleton value {skel[i]} is not below expit(intercept) = {expit(c):.6g}: the "
                "logistic intercept is too small for this skeleton",
                field="intercept",
            )
    skel.setflags(write=False)
    param.setflags(write=False)
    key = (model, c, tuple(skel.tolist()))
    model_name: CRMModel = "empiric" if model == "empiric" else "logistic"
    return _DoseCurves(
        model=model_name,
        intercept=c,
        skeleton=skel,
        param=param,
        key=key,
    )


# ---------------------------------------------------------------------------------------------
# the quadrature rule


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
    bern = bernoulli(order + 1)
    j = np.arange(order, dtype=np.float64)
    vander = np.vander(j, order, increasing=True).T
    rhs = np.array([bern[q + 1] / (q + 1) if q % 2 == 1 else 0.0 for q in range(order)])
    corrections = np.linalg.solve(vander, rhs)
    corrections.setflags(write=False)
    return corrections


@lru_cache(maxsize=1)
def _cell_rule() -> tuple[FloatArray, FloatArray]:
    """Gauss-Legendre nodes and weights on [0, 1]."""
    x, w = roots_legendre(_CELL_ORDER)
    return (np.asarray(x) + 1.0) / 2.0, np.asarray(w) / 2.0


@lru_cache(maxsize=1)
def _cell_interpolation() -> FloatArray:
    """Matrix taking values at the Gauss-Legendre nodes on [0, 1] to power-series coefficients."""
    x, _ = _cell_rule()
    return np.asarray(np.linalg.inv(np.vander(x, _CELL_ORDER, increasing=True)))


@lru_cache(maxsize=1)
def _laguerre() -> tuple[FloatArray, FloatArray]:
    """Gauss-Laguerre nodes t_k and scaled weights lambda_k exp(t_k)."""
    t, lam = roots_laguerre(_LAGUERRE_ORDER)
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
    x, w = roots_legendre(_PANEL_ORDER)
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
    p = expit(z)
    if model == "empiric":
        log_p = -np.logaddexp(0.0, -z)
        info = p * log_p * log_p / expit(-z)
    else:
        info = p * (1.0 - p) * (z - intercept) ** 2
    return float(info.max())


def _n_intervals(n_patients: IntArray, model: str, intercept: float, prior_sd: float) -> IntArray:
    """Number of core intervals for data from ``n_patients`` patients (a fixed rule per n)."""
    info = _INFO_SAFETY * n_patients * _max_information(model, intercept) + prior_sd**-2.0
    step = _STEP_PER_SD / np.sqrt(info)
    quanta = np.ceil(2.0 * _A_LIMIT / step / _INTERVAL_QUANTUM).astype(np.int64)
    return np.asarray(np.maximum(_MIN_INTERVALS, quanta * _INTERVAL_QUANTUM), dtype=np.int64)


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


def _posterior_sums(
    counts: IntArray,
    table: _GridTable,
    rule: _Rule,
    extra: FloatArray | None = None,
    *,
    want_density: bool = False,
    tight_log: float | None = None,
) -> _Sums:
    """Apply the rule to rows of counts [y_d, n_d - y_d] (T, 2D).

    ``extra`` (G,) is added to every row's log-likelihood (the TITE partial-weight terms).

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
    counts: IntArray, result: _Sums, tails: _TailTable, rule: _Rule
) -> FloatArray:
    """Pr(a < x_d | data) for rows of counts [y_d, n_d - y_d] (T, 2D), shape (T, D).

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
    for start in range(0, n_rows, _TAIL_CHUNK):
        chunk = order[start : start + _TAIL_CHUNK]
        span = slice(int(lo[chunk].min()), int(hi[chunk].max()))
        values = rows[chunk] @ tails.design[:, span]
        np.maximum(values, _EXP_FLOOR, out=values)
        np.exp(values, out=values)
        mass[chunk] = values @ tails.weights[span]
    if tails.far_weights.shape[0]:
        values = rows @ tails.far_design
        np.maximum(values, _EXP_FLOOR, out=values)
        mass += np.exp(values) @ tails.far_weights
    total = mass[:, :1]
    if not np.all(np.isfinite(mass)) or not np.all(total > 0.0):
        raise PosteriorComputationError("the CRM posterior could not be normalized")
    return np.asarray(np.clip(mass[:, 1:] / total, 0.0, 1.0), dtype=np.float64)


# ---------------------------------------------------------------------------------------------
# one posterior, with probabilities below a point


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

    def summarize(self, *, target: float, conf_level: float) -> CRMPosterior:
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

        crit = float(ndtri(0.5 + conf_level / 2.0))
        half = crit * math.sqrt(max(var, 0.0))
        ptox = self.curves.tox(np.array([mean, mean + half, mean - half]))
        total = sums[0, 0]
        prob_tox_mean = (rule.weight_full * f) @ table.tox / total

        cdf = _Cdf(self, rule, f, shift)
        alpha = (1.0 - conf_level) / 2.0
        a_hi = cdf.quantile(1.0 - alpha)
        a_lo = cdf.quantile(alpha)
        interval = self.curves.tox(np.array([a_hi, a_lo])).T  # p decreases in a
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


# ---------------------------------------------------------------------------------------------
# input checks and small helpers


def _frozen(arr: FloatArray) -> FloatArray:
    out = np.ascontiguousarray(arr, dtype=np.float64)
    out.setflags(write=False)
    return out


def _check_prior_sd(prior_sd: float) -> None:
    if not (isinstance(prior_sd, int | float) and math.isfinite(prior_sd) and prior_sd > 0):
        raise InvalidDesignError(f"must be a positive number, got {prior_sd!r}", field="prior_sd")


def _check_probability(value: float, name: str) -> None:
    if not (isinstance(value, int | float) and 0.0 < value < 1.0):
        raise InvalidDesignError(f"must be a number in (0, 1), got {value!r}", field=name)


def _check_window(window_days: float) -> float:
    if not (
        isinstance(window_days, int | float) and math.isfinite(window_days) and window_days > 0
    ):
        raise InvalidDesignError(
            f"must be a positive number of days, got {window_days!r}", field="window_days"
        )
    return float(window_days)


def _check_followup(followup_days: npt.ArrayLike) -> FloatArray:
    try:
        followup = np.array(followup_days, dtype=np.float64, ndmin=1)
    except (TypeError, ValueError) as exc:
        raise InvalidTrialDataError(
            f"not an array of numbers: {followup_days!r}", field="followup_days"
        ) from exc
    if followup.ndim != 1:
        raise InvalidTrialDataError(
            f"must be 1-D, got shape {followup.shape}", field="followup_days"
        )
    bad = np.flatnonzero(~(np.isfinite(followup) & (followup >= 0.0)))
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(
            f"follow-up must be a non-negative number of days, got {followup[i]}",
            field=f"followup_days[{i}]",
        )
    return followup


def _check_dlt(dlt: npt.ArrayLike, n: int, name: str) -> BoolArray:
    arr = np.asarray(dlt)
    if arr.ndim != 1 or arr.size != n:
        raise InvalidTrialDataError(
            f"must be 1-D with one entry per patient ({n}), got shape {arr.shape}", field=name
        )
    if arr.size == 0:
        return np.zeros(0, dtype=np.bool_)
    if arr.dtype.kind not in "biuf" or not np.all((arr == 0) | (arr == 1)):
        i = int(np.flatnonzero(~((arr == 0) | (arr == 1)))[0]) if arr.dtype.kind in "biuf" else 0
        raise InvalidTrialDataError(f"must be 0/1 or a bool, got {arr[i]!r}", field=f"{name}[{i}]")
    return np.asarray(arr == 1, dtype=np.bool_)


def _check_patients(
    dose_index: npt.ArrayLike,
    dlt: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    n_doses: int,
) -> tuple[IntArray, BoolArray, FloatArray]:
    doses = np.asarray(dose_index)
    if doses.ndim != 1:
        raise InvalidTrialDataError(f"must be 1-D, got shape {doses.shape}", field="dose_index")
    if doses.size == 0:
        doses = doses.astype(np.int64)
    if doses.dtype.kind not in "iu":
        raise InvalidTrialDataError(
            f"must hold integer dose indices, got dtype {doses.dtype}", field="dose_index"
        )
    doses = doses.astype(np.int64)
    bad = np.flatnonzero((doses < 0) | (doses >= n_doses))
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(
            f"dose index {doses[i]} is not among the {n_doses} doses (0 to {n_doses - 1})",
            field=f"dose_index[{i}]",
        )
    toxic = _check_dlt(dlt, doses.size, "dlt")
    if weight is None:
        return doses, toxic, np.ones(doses.size)
    try:
        weights = np.array(weight, dtype=np.float64, ndmin=1)
    except (TypeError, ValueError) as exc:
        raise InvalidTrialDataError(f"not an array of numbers: {weight!r}", field="weight") from exc
    if weights.ndim != 1 or weights.size != doses.size:
        raise InvalidTrialDataError(
            f"must have one entry per patient ({doses.size}), got shape {weights.shape}",
            field="weight",
        )
    bad = np.flatnonzero(~((weights >= 0.0) & (weights <= 1.0)))
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(f"{weights[i]} is not in [0, 1]", field=f"weight[{i}]")
    weights = np.where(toxic, 1.0, weights)
    return doses, toxic, weights


def _check_count_matrix(counts: npt.ArrayLike, name: str, n_doses: int) -> IntArray:
    arr = np.asarray(counts)
    if arr.ndim != 2 or arr.shape[1] != n_doses:
        raise InvalidTrialDataError(
            f"must have shape (n_trials, {n_doses}), got {arr.shape}", field=name
        )
    if arr.size and arr.dtype.kind not in "iu":
        raise InvalidTrialDataError(f"must hold integer counts, got dtype {arr.dtype}", field=name)
    arr = np.asarray(arr, dtype=np.int64)
    if np.any(arr < 0):
        t, d = (int(v) for v in np.argwhere(arr < 0)[0])
        raise InvalidTrialDataError(f"negative count {arr[t, d]}", field=f"{name}[{t}, {d}]")
    return arr
