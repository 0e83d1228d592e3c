"""Input checks of the CRM functions: errors name the field, the index and the bad value."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError, InvalidTrialDataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


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


def _check_patient_matrices(
    dose_index: npt.ArrayLike, dlt: npt.ArrayLike, weight: npt.ArrayLike, n_doses: int
) -> tuple[IntArray, BoolArray, FloatArray]:
    """(T, K) patient matrices of the batch: dose indices (-1: no patient), DLTs, weights."""
    doses = np.asarray(dose_index)
    if doses.ndim != 2:
        raise InvalidTrialDataError(f"must be 2-D, got shape {doses.shape}", field="dose_index")
    if doses.size and doses.dtype.kind not in "iu":
        raise InvalidTrialDataError(
            f"must hold integer dose indices, got dtype {doses.dtype}", field="dose_index"
        )
    doses = doses.astype(np.int64)
    bad = np.argwhere((doses < -1) | (doses >= n_doses))
    if bad.size:
        t, k = (int(v) for v in bad[0])
        raise InvalidTrialDataError(
            f"dose index {doses[t, k]} is not among the {n_doses} doses (0 to {n_doses - 1}; -1 "
            "for no patient)",
            field=f"dose_index[{t}, {k}]",
        )
    toxic = np.asarray(dlt)
    weights = np.asarray(weight, dtype=np.float64)
    for name, arr in (("dlt", toxic), ("weight", weights)):
        if arr.shape != doses.shape:
            raise InvalidTrialDataError(
                f"shape {arr.shape} differs from dose_index's {doses.shape}", field=name
            )
    if toxic.size and (toxic.dtype.kind not in "biuf" or not np.all((toxic == 0) | (toxic == 1))):
        t, k = (int(v) for v in np.argwhere(~((toxic == 0) | (toxic == 1)))[0])
        raise InvalidTrialDataError(
            f"must be 0/1 or a bool, got {toxic[t, k]!r}", field=f"dlt[{t}, {k}]"
        )
    bad = np.argwhere((doses >= 0) & ~((weights >= 0.0) & (weights <= 1.0)))
    if bad.size:
        t, k = (int(v) for v in bad[0])
        raise InvalidTrialDataError(f"{weights[t, k]} is not in [0, 1]", field=f"weight[{t}, {k}]")
    toxic = np.asarray(toxic == 1, dtype=np.bool_) & (doses >= 0)
    return doses, toxic, np.where(toxic, 1.0, weights)
