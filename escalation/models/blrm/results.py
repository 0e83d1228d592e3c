"""What the BLRM engines return: :class:`BLRMPosterior`, summaries of p(d) per dose."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from escalation.models.blrm.likelihood import _Problem

__all__ = ["DEFAULT_TARGET_INTERVAL", "QUANTILE_LEVELS", "BLRMPosterior", "Engine"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Engine = Literal["grid", "mcmc"]

#: underdosing [0, 0.16), target [0.16, 0.33), overdosing [0.33, 1] (Neuenschwander et al. 2008)
DEFAULT_TARGET_INTERVAL = (0.16, 0.33)
#: posterior quantiles of p(d) reported per dose (the 50% and 95% bands of a dose-toxicity plot)
QUANTILE_LEVELS = (0.025, 0.25, 0.5, 0.75, 0.975)
#: MCMC convergence thresholds: R-hat above, or bulk/tail ESS below, fail the diagnostics


@dataclass(frozen=True, slots=True, kw_only=True)
class BLRMPosterior:
    """The BLRM posterior summarized per dose (arrays by dose index, read-only).

    Attributes
    ----------
    engine
        ``"grid"`` or ``"mcmc"``.
    target_interval
        (lower, upper): underdosing is p < lower, target lower <= p < upper, overdosing p >= upper.
    prob_underdose, prob_target, prob_overdose
        Posterior interval probabilities per dose (they sum to 1).
    prob_tox_mean
        Posterior mean of p(d).
    quantile_levels, quantiles
        Posterior quantiles of p(d): ``quantiles[d, k]`` at level ``quantile_levels[k]``.
    param_mean, param_cov
        Posterior mean and covariance of (log(alpha), log(beta)).
    converged
        Whether the MCMC diagnostics pass their thresholds (always true for the grid).
    diagnostics
        Engine details: grid size and passes, or R-hat, ESS, divergences, seed and timings.
    """

    engine: Engine
    dose_amounts: tuple[float, ...]
    reference_dose: float
    target_interval: tuple[float, float]
    prob_underdose: FloatArray
    prob_target: FloatArray
    prob_overdose: FloatArray
    prob_tox_mean: FloatArray
    quantile_levels: tuple[float, ...]
    quantiles: FloatArray
    param_mean: FloatArray
    param_cov: FloatArray
    converged: bool = True
    diagnostics: Mapping[str, Any] = field(default_factory=dict)

    def quantile(self, level: float) -> FloatArray:
        """The posterior quantile of p(d) per dose at one of :attr:`quantile_levels`."""
        try:
            k = self.quantile_levels.index(level)
        except ValueError:
            raise ValueError(
                f"level {level} is not among the computed quantile levels {self.quantile_levels}"
            ) from None
        return np.asarray(self.quantiles[:, k])

    @property
    def prob_tox_median(self) -> FloatArray:
        """Posterior median of p(d)."""
        return self.quantile(0.5)

    @property
    def prob_tox_interval(self) -> FloatArray:
        """Equal-tailed 95% credible interval of p(d), shape (n_doses, 2)."""
        return np.stack([self.quantile(0.025), self.quantile(0.975)], axis=1)


def _frozen(arr: npt.ArrayLike) -> FloatArray:
    out = np.array(arr, dtype=np.float64)
    out.setflags(write=False)
    return out


def _posterior_result(
    engine: Engine,
    problem: _Problem,
    interval: tuple[float, float],
    *,
    prob_underdose: npt.ArrayLike,
    prob_target: npt.ArrayLike,
    prob_overdose: npt.ArrayLike,
    prob_tox_mean: npt.ArrayLike,
    quantiles: npt.ArrayLike,
    param_mean: npt.ArrayLike,
    param_cov: npt.ArrayLike,
    converged: bool,
    diagnostics: Mapping[str, Any],
) -> BLRMPosterior:
    """An engine's summaries as a :class:`BLRMPosterior`: the problem's doses, the interval and
    :data:`QUANTILE_LEVELS` filled in, every array copied read-only."""
    return BLRMPosterior(
        engine=engine,
        dose_amounts=problem.amounts,
        reference_dose=problem.reference_dose,
        target_interval=interval,
        prob_underdose=_frozen(prob_underdose),
        prob_target=_frozen(prob_target),
        prob_overdose=_frozen(prob_overdose),
        prob_tox_mean=_frozen(prob_tox_mean),
        quantile_levels=QUANTILE_LEVELS,
        quantiles=_frozen(quantiles),
        param_mean=_frozen(param_mean),
        param_cov=_frozen(param_cov),
        converged=converged,
        diagnostics=diagnostics,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BLRMIntervalProbs:
    """The grid posterior's interval probabilities for many sets of data (arrays (sets, doses),
    read-only): what overdose control, the proposal and the final selection use.

    Attributes
    ----------
    target_interval
        (lower, upper), as in :class:`BLRMPosterior`.
    prob_underdose, prob_target, prob_overdose
        Row i: the numbers :func:`escalation.models.blrm.blrm_posterior` (grid engine) gives
        the i-th set, to the last bit.
    """

    target_interval: tuple[float, float]
    prob_underdose: FloatArray
    prob_target: FloatArray
    prob_overdose: FloatArray
