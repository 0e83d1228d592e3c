"""CRM skeleton calibration by indifference intervals (Lee & Cheung 2009), as dfcrm's ``getprior``.

Given the target DLT probability theta, a half-width delta and the level nu believed to be the MTD,
the skeleton is built outwards from s_nu = theta so that the CRM's indifference intervals are
theta +/- delta: going down, the a at which dose k - 1 and dose k are equally far from theta
(p_k(a) = theta + delta) gives s_{k-1} by p_{k-1}(a) = theta - delta; going up, the a with
p_k(a) = theta - delta gives s_{k+1} by p_{k+1}(a) = theta + delta. For the empiric model
p_k(a) = s_k^exp(a); for the logistic model logit p_k(a) = c + exp(a) x_k with
s_k = expit(c + x_k).

References
----------
Lee SM, Cheung YK (2009). Model calibration in the continual reassessment method. Clin Trials
6:227-238, section 2.3 and Table 1.
Cheung YK (2011). Dose Finding by the Continual Reassessment Method. Chapman & Hall/CRC,
chapter 8.
dfcrm 0.2-2.1 (R package), function ``getprior``.

Examples
--------
>>> from escalation.models.skeleton import calibrate_skeleton
>>> calibrate_skeleton(0.05, 0.25, 3, 5).round(4).tolist()
[0.084, 0.1567, 0.25, 0.3545, 0.4603]
"""

from __future__ import annotations

import math
from typing import get_args

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError
from escalation.models import _special as special
from escalation.models.crm import DEFAULT_INTERCEPT, CRMModel

__all__ = ["calibrate_skeleton"]

FloatArray = npt.NDArray[np.float64]


def calibrate_skeleton(
    halfwidth: float,
    target: float,
    prior_mtd_level: int,
    n_levels: int,
    *,
    model: CRMModel = "empiric",
    intercept: float = DEFAULT_INTERCEPT,
) -> FloatArray:
    """The CRM skeleton whose indifference intervals are target +/- halfwidth.

    Parameters
    ----------
    halfwidth : float
        Half-width delta of the indifference intervals, with 0 < target - delta and
        target + delta < 1.
    target : float
        Target DLT probability.
    prior_mtd_level : int
        Dose level (1-based, dfcrm's ``nu``) believed a priori to be the MTD; its skeleton value
        is the target.
    n_levels : int
        Number of dose levels.
    model : {"empiric", "logistic"}
        Working model the skeleton is calibrated for.
    intercept : float
        Intercept c of the logistic model (ignored by the empiric model).

    Returns
    -------
    numpy.ndarray
        The skeleton, strictly increasing, shape (n_levels,).

    Raises
    ------
    InvalidDesignError
        For a half-width, target, level or model that is not valid.

    References
    ----------
    Lee & Cheung (2009), Clin Trials 6:227, section 2.3; dfcrm 0.2-2.1 ``getprior``.

    Examples
    --------
    >>> calibrate_skeleton(0.05, 0.3, 3, 6).round(3).tolist()
    [0.123, 0.204, 0.3, 0.402, 0.501, 0.593]
    >>> calibrate_skeleton(0.05, 0.3, 3, 6, model="logistic").round(3).tolist()
    [0.126, 0.205, 0.3, 0.402, 0.5, 0.587]
    """
    _check(halfwidth, target, prior_mtd_level, n_levels, model, intercept)
    try:
        if model == "empiric":
            skeleton = _empiric(halfwidth, target, prior_mtd_level - 1, n_levels)
        else:
            skeleton = _logistic(halfwidth, target, prior_mtd_level - 1, n_levels, intercept)
    except (ValueError, ZeroDivisionError, OverflowError) as exc:  # a level ran into 0 or 1
        raise InvalidDesignError(
            f"halfwidth {halfwidth} is too wide for {n_levels} levels around level "
            f"{prior_mtd_level}: the skeleton reaches 0 or 1 in double precision",
            field="halfwidth",
        ) from exc
    return _checked_result(skeleton, halfwidth, n_levels)


