"""Checks of the BLRM posterior's inputs, and the sufficient statistics of pending patients."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from escalation.errors import InvalidDesignError, InvalidTrialDataError
from escalation.models.blrm.prior import _is_number

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _check_inputs(
    dose_amounts: Any,
    reference_dose: Any,
    n_at_dose: Any,
    dlt_at_dose: Any,
    partial_dose: Any,
    partial_weight: Any,
    target_interval: Any,
) -> tuple[tuple[float, ...], tuple[int, ...], tuple[int, ...], IntArray, FloatArray]:
    amounts = np.asarray(dose_amounts, dtype=np.float64)
    if amounts.ndim != 1 or amounts.size == 0:
        raise InvalidDesignError("expected a non-empty list of dose amounts", field="dose_amounts")
    if not np.all(np.isfinite(amounts) & (amounts > 0)):
        raise InvalidDesignError(
            f"dose amounts must be positive numbers, got {amounts.tolist()}", field="dose_amounts"
        )
    if np.any(np.diff(amounts) <= 0):
        raise InvalidDesignError(
            f"dose amounts must increase with the level, got {amounts.tolist()}",
            field="dose_amounts",
        )
    if not (_is_number(reference_dose) and math.isfinite(reference_dose) and reference_dose > 0):
        raise InvalidDesignError(
            f"must be a positive number, got {reference_dose!r}", field="reference_dose"
        )
    lo_hi = target_interval
    if (
        not isinstance(lo_hi, Sequence)
        or len(lo_hi) != 2
        or not all(_is_number(v) for v in lo_hi)
        or not 0.0 < lo_hi[0] < lo_hi[1] < 1.0
    ):
        raise InvalidDesignError(
            f"expected [lower, upper] with 0 < lower < upper < 1, got {lo_hi!r}",
            field="target_interval",
        )
    k = amounts.size
    n = _counts(n_at_dose, "n_at_dose", k)
    y = _counts(dlt_at_dose, "dlt_at_dose", k)
    bad = np.flatnonzero(y > n)
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(f"{y[i]} DLTs among {n[i]} patients", field=f"dlt_at_dose[{i}]")
    pdose = np.asarray(partial_dose)
    if pdose.size == 0:
        pdose = np.zeros(0, dtype=np.int64)
    pweight = np.asarray(partial_weight, dtype=np.float64).reshape(-1)
    if pdose.ndim != 1 or pdose.dtype.kind not in "iu":
        raise InvalidTrialDataError("expected a list of 0-based dose indices", field="partial_dose")
    if pweight.shape != pdose.shape:
        raise InvalidTrialDataError(
            f"one weight per partial patient ({pdose.size}), got {pweight.size}",
            field="partial_weight",
        )
    bad = np.flatnonzero((pdose < 0) | (pdose >= k))
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(
            f"dose index {pdose[i]} is not among the {k} doses", field=f"partial_dose[{i}]"
        )
    bad = np.flatnonzero(~((pweight >= 0.0) & (pweight <= 1.0)))
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(
            f"weight {pweight[i]} is not in [0, 1]", field=f"partial_weight[{i}]"
        )
    return (
        tuple(float(a) for a in amounts),
        tuple(int(v) for v in n),
        tuple(int(v) for v in y),
        pdose.astype(np.int64),
        pweight,
    )


def _counts(value: Any, name: str, k: int) -> IntArray:
    arr = np.asarray(value)
    if arr.shape != (k,):
        raise InvalidTrialDataError(f"expected {k} counts, got shape {arr.shape}", field=name)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise InvalidTrialDataError(f"expected integer counts, got {arr.tolist()}", field=name)
    bad = np.flatnonzero(arr < 0)
    if bad.size:
        i = int(bad[0])
        raise InvalidTrialDataError(f"negative count {arr[i]}", field=f"{name}[{i}]")
    return arr.astype(np.int64)


def _partial_groups(dose: IntArray, weight: FloatArray) -> tuple[tuple[int, float, int], ...]:
    """(dose index, weight, count) for weights in (0, 1), sorted: order-free and hashable.

    Weight 1 is a complete non-DLT patient and must be counted in ``n_at_dose``; callers pass
    complete patients there, so a weight of 1 here is folded in as a complete patient.
    """
    groups: dict[tuple[int, float], int] = {}
    for d, w in zip(dose.tolist(), weight.tolist(), strict=True):
        if w <= 0.0:
            continue
        groups[(int(d), float(w))] = groups.get((int(d), float(w)), 0) + 1
    return tuple((d, w, c) for (d, w), c in sorted(groups.items()))
