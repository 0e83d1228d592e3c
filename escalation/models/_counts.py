"""Distinct rows of count matrices, shared by the batch paths of the CRM and BOIN's selection."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def unique_rows(counts: IntArray) -> tuple[IntArray, IntArray]:
    """Distinct rows of a non-negative integer matrix and the inverse index."""
    if counts.shape[0] == 0:
        return counts, np.zeros(0, dtype=np.int64)
    radix = counts.max(axis=0).astype(np.float64) + 1.0
    if float(np.sum(np.log2(radix))) < 62.0:
        multipliers = np.cumprod(np.concatenate([[1], radix[:-1].astype(np.int64)]))
        keys = counts @ multipliers
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        return counts[first], inverse.reshape(-1)
    unique, inverse = np.unique(counts, axis=0, return_inverse=True)
    return unique, inverse.reshape(-1)
