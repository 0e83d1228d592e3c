"""The two-parameter Bayesian logistic regression model (BLRM) of Neuenschwander et al. (2008).

For a dose amount d (cells/kg for a CAR-T product) and a reference dose d*::

    logit p(d) = log(alpha) + beta * log(d / d*),        beta = exp(log(beta)) > 0

with a bivariate normal prior on theta = (log(alpha), log(beta)), given as
``{"mean": [m1, m2], "sd": [s1, s2], "corr": r}``. ``log(alpha)`` is the log-odds of a DLT at the
reference dose; ``beta`` the change in log-odds per unit of log(dose), so every curve increases
with the dose.

Default prior
-------------
:meth:`BLRMPrior.weakly_informative` is the weakly informative prior of the Novartis BLRM
practice (Neuenschwander et al. 2015, section 6.2.2; the single-agent example of the OncoBayes2 R
package): log(alpha) ~ N(logit(p*), 2^2), log(beta) ~ N(0, 1^2), uncorrelated, where p* is the
prior median DLT probability at the reference dose. :meth:`BLRMPrior.centred_at_mtd`, the BLRM
design's default, narrows log(alpha) to N(logit(p*), 1.5^2) and log(beta) to N(0, 0.5^2), so
that the prior of the DLT rates is not piled at 0 and 1; the design puts the reference dose (a provisional MTD, where the
prior median is the target) in the middle of the dose range, on the log scale (see
:class:`escalation.designs.blrm.BLRM`).

Pending patients
----------------
As in TITE-CRM (Cheung & Chappell 2000), a patient without a DLT whose follow-up covers a fraction
w of the window may enter the likelihood as (1 - w p(d)); a complete patient without a DLT as
(1 - p(d)), a patient with a DLT as p(d), whatever the follow-up.

Engines
-------
``"grid"`` (the default, deterministic): the posterior on a sheared 2-D grid aligned with the
posterior's Laplace approximation (outer axis log(beta), inner axis log(alpha) given log(beta)),
extended until the density at its edges is below e^-25 of its maximum and re-centred on the
grid's own moments when they disagree with the approximation. Along each row the density is
integrated by the trapezoidal rule (spectrally accurate for the smooth, decaying integrand), and
probabilities below a point use the exact integral of the piecewise-linear interpolant within the
last cell; across rows the trapezoidal rule again. For fixed log(beta) the events {p(d) < c} are
half-lines in log(alpha), which is why the inner axis is log(alpha): interval probabilities and
quantiles of p(d) are one-dimensional cumulative integrals, not indicator functions on a grid.
Accuracy is checked in the tests against an independent brute-force integration: every interval
probability and quantile level within 1e-4 (1.5e-5 at most on the tested cases, with 5 nodes per
standard deviation; 4 left 1.3e-4 in a lower quantile).

``"mcmc"``: PyMC's NUTS sampler (4 chains of 1000 draws after 500 tuning steps by default) on
the same posterior, with ArviZ's rank
normalized split R-hat, bulk and tail effective sample sizes and the number of divergent
transitions. The sampler runs in the coordinates z of the posterior's Laplace approximation
(theta = mode + L z, a linear change of variables with a constant Jacobian, so the posterior is
unchanged), which makes NUTS efficient. The PyMC model holds every input (doses, counts, pending
weights, prior, whitening) in ``pm.Data`` containers, so it is built and its log-density compiled
once per process: later calls only ``pm.set_data`` and sample.

References
----------
Neuenschwander B, Branson M, Gsponer T (2008). Critical aspects of the Bayesian approach to phase I
cancer trials. Statistics in Medicine 27:2420-2439 (the model, eq. 1; interval probabilities and
overdose control, section 3).
Neuenschwander B, Matano A, Tang Z, Roychoudhury S, Wandel S, Bailey S (2015). A Bayesian industry
approach to phase I combination trials in oncology. In: Zhao W, Yang H (eds), Statistical Methods
in Drug Combination Studies. Chapman & Hall/CRC, 95-135 (the weakly informative prior).
OncoBayes2 (R package, Novartis), ``example-single-agent``: prior N((logit 0.5, log 1),
diag(2^2, 1^2)).
Babb J, Rogatko A, Zacks S (1998). Cancer phase I clinical trials: efficient dose escalation with
overdose control. Statistics in Medicine 17:1103-1120 (EWOC).
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with late-onset
toxicities. Biometrics 56:1177-1182 (weighted likelihood).
Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C (2021). Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC. Bayesian Analysis 16:667-718.

Examples
--------
>>> from escalation.models.blrm import BLRMPrior, blrm_posterior
>>> post = blrm_posterior(
...     [0.25e6, 0.5e6, 1e6, 2e6, 4e6], reference_dose=4e6,
...     prior=BLRMPrior.weakly_informative(0.25),
...     n_at_dose=[3, 3, 3, 0, 0], dlt_at_dose=[0, 0, 1, 0, 0])
>>> [round(float(p), 3) for p in post.prob_overdose]
[0.006, 0.019, 0.086, 0.295, 0.525]
>>> int(post.prob_target.argmax())
3
"""

from __future__ import annotations

import logging
import math
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import expit, logit

from escalation.errors import (
    ConvergenceWarning,
    InvalidDesignError,
    InvalidTrialDataError,
    PosteriorComputationError,
    Problem,
)

__all__ = [
    "DEFAULT_TARGET_INTERVAL",
    "DEFAULT_TUNE",
    "ESS_MIN",
    "QUANTILE_LEVELS",
    "RHAT_MAX",
    "BLRMPosterior",
    "BLRMPrior",
    "Engine",
    "blrm_posterior",
    "blrm_posterior_batch",
    "mcmc_model_cache_info",
]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

Engine = Literal["grid", "mcmc"]

