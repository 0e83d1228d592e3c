"""The working dose-toxicity models over the doses: p_d(a) and its logarithms.

``"empiric"`` (power): p_d(a) = s_d ** exp(a); ``"logistic"``: logit p_d(a) = c + exp(a) x_d, with
x_d = logit(s_d) - c, so that p_d(0) = s_d (dfcrm 0.2-2.1; Cheung 2011, chapter 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError
from escalation.models import _special as special

FloatArray = npt.NDArray[np.float64]

CRMModel = Literal["empiric", "logistic"]

#: dfcrm's prior standard deviation of a, sqrt(1.34)
DEFAULT_PRIOR_SD = math.sqrt(1.34)
#: dfcrm's intercept of the one-parameter logistic model
DEFAULT_INTERCEPT = 3.0

# floor for log-probabilities that underflow (p = 0 at an extreme a); finite so that 0 * floor = 0
_LOG_FLOOR = -1e280


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
            return np.asarray(special.expit(eta), dtype=np.float64)

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
                f"skeleton value {skel[i]} is not below expit(intercept) = {special.expit(c):.6g}: the "
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
