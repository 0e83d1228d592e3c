"""The results of the CRM posterior, and dfcrm's choice of dose from plug-in estimates.

References
----------
Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC, section
3.2. dfcrm 0.2-2.1 (R package), functions ``crm`` and ``titecrm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidTrialDataError

__all__ = ["CRMPosterior", "CRMPosteriorBatch", "select_mtd_index"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
