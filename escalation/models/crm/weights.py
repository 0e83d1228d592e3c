"""TITE-CRM's weights of the partial follow-up: linear, and Cheung & Chappell's adaptive ones.

References
----------
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182 (weighted likelihood, equation 2; adaptive weights, section 3).
dfcrm 0.2-2.1 (R package), function ``titecrm``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidTrialDataError
from escalation.models.crm._checks import _check_dlt, _check_followup, _check_window

__all__ = ["adaptive_weights", "linear_weights"]

FloatArray = npt.NDArray[np.float64]


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