#: underdosing [0, 0.16), target [0.16, 0.33), overdosing [0.33, 1] (Neuenschwander et al. 2008)
DEFAULT_TARGET_INTERVAL = (0.16, 0.33)
#: posterior quantiles of p(d) reported per dose (the 50% and 95% bands of a dose-toxicity plot)
QUANTILE_LEVELS = (0.025, 0.25, 0.5, 0.75, 0.975)
#: MCMC convergence thresholds: R-hat above, or bulk/tail ESS below, fail the diagnostics
RHAT_MAX = 1.01
ESS_MIN = 400.0

# grid engine: initial half-width of the grid in frame standard deviations, nodes per standard
# deviation, log-density at the edges below which the tails are negligible, passes; quantiles:
# bracketing scan points and Newton steps
_HALF_WIDTH = 9.0
_NODES_PER_SD = 5.0
_EDGE_LOG = -20.0
_MAX_PASSES = 8
_SCAN_POINTS = 33
_NEWTON_STEPS = 8
_NEGLIGIBLE = math.exp(-36.0)
# MCMC: NUTS's target acceptance (above PyMC's 0.8 and 0.9, which let a divergent transition
# through now and then in the curved tails of sparse-data posteriors) and tuning steps per chain;
# in the whitened coordinates the 2-D posterior is close to a standard normal, so 500 tuning steps
# suffice (the diagnostics are checked on every run all the same)
_TARGET_ACCEPT = 0.95
DEFAULT_TUNE = 500
_CACHE_SIZE = 4096


# ---------------------------------------------------------------------------------------------
# the prior


@dataclass(frozen=True, slots=True, kw_only=True)
class BLRMPrior:
    """Bivariate normal prior on (log(alpha), log(beta)).

    Parameters
    ----------
    mean
        Prior means of log(alpha) and log(beta).
    sd
        Prior standard deviations (positive).
    corr
        Prior correlation, in (-1, 1).
    """

    mean: tuple[float, float]
    sd: tuple[float, float]
    corr: float = 0.0

    def __post_init__(self) -> None:
        problems = _prior_problems(self.mean, self.sd, self.corr, "prior")
        if problems:
            raise InvalidDesignError(problems)
        object.__setattr__(self, "mean", (float(self.mean[0]), float(self.mean[1])))
        object.__setattr__(self, "sd", (float(self.sd[0]), float(self.sd[1])))
        object.__setattr__(self, "corr", float(self.corr))

    @classmethod
    def weakly_informative(cls, prior_median_at_reference: float) -> BLRMPrior:
        """log(alpha) ~ N(logit(p*), 2^2), log(beta) ~ N(0, 1), independent.

        References
        ----------
        Neuenschwander et al. (2015), section 6.2.2; OncoBayes2 ``example-single-agent``.
        """
        if not 0.0 < prior_median_at_reference < 1.0:
            raise InvalidDesignError(
                f"the prior median DLT probability must be in (0, 1), got {prior_median_at_reference}",
                field="design.prior",
            )
        return cls(mean=(float(logit(prior_median_at_reference)), 0.0), sd=(2.0, 1.0), corr=0.0)

    @classmethod
    def centred_at_mtd(cls, prior_median_at_reference: float) -> BLRMPrior:
        """log(alpha) ~ N(logit(p*), 1.5^2), log(beta) ~ N(0, 0.5^2), independent: the default.

        With the reference dose d* at a provisional MTD in the middle of the dose range, p* (the
        target) is the prior median DLT probability there. sd 1.5 leaves p(d*) nearly unknown
        (for p* = 0.25 a central 95% interval of 0.02 to 0.86) without piling the prior at 0 and 1
        as sd 2 does (a prior vague on the parameters is not vague on the DLT rates: Neuenschwander
        et al. 2008, section 3); such a prior makes overdose control stop a trial after one DLT
        in three patients at a dose whose estimate is 0.18. sd 0.5 for log(beta) puts the odds
        ratio of a DLT for a doubling of the dose between 2^0.37 and 2^2.7 (1.3 to 6.5, central
        95%): with sd 1 (odds ratios up to 2^7 per doubling) no number of patients without a DLT
        at a dose would let the trial escalate past it.

        References
        ----------
        Neuenschwander B, Branson M, Gsponer T (2008). Stat Med 27:2420-2439, sections 3 and 4.
        """
        weak = cls.weakly_informative(prior_median_at_reference)
        return cls(mean=weak.mean, sd=(1.5, 0.5), corr=0.0)

    @classmethod
    def from_mapping(cls, value: Any, *, field: str = "design.prior") -> BLRMPrior:
        """The prior from its document form ``{"mean": [m1, m2], "sd": [s1, s2], "corr": r}``.

        Raises
        ------
        InvalidDesignError
            Naming every bad entry (``design.prior.mean`` and so on).
        """
        if not isinstance(value, Mapping):
            raise InvalidDesignError(
                f'expected {{"mean": [m1, m2], "sd": [s1, s2], "corr": r}}, got {value!r}',
                field=field,
            )
        problems = [
            Problem(field=f"{field}.{key}", message="unknown entry (entries: corr, mean, sd)")
            for key in value
            if key not in ("mean", "sd", "corr")
        ]
        for key in ("mean", "sd"):
            if key not in value:
                problems.append(Problem(field=f"{field}.{key}", message="missing"))
        if problems:
            raise InvalidDesignError(problems)
        mean, sd, corr = value["mean"], value["sd"], value.get("corr", 0.0)
        problems = _prior_problems(mean, sd, corr, field)
        if problems:
            raise InvalidDesignError(problems)
        return cls(mean=(mean[0], mean[1]), sd=(sd[0], sd[1]), corr=corr)

    def as_dict(self) -> dict[str, Any]:
        """The document form."""
        return {"mean": list(self.mean), "sd": list(self.sd), "corr": self.corr}

    @property
    def covariance(self) -> FloatArray:
        s1, s2 = self.sd
        c = self.corr * s1 * s2
        return np.array([[s1 * s1, c], [c, s2 * s2]])


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.floating | np.integer) and not isinstance(v, bool)