def _empiric(halfwidth: float, target: float, nu: int, n_levels: int) -> FloatArray:
    """dfcrm's getprior for p_k(a) = s_k^exp(a); ``nu`` is 0-based."""
    lower, upper = target - halfwidth, target + halfwidth
    scaled = np.empty(n_levels)
    scaled[nu] = target
    for k in range(nu, 0, -1):  # the crossing a solves exp(a) = log(bound) / log(s_k)
        b = math.log(math.log(upper) / math.log(scaled[k]))
        scaled[k - 1] = math.exp(math.log(lower) / math.exp(b))
    for k in range(nu, n_levels - 1):
        b = math.log(math.log(lower) / math.log(scaled[k]))
        scaled[k + 1] = math.exp(math.log(upper) / math.exp(b))
    return scaled


def _logistic(
    halfwidth: float, target: float, nu: int, n_levels: int, intercept: float
) -> FloatArray:
    """dfcrm's getprior for logit p_k(a) = c + exp(a) x_k, x_k < 0; ``nu`` is 0-based."""
    lower, upper = target - halfwidth, target + halfwidth
    c = float(intercept)
    scaled = np.empty(n_levels)
    scaled[nu] = math.log(target / (1.0 - target)) - c
    logit_upper = math.log(upper / (1.0 - upper)) - c
    logit_lower = math.log(lower / (1.0 - lower)) - c
    for k in range(nu, 0, -1):
        b = math.log(logit_upper / scaled[k])
        scaled[k - 1] = logit_lower / math.exp(b)
    for k in range(nu, n_levels - 1):
        b = math.log(logit_lower / scaled[k])
        scaled[k + 1] = logit_upper / math.exp(b)
    return np.asarray(special.expit(c + scaled), dtype=np.float64)


def _checked_result(skeleton: FloatArray, halfwidth: float, n_levels: int) -> FloatArray:
    """The skeleton, unless the levels ran into 0 or 1 in double precision."""
    if not (np.all((skeleton > 0.0) & (skeleton < 1.0)) and np.all(np.diff(skeleton) > 0.0)):
        raise InvalidDesignError(
            f"halfwidth {halfwidth} is too wide for {n_levels} levels: the skeleton reaches 0 or 1 "
            f"in double precision ({skeleton.tolist()})",
            field="halfwidth",
        )
    return skeleton


def _check(
    halfwidth: float,
    target: float,
    prior_mtd_level: int,
    n_levels: int,
    model: str,
    intercept: float,
) -> None:
    if model not in get_args(CRMModel):
        raise InvalidDesignError(
            f"unknown CRM model {model!r}; expected one of {list(get_args(CRMModel))}",
            field="model",
        )
    if not (isinstance(target, int | float) and 0.0 < target < 1.0):
        raise InvalidDesignError(f"must be a number in (0, 1), got {target!r}", field="target")
    if not (isinstance(halfwidth, int | float) and 0.0 < halfwidth < min(target, 1.0 - target)):
        raise InvalidDesignError(
            f"must be positive with target - halfwidth > 0 and target + halfwidth < 1, got "
            f"{halfwidth!r} for target {target}",
            field="halfwidth",
        )
    if isinstance(n_levels, bool) or not isinstance(n_levels, int | np.integer) or n_levels < 1:
        raise InvalidDesignError(f"must be a positive integer, got {n_levels!r}", field="n_levels")
    if (
        isinstance(prior_mtd_level, bool)
        or not isinstance(prior_mtd_level, int | np.integer)
        or not 1 <= prior_mtd_level <= n_levels
    ):
        raise InvalidDesignError(
            f"must be a dose level from 1 to {n_levels}, got {prior_mtd_level!r}",
            field="prior_mtd_level",
        )
    if model == "logistic":
        c = float(intercept)
        if not math.isfinite(c):
            raise InvalidDesignError(f"must be finite, got {intercept!r}", field="intercept")
        upper = target + halfwidth
        if math.log(upper / (1.0 - upper)) >= c:
            raise InvalidDesignError(
                f"target + halfwidth = {upper} must be below expit(intercept) = "
                f"{1.0 / (1.0 + math.exp(-c)):.6g} for the logistic model",
                field="intercept",
            )
