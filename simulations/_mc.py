"""Monte Carlo estimates with their standard errors, as the harness's summaries report them."""

from __future__ import annotations

import math


def pct_estimate(count: float, trials: int) -> tuple[float, float]:
    """A percentage of trials and its binomial s.e., both in percent."""
    p = count / trials
    return 100.0 * p, 100.0 * math.sqrt(max(p * (1.0 - p), 0.0) / trials)


def mean_estimate(total: float, squares: float, trials: int) -> tuple[float, float]:
    """A mean over trials from its sum and sum of squares, and the s.e. of the mean (sample
    variance with n - 1)."""
    mean = total / trials
    var = max(squares / trials - mean * mean, 0.0) * trials / max(trials - 1, 1)
    return mean, math.sqrt(var / trials)