def _prior_problems(mean: Any, sd: Any, corr: Any, field: str) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in (("mean", mean), ("sd", sd)):
        if (
            not isinstance(value, Sequence)
            or isinstance(value, str)
            or len(value) != 2
            or not all(_is_number(v) and math.isfinite(v) for v in value)
        ):
            problems.append(
                Problem(field=f"{field}.{key}", message=f"expected two numbers, got {value!r}")
            )
        elif key == "sd" and not all(v > 0 for v in value):
            problems.append(
                Problem(
                    field=f"{field}.sd", message=f"standard deviations must be > 0, got {value!r}"
                )
            )
    if not _is_number(corr) or not -1.0 < corr < 1.0:
        problems.append(
            Problem(field=f"{field}.corr", message=f"expected a number in (-1, 1), got {corr!r}")
        )
    return problems


# ---------------------------------------------------------------------------------------------
# results


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


# ---------------------------------------------------------------------------------------------
# the public entry points


def blrm_posterior(
    dose_amounts: Sequence[float],
    *,
    reference_dose: float,
    prior: BLRMPrior,
    n_at_dose: Sequence[int] | npt.ArrayLike,
    dlt_at_dose: Sequence[int] | npt.ArrayLike,
    partial_dose: Sequence[int] | npt.ArrayLike = (),
    partial_weight: Sequence[float] | npt.ArrayLike = (),
    target_interval: tuple[float, float] = DEFAULT_TARGET_INTERVAL,
    engine: Engine = "grid",
    seed: int = 0,
    draws: int = 1000,
    tune: int = DEFAULT_TUNE,
    chains: int = 4,
    cores: int = 1,
) -> BLRMPosterior:
    """The BLRM posterior per dose, by the grid or the MCMC engine.

    Parameters
    ----------
    dose_amounts
        Increasing positive dose amounts, one per dose level.
    reference_dose
        The reference dose d* of the model (positive, same unit as the amounts).
    prior
        Prior of (log(alpha), log(beta)).
    n_at_dose, dlt_at_dose
        Patients with a complete outcome (a DLT or the whole window) and DLTs among them, per dose.
    partial_dose, partial_weight
        Patients without a DLT and with incomplete follow-up: their dose index (0-based) and
        follow-up weight w in [0, 1] (TITE-CRM's weighted likelihood, 1 - w p). Weight 0 adds
        nothing; weight 1 is a complete patient.
    target_interval
        (lower, upper) limits of the target interval of p(d).
    engine
        ``"grid"`` (deterministic, the default) or ``"mcmc"`` (PyMC NUTS).
    seed, draws, tune, chains, cores
        MCMC only: the seed (the same seed gives the same draws), draws and tuning steps per
        chain, number of chains and of processes.

    Returns
    -------
    BLRMPosterior
        A failed MCMC diagnosis issues a :class:`~escalation.errors.ConvergenceWarning` and sets
        ``converged=False``.

    Raises
    ------
    InvalidTrialDataError, InvalidDesignError
        For inputs that are not valid, naming the field.
    PosteriorComputationError
        When the grid cannot enclose the posterior.

    References
    ----------
    Neuenschwander, Branson & Gsponer (2008), Stat Med 27:2420, eq. (1) and section 3.
    """
    problem = _check_inputs(
        dose_amounts,
        reference_dose,
        n_at_dose,
        dlt_at_dose,
        partial_dose,
        partial_weight,
        target_interval,
    )
    amounts, n, y, pdose, pweight = problem
    interval = (float(target_interval[0]), float(target_interval[1]))
    partial = _partial_groups(pdose, pweight)
    if engine == "grid":
        return _grid_cached(amounts, float(reference_dose), prior, n, y, partial, interval)
    if engine == "mcmc":
        for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
            if not isinstance(value, int) or value < low:
                raise InvalidDesignError(f"must be an integer >= {low}, got {value!r}", field=name)
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise InvalidDesignError(f"must be a non-negative integer, got {seed!r}", field="seed")
        post = _mcmc_cached(
            amounts,
            float(reference_dose),
            prior,
            n,
            y,
            partial,
            interval,
            seed,
            draws,
            tune,
            chains,
            cores,
        )
        if not post.converged:
            failures = "; ".join(str(f) for f in post.diagnostics.get("failures", ()))
            warnings.warn(
                f"BLRM MCMC diagnostics failed ({failures}): the result is not final",
                ConvergenceWarning,
                stacklevel=2,
            )
        return post
    raise InvalidDesignError(f"unknown engine {engine!r} (engines: grid, mcmc)", field="engine")


def blrm_posterior_batch(
    dose_amounts: Sequence[float],
    *,
    reference_dose: float,
    prior: BLRMPrior,
    n_at_dose: npt.ArrayLike,
    dlt_at_dose: npt.ArrayLike,
    target_interval: tuple[float, float] = DEFAULT_TARGET_INTERVAL,
) -> tuple[BLRMPosterior, ...]:
    """Grid posteriors for many sets of complete data at once (a simulation harness's path).

    ``n_at_dose`` and ``dlt_at_dose`` have shape (n_trials, n_doses). Identical rows are computed
    once, and every posterior is memoized (an LRU cache of 4096 results keyed on the inputs), so
    the many repeated states of simulated trials cost one computation each.
    """
    n = np.asarray(n_at_dose)
    y = np.asarray(dlt_at_dose)
    if n.ndim != 2 or y.shape != n.shape:
        raise InvalidTrialDataError(
            f"n_at_dose and dlt_at_dose must be 2-D of the same shape, got {n.shape} and {y.shape}",
            field="n_at_dose",
        )
    out: dict[tuple[tuple[int, ...], tuple[int, ...]], BLRMPosterior] = {}
    results = []
    for row_n, row_y in zip(n.tolist(), y.tolist(), strict=True):
        key = (tuple(row_n), tuple(row_y))
        if key not in out:
            out[key] = blrm_posterior(
                dose_amounts,
                reference_dose=reference_dose,
                prior=prior,
                n_at_dose=row_n,
                dlt_at_dose=row_y,
                target_interval=target_interval,
            )
        results.append(out[key])
    return tuple(results)


# ---------------------------------------------------------------------------------------------
# input checks


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


# ---------------------------------------------------------------------------------------------
# the log posterior


@dataclass(frozen=True, slots=True, eq=False)
class _Problem:
    """The log posterior of (log(alpha), log(beta)), vectorized over points."""

    amounts: tuple[float, ...]
    reference_dose: float
    prior: BLRMPrior
    x: FloatArray  # log(amount / reference) per dose
    n: FloatArray  # complete patients per dose
    y: FloatArray  # DLTs per dose
    partial: tuple[tuple[int, float, int], ...]  # (dose, weight < 1, count); weight 1 folded in
    precision: FloatArray

    @classmethod
    def build(
        cls,
        amounts: tuple[float, ...],
        reference_dose: float,
        prior: BLRMPrior,
        n: tuple[int, ...],
        y: tuple[int, ...],
        partial: tuple[tuple[int, float, int], ...],
    ) -> _Problem:
        n_arr = np.array(n, dtype=np.float64)
        kept = []
        for d, w, c in partial:
            if w >= 1.0:
                n_arr[d] += c
            else:
                kept.append((d, w, c))
        return cls(
            amounts=amounts,
            reference_dose=reference_dose,
            prior=prior,
            x=np.log(np.array(amounts) / reference_dose),
            n=n_arr,
            y=np.array(y, dtype=np.float64),
            partial=tuple(kept),
            precision=np.asarray(np.linalg.inv(prior.covariance), dtype=np.float64),
        )

    def log_density(self, a: FloatArray, b: FloatArray) -> FloatArray:
        """Unnormalized log posterior at broadcastable arrays ``a`` (log alpha), ``b`` (log beta).

        Complete patients at dose d add y log p + (n - y) log(1 - p) = n log p - (n - y) eta,
        since log(1 - p) = log p - eta; a partial patient with weight w adds
        log(1 - w p) = softplus(eta + log(1 - w)) - softplus(eta).
        """
        a, b = np.broadcast_arrays(a, b)
        beta = np.exp(b)
        mu = self.prior.mean
        da, db = a - mu[0], b - mu[1]
        p = self.precision
        out = -0.5 * (p[0, 0] * da * da + 2.0 * p[0, 1] * da * db + p[1, 1] * db * db)
        for d in np.flatnonzero(self.n > 0):
            eta = a + beta * self.x[d]
            out += -self.n[d] * np.logaddexp(0.0, -eta) - (self.n[d] - self.y[d]) * eta
        for dose, w, c in self.partial:
            eta = a + beta * self.x[dose]
            out += c * (np.logaddexp(0.0, eta + math.log1p(-w)) - np.logaddexp(0.0, eta))
        return np.asarray(out, dtype=np.float64)

    def gradient_hessian(self, theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Log posterior, gradient and Hessian at one point (for the Laplace approximation)."""
        a, b = float(theta[0]), float(theta[1])
        beta = math.exp(b)
        value = float(self.log_density(np.array(a), np.array(b)))
        eta = a + beta * self.x
        p = expit(eta)
        g1 = self.y - self.n * p  # d loglik / d eta per dose
        g2 = -self.n * p * (1.0 - p)
        for d, w, c in self.partial:
            s = float(expit(eta[d] + math.log1p(-w)))
            g1[d] += c * (s - p[d])
            g2[d] += c * (s * (1.0 - s) - p[d] * (1.0 - p[d]))
        bx = beta * self.x
        grad = np.array([g1.sum(), (g1 * bx).sum()])
        hess = np.array(
            [
                [g2.sum(), (g2 * bx).sum()],
                [(g2 * bx).sum(), (g2 * bx * bx).sum() + (g1 * bx).sum()],
            ]
        )
        delta = theta - np.array(self.prior.mean)
        grad -= self.precision @ delta
        hess -= self.precision
        return value, grad, hess

    def laplace(self) -> tuple[FloatArray, FloatArray]:
        """Posterior mode and the inverse of the negative Hessian there (damped Newton).

        Where the Hessian is not negative definite the step uses the prior precision plus the
        expected information instead (Fisher scoring), so every step is an ascent direction;
        steps are halved until the log posterior increases.
        """
        theta = np.array(self.prior.mean, dtype=np.float64)
        value, grad, hess = self.gradient_hessian(theta)
        for _ in range(200):
            neg = -hess
            if not _positive_definite(neg):
                neg = self._fisher(theta)
            step = np.linalg.solve(neg, grad)
            t = 1.0
            while True:
                candidate = theta + t * step
                new_value, new_grad, new_hess = self.gradient_hessian(candidate)
                if new_value >= value - 1e-12 * abs(value) or t < 1e-10:
                    break
                t *= 0.5
            converged = float(np.max(np.abs(candidate - theta))) < 1e-10
            theta, value, grad, hess = candidate, new_value, new_grad, new_hess
            if converged or float(np.max(np.abs(grad))) < 1e-10:
                break
        neg = -hess
        if not _positive_definite(neg):
            neg = self._fisher(theta)
        return theta, np.asarray(np.linalg.inv(neg), dtype=np.float64)

    def _fisher(self, theta: FloatArray) -> FloatArray:
        beta = math.exp(float(theta[1]))
        eta = float(theta[0]) + beta * self.x
        p = expit(eta)
        weight = (self.n + sum_partial(self.partial, self.x.size)) * p * (1.0 - p)
        bx = beta * self.x
        info = np.array(
            [
                [weight.sum(), (weight * bx).sum()],
                [(weight * bx).sum(), (weight * bx * bx).sum()],
            ]
        )
        return np.asarray(info + self.precision, dtype=np.float64)


def sum_partial(partial: tuple[tuple[int, float, int], ...], k: int) -> FloatArray:
    """Sum of the partial patients' weights per dose."""
    out = np.zeros(k)
    for d, w, c in partial:
        out[d] += w * c
    return out


def _positive_definite(m: FloatArray) -> bool:
    return bool(m[0, 0] > 0.0 and m[0, 0] * m[1, 1] - m[0, 1] * m[1, 0] > 0.0)


# ---------------------------------------------------------------------------------------------
# the grid engine


@dataclass(frozen=True, slots=True)
class _Frame:
    """Grid coordinates: b = b0 + sd_b v, a = a0 + slope (b - b0) + sd_a u."""

    a0: float
    b0: float
    slope: float
    sd_a: float
    sd_b: float

    @classmethod
    def from_moments(cls, mean: FloatArray, cov: FloatArray) -> _Frame:
        var_b = float(cov[1, 1])
        slope = float(cov[0, 1]) / var_b
        var_a = float(cov[0, 0]) - slope * float(cov[0, 1])
        return cls(
            a0=float(mean[0]),
            b0=float(mean[1]),
            slope=slope,
            sd_a=math.sqrt(max(var_a, 1e-300)),
            sd_b=math.sqrt(var_b),
        )

    def whiten(self, mean: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviations of (u, v) for a distribution of (a, b)."""
        t = np.array([[1.0 / self.sd_a, -self.slope / self.sd_a], [0.0, 1.0 / self.sd_b]])
        m = t @ (mean - np.array([self.a0, self.b0]))
        c = t @ cov @ t.T
        return m, np.sqrt(np.maximum(np.diag(c), 0.0))


@dataclass(frozen=True, slots=True, eq=False)
class _GridPass:
    u: FloatArray  # (U,)
    h_u: float
    b: FloatArray  # (V,)
    a_center: FloatArray  # (V,)
    sd_a: float
    density: FloatArray  # (V, U), divided by its maximum
    slope: FloatArray  # (V, U): central-difference derivative of the density in u, times h_u
    cumulative: FloatArray  # (V, U): integral along u of the interpolant from the first node
    row_weight: FloatArray  # (V,) outer trapezoid weights / Z
    edge_u: float  # max log density on the u edges, relative to the maximum
    edge_v: float
    mean: FloatArray
    cov: FloatArray


def _grid_pass(problem: _Problem, frame: _Frame, half_u: float, half_v: float) -> _GridPass:
    n_u = math.ceil(2.0 * half_u * _NODES_PER_SD) + 1
    n_v = math.ceil(2.0 * half_v * _NODES_PER_SD) + 1
    u = np.linspace(-half_u, half_u, n_u)
    v = np.linspace(-half_v, half_v, n_v)
    h_u, h_v = float(u[1] - u[0]), float(v[1] - v[0])
    b = frame.b0 + frame.sd_b * v
    a_center = frame.a0 + frame.slope * (b - frame.b0)
    a = a_center[:, None] + frame.sd_a * u[None, :]
    log_f = problem.log_density(a, b[:, None])
    if not np.all(np.isfinite(log_f)):
        raise PosteriorComputationError("the BLRM log posterior is not finite on the grid")
    log_f -= float(log_f.max())
    edge_u = float(max(log_f[:, 0].max(), log_f[:, -1].max()))
    edge_v = float(max(log_f[0, :].max(), log_f[-1, :].max()))
    f = np.exp(log_f)
    # Catmull-Rom: cubic Hermite interpolant with central-difference slopes (zero at the ends,
    # where the density is negligible); its integral over a cell is the trapezoid plus
    # h (m_j - m_j+1) / 12, with m the slope times h
    m = np.zeros_like(f)
    m[:, 1:-1] = 0.5 * (f[:, 2:] - f[:, :-2])
    cell = h_u * (0.5 * (f[:, :-1] + f[:, 1:]) + (m[:, :-1] - m[:, 1:]) / 12.0)
    cumulative = np.zeros_like(f)
    np.cumsum(cell, axis=1, out=cumulative[:, 1:])
    outer = np.full(n_v, h_v)
    outer[[0, -1]] *= 0.5
    total = float(outer @ cumulative[:, -1])
    if not total > 0.0:
        raise PosteriorComputationError("the BLRM posterior could not be normalized")
    row_weight = outer / total
    mass = _node_masses(row_weight, f, h_u)
    bb = np.broadcast_to(b[:, None], a.shape)
    mean = np.array([float((mass * a).sum()), float((mass * bb).sum())])
    da, db = a - mean[0], bb - mean[1]
    cov = np.array(
        [
            [float((mass * da * da).sum()), float((mass * da * db).sum())],
            [float((mass * da * db).sum()), float((mass * db * db).sum())],
        ]
    )
    return _GridPass(
        u=u,
        h_u=h_u,
        b=b,
        a_center=a_center,
        sd_a=frame.sd_a,
        density=f,
        slope=m,
        cumulative=cumulative,
        row_weight=row_weight,
        edge_u=edge_u,
        edge_v=edge_v,
        mean=mean,
        cov=cov,
    )


def _node_masses(row_weight: FloatArray, f: FloatArray, h_u: float) -> FloatArray:
    """Posterior mass per node (2-D trapezoid; the density is negligible at the edges)."""
    inner = np.full(f.shape[1], h_u)
    inner[[0, -1]] *= 0.5
    return np.asarray(row_weight[:, None] * f * inner[None, :], dtype=np.float64)


def _eta_cdf(
    g: _GridPass, x: FloatArray, e: FloatArray, *, density: bool = True
) -> tuple[FloatArray, FloatArray | None]:
    """Pr(eta_d <= e) and its density, for eta_d = a + exp(b) x_d (``x``, ``e`` broadcast).

    Within each row: the integral of the Catmull-Rom interpolant of the density up to the point;
    across rows: the trapezoidal rule.
    """
    beta = np.exp(g.b)
    shift = g.a_center + beta * x[..., None]  # (..., V)
    t = (e[..., None] - shift) / g.sd_a
    n_u = g.u.size
    pos = (t - g.u[0]) / g.h_u
    j = np.clip(np.floor(pos).astype(np.int64), 0, n_u - 2)
    s = np.clip(pos - j, 0.0, 1.0)
    rows = np.broadcast_to(np.arange(g.b.size), j.shape)
    f0, f1 = g.density[rows, j], g.density[rows, j + 1]
    m0, m1 = g.slope[rows, j], g.slope[rows, j + 1]
    s2 = s * s
    s3 = s2 * s
    s4 = s3 * s
    partial = (
        f0 * (0.5 * s4 - s3 + s)
        + m0 * (0.25 * s4 - 2.0 * s3 / 3.0 + 0.5 * s2)
        + f1 * (s3 - 0.5 * s4)
        + m1 * (0.25 * s4 - s3 / 3.0)
    )
    c = g.cumulative[rows, j] + g.h_u * partial
    inside = (pos > 0.0) & (pos < n_u - 1)
    c = np.where(inside, c, np.where(pos <= 0.0, 0.0, g.cumulative[:, -1]))
    cdf = np.asarray(np.clip((c * g.row_weight).sum(axis=-1), 0.0, 1.0), dtype=np.float64)
    if not density:
        return cdf, None
    dens = (
        f0 * (2 * s3 - 3 * s2 + 1)
        + m0 * (s3 - 2 * s2 + s)
        + f1 * (3 * s2 - 2 * s3)
        + m1 * (s3 - s2)
    )
    dens = np.where(inside, np.maximum(dens, 0.0), 0.0) / g.sd_a
    return cdf, np.asarray((dens * g.row_weight).sum(axis=-1), dtype=np.float64)


@lru_cache(maxsize=_CACHE_SIZE)
def _grid_cached(
    amounts: tuple[float, ...],
    reference_dose: float,
    prior: BLRMPrior,
    n: tuple[int, ...],
    y: tuple[int, ...],
    partial: tuple[tuple[int, float, int], ...],
    interval: tuple[float, float],
) -> BLRMPosterior:
    problem = _Problem.build(amounts, reference_dose, prior, n, y, partial)
    return _grid_posterior(problem, interval)


def _enclosing_pass(problem: _Problem) -> tuple[_GridPass, int, FloatArray]:
    """A grid pass that encloses the posterior and resolves it; the number of passes; the mode.

    The first frame is the Laplace approximation. A pass whose posterior is off-centre (mean more
    than one frame standard deviation away) or narrower than the frame (standard deviation below
    0.6 of the frame's) is redone in the frame of its own moments; a pass whose density at an
    edge is not below e^-20 of the maximum is redone 1.5 times wider on that axis.
    """
    mode, cov = problem.laplace()
    frame = _Frame.from_moments(mode, cov)
    half_u = half_v = _HALF_WIDTH
    for passes in range(1, _MAX_PASSES + 1):
        g = _grid_pass(problem, frame, half_u, half_v)
        offset, spread = frame.whiten(g.mean, g.cov)
        centred = bool(np.all(np.abs(offset) < 1.0) and np.all(spread > 0.6))
        if centred and g.edge_u < _EDGE_LOG and g.edge_v < _EDGE_LOG:
            return g, passes, mode
        logger.debug(
            "BLRM grid pass %d: offset %s, spread %s, edges %.1f/%.1f: refitting",
            passes,
            offset,
            spread,
            g.edge_u,
            g.edge_v,
        )
        if not centred:
            frame = _Frame.from_moments(g.mean, g.cov)
            half_u = half_v = _HALF_WIDTH
        else:
            if g.edge_u >= _EDGE_LOG:
                half_u *= 1.5
            if g.edge_v >= _EDGE_LOG:
                half_v *= 1.5
    raise PosteriorComputationError(
        f"the BLRM grid could not enclose the posterior in {_MAX_PASSES} passes"
    )


def _compact(g: _GridPass) -> _GridPass:
    """The pass restricted to the rows and columns where the density is not negligible (e^-36).

    Integrals over the dropped nodes are below 1e-15 relative: the sums are unchanged to
    rounding, and the per-point work of probabilities and quantiles falls by half or more.
    """
    alive = g.density > _NEGLIGIBLE
    rows = np.flatnonzero(alive.any(axis=1))
    cols = np.flatnonzero(alive.any(axis=0))
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, g.b.size)
    c0, c1 = max(int(cols[0]) - 2, 0), min(int(cols[-1]) + 3, g.u.size)
    return replace(
        g,
        u=g.u[c0:c1],
        b=g.b[r0:r1],
        a_center=g.a_center[r0:r1],
        density=g.density[r0:r1, c0:c1],
        slope=g.slope[r0:r1, c0:c1],
        cumulative=g.cumulative[r0:r1, c0:c1],
        row_weight=g.row_weight[r0:r1],
    )


def _grid_posterior(problem: _Problem, interval: tuple[float, float]) -> BLRMPosterior:
    full, passes, mode = _enclosing_pass(problem)
    g = _compact(full)
    x = problem.x
    k = x.size
    lo, hi = interval
    cdf, _ = _eta_cdf(g, x[:, None], np.tile([logit(lo), logit(hi)], (k, 1)), density=False)
    prob_under = cdf[:, 0]
    prob_over = 1.0 - cdf[:, 1]
    prob_target = np.clip(cdf[:, 1] - cdf[:, 0], 0.0, 1.0)
    quantiles = expit(_eta_quantiles(g, x, np.array(QUANTILE_LEVELS)))
    mass = _node_masses(g.row_weight, g.density, g.h_u)
    a = g.a_center[:, None] + g.sd_a * g.u[None, :]
    beta = np.exp(g.b)[:, None]
    mean_p = np.array([float((mass * expit(a + beta * xd)).sum()) for xd in x])
    return _posterior_result(
        "grid",
        problem,
        interval,
        prob_underdose=prob_under,
        prob_target=prob_target,
        prob_overdose=prob_over,
        prob_tox_mean=mean_p,
        quantiles=quantiles,
        param_mean=g.mean,
        param_cov=g.cov,
        converged=True,
        diagnostics={
            "engine": "grid",
            "grid_nodes": [int(full.b.size), int(full.u.size)],
            "grid_passes": passes,
            "laplace_mode": [float(mode[0]), float(mode[1])],
        },
    )


def _eta_quantiles(g: _GridPass, x: FloatArray, levels: FloatArray) -> FloatArray:
    """Quantiles of eta_d, shape (n_doses, n_levels): a bracketing scan, then safeguarded Newton."""
    beta = np.exp(g.b)
    reach = g.sd_a * float(np.abs(g.u).max())
    shifts = g.a_center[None, :] + beta[None, :] * x[:, None]
    lo = shifts.min(axis=1) - reach
    hi = shifts.max(axis=1) + reach
    scan = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, _SCAN_POINTS)[None, :]
    scan_cdf, _ = _eta_cdf(g, x[:, None], scan, density=False)
    k = x.size
    index = np.stack(
        [np.searchsorted(scan_cdf[d], levels, side="left") for d in range(k)]
    )  # first scan point with cdf >= level
    index = np.clip(index, 1, _SCAN_POINTS - 1)
    rows = np.arange(k)[:, None]
    lower, upper = scan[rows, index - 1], scan[rows, index]
    point = 0.5 * (lower + upper)
    for _ in range(_NEWTON_STEPS):
        value, dens = _eta_cdf(g, x[:, None], point)
        assert dens is not None
        excess = value - levels[None, :]
        lower = np.where(excess < 0.0, point, lower)
        upper = np.where(excess < 0.0, upper, point)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = point - excess / dens
        ok = np.isfinite(newton) & (newton >= lower) & (newton <= upper)
        point = np.where(ok, newton, 0.5 * (lower + upper))
    return np.asarray(point, dtype=np.float64)


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


# ---------------------------------------------------------------------------------------------
# the MCMC engine


@dataclass(eq=False)
class _CompiledModel:
    model: Any
    step: Any
    fresh_state: Any
    build_seconds: float
    uses: int = 0


_MCMC_LOCK = threading.Lock()
_MCMC_MODEL: list[_CompiledModel] = []


def mcmc_model_cache_info() -> dict[str, float | int | bool]:
    """Whether the PyMC model is compiled in this process, its build time and number of uses."""
    if not _MCMC_MODEL:
        return {"compiled": False, "build_seconds": 0.0, "uses": 0}
    m = _MCMC_MODEL[0]
    return {"compiled": True, "build_seconds": m.build_seconds, "uses": m.uses}


def _import_pymc() -> tuple[Any, Any, Any]:
    """PyMC, PyTensor's tensor module and ArviZ, imported lazily and quietly.

    Two notices are silenced, each by its message: ArviZ's once-a-day FutureWarning about its
    coming refactor, and PyTensor's notice that it found no BLAS library (this model has no
    matrix products).
    """
    with _quiet_imports():
        import arviz as az
        import pymc as pm
        import pytensor.tensor as pt
    return pm, pt, az


@contextmanager
def _quiet_imports() -> Iterator[None]:
    """Within the block, the two notices of :func:`_import_pymc` are silenced (the warning
    filters are restored on exit)."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning
        )
        warnings.filterwarnings(
            "ignore", message=r"\s*PyTensor could not link to a BLAS", category=UserWarning
        )
        yield


def _compiled_model() -> _CompiledModel:
    """The one PyMC model of this process (inputs in pm.Data; built and compiled on first use)."""
    if _MCMC_MODEL:
        return _MCMC_MODEL[0]
    start = time.perf_counter()
    pm, pt, _ = _import_pymc()
    with _quiet_imports(), pm.Model() as model:
        x = pm.Data("x", np.zeros(2))
        n = pm.Data("n", np.zeros(2))
        y = pm.Data("y", np.zeros(2))
        pending_dose = pm.Data("pending_dose", np.zeros(0, dtype=np.int64))
        pending_weight = pm.Data("pending_weight", np.zeros(0))
        prior_mean = pm.Data("prior_mean", np.zeros(2))
        prior_sd = pm.Data("prior_sd", np.ones(2))
        prior_corr = pm.Data("prior_corr", np.float64(0.0))
        shift = pm.Data("shift", np.zeros(2))
        chol = pm.Data("chol", np.eye(2))
        z = pm.Flat("z", shape=2)
        log_alpha = shift[0] + chol[0, 0] * z[0]
        log_beta = shift[1] + chol[1, 0] * z[0] + chol[1, 1] * z[1]
        # bivariate normal prior as log(alpha), then log(beta) given log(alpha) (additive
        # constants dropped)
        z_alpha = (log_alpha - prior_mean[0]) / prior_sd[0]
        cond_mean = prior_mean[1] + prior_corr * prior_sd[1] * z_alpha
        cond_sd = prior_sd[1] * pt.sqrt(1.0 - prior_corr**2)
        pm.Potential("prior", -0.5 * (z_alpha**2 + ((log_beta - cond_mean) / cond_sd) ** 2))
        eta = log_alpha + pt.exp(log_beta) * x
        # complete patients: y log p + (n - y) log(1 - p), with log p = -softplus(-eta)
        pm.Potential("complete", -pt.sum(y * pt.softplus(-eta) + (n - y) * pt.softplus(eta)))
        p = pm.math.sigmoid(eta)
        pm.Potential("pending", pt.sum(pt.log1p(-pending_weight * p[pending_dose])))
        step = pm.NUTS(vars=[model["z"]], target_accept=_TARGET_ACCEPT)
    compiled = _CompiledModel(
        model=model,
        step=step,
        fresh_state=step.sampling_state,
        build_seconds=time.perf_counter() - start,
    )
    logger.info("BLRM PyMC model built and compiled in %.1f s", compiled.build_seconds)
    _MCMC_MODEL.append(compiled)
    return compiled


@lru_cache(maxsize=64)
def _mcmc_cached(
    amounts: tuple[float, ...],
    reference_dose: float,
    prior: BLRMPrior,
    n: tuple[int, ...],
    y: tuple[int, ...],
    partial: tuple[tuple[int, float, int], ...],
    interval: tuple[float, float],
    seed: int,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
) -> BLRMPosterior:
    """MCMC results are a function of their inputs and seed: memoized (a decision and its final
    selection on the same data sample once)."""
    problem = _Problem.build(amounts, reference_dose, prior, n, y, partial)
    return _mcmc_posterior(
        problem, interval, seed=seed, draws=draws, tune=tune, chains=chains, cores=cores
    )


def _mcmc_posterior(
    problem: _Problem,
    interval: tuple[float, float],
    *,
    seed: int,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
) -> BLRMPosterior:
    with _MCMC_LOCK:
        start = time.perf_counter()
        first_use = not _MCMC_MODEL
        compiled = _compiled_model()
        pm, _, az = _import_pymc()
        mode, cov = problem.laplace()
        chol = np.linalg.cholesky(cov)
        pending_dose = [d for d, _, c in problem.partial for _ in range(c)]
        pending_weight = [w for _, w, c in problem.partial for _ in range(c)]
        rng = np.random.default_rng(seed)
        initvals = [{"z": rng.uniform(-1.0, 1.0, size=2)} for _ in range(chains)]
        with compiled.model, _quiet_imports():
            pm.set_data(
                {
                    "x": problem.x,
                    "n": problem.n,
                    "y": problem.y,
                    "pending_dose": np.array(pending_dose, dtype=np.int64),
                    "pending_weight": np.array(pending_weight, dtype=np.float64),
                    "prior_mean": np.array(problem.prior.mean),
                    "prior_sd": np.array(problem.prior.sd),
                    "prior_corr": np.float64(problem.prior.corr),
                    "shift": mode,
                    "chol": chol,
                }
            )
            compiled.step.sampling_state = compiled.fresh_state
            trace = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                cores=cores,
                step=compiled.step,
                initvals=initvals,
                random_seed=seed,
                var_names=["z"],
                progressbar=False,
                quiet=True,
                compute_convergence_checks=False,
                return_inferencedata=False,
            )
        compiled.uses += 1
        z = np.stack([trace.get_values("z", chains=[c]) for c in range(chains)])  # (C, D, 2)
        diverging = np.asarray(trace.get_sampler_stats("diverging", combine=True))
        sampled = time.perf_counter()
    theta = mode + z @ chol.T
    params = {"log_alpha": theta[..., 0], "log_beta": theta[..., 1]}
    with _quiet_imports():
        rhat = {k: float(az.rhat(v)) for k, v in params.items()}
        ess_bulk = {k: float(az.ess(v, method="bulk")) for k, v in params.items()}
        ess_tail = {k: float(az.ess(v, method="tail")) for k, v in params.items()}
    divergences = int(diverging.sum())
    flat = theta.reshape(-1, 2)
    eta = flat[:, :1] + np.exp(flat[:, 1:]) * problem.x[None, :]
    p = expit(eta)
    lo, hi = interval
    prob_under = (p < lo).mean(axis=0)
    prob_over = (p >= hi).mean(axis=0)
    prob_target = 1.0 - prob_under - prob_over
    quantiles = np.quantile(p, QUANTILE_LEVELS, axis=0).T
    failures = []
    worst_rhat = max(rhat.values())
    if not worst_rhat <= RHAT_MAX:
        failures.append(f"R-hat {worst_rhat:.3f} > {RHAT_MAX}")
    if not min(ess_bulk.values()) >= ESS_MIN:
        failures.append(f"bulk ESS {min(ess_bulk.values()):.0f} < {ESS_MIN:.0f}")
    if not min(ess_tail.values()) >= ESS_MIN:
        failures.append(f"tail ESS {min(ess_tail.values()):.0f} < {ESS_MIN:.0f}")
    if divergences:
        failures.append(f"{divergences} divergent transition{'s' if divergences > 1 else ''}")
    converged = not failures
    diagnostics: dict[str, Any] = {
        "engine": "mcmc",
        "sampler": "PyMC NUTS",
        "chains": chains,
        "draws": draws,
        "tune": tune,
        "seed": seed,
        "rhat": rhat,
        "ess_bulk": ess_bulk,
        "ess_tail": ess_tail,
        "divergences": divergences,
        "thresholds": {"rhat_max": RHAT_MAX, "ess_min": ESS_MIN, "divergences_max": 0},
        "converged": converged,
        "failures": failures,
        "compiled_this_call": first_use,
        "sampling_seconds": sampled - start,
    }
    return _posterior_result(
        "mcmc",
        problem,
        interval,
        prob_underdose=prob_under,
        prob_target=prob_target,
        prob_overdose=prob_over,
        prob_tox_mean=p.mean(axis=0),
        quantiles=quantiles,
        param_mean=flat.mean(axis=0),
        param_cov=np.cov(flat.T),
        converged=converged,
        diagnostics=diagnostics,
    )
