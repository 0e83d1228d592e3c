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
8 standard deviations each way, extended until the density at its edges is below e^-14 of its
maximum and re-centred on the grid's own moments when they disagree with the approximation. Along
each row the density is integrated by the trapezoidal rule (spectrally accurate for the smooth,
decaying integrand), and probabilities below a point use the exact integral of the Catmull-Rom
cubic interpolant within the last cell; across rows the trapezoidal rule again. For fixed
log(beta) the events {p(d) < c} are half-lines in log(alpha), which is why the inner axis is
log(alpha): interval probabilities and quantiles of p(d) are one-dimensional cumulative integrals,
not indicator functions on a grid. Accuracy is checked in the tests against an independent
brute-force integration: every interval probability and quantile level within 1e-4 (1.5e-5 at most
on the tested cases, with 5 nodes per standard deviation on each axis; 4 on either axis left
1.3e-4 in a lower quantile).

Many data sets at once (:func:`blrm_interval_probs`, the simulation harness's path): the grid
passes of all of them run together, numpy over data sets and nodes, and only the interval
probabilities are computed. Each data set's arithmetic is the same alone or among others (doses
without patients and the padding add exact zeros; every reduction stays within one data set), so
the numbers equal :func:`blrm_posterior`'s to the last bit, and a simulated trial takes the
design's own decisions.

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

import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from escalation.errors import ConvergenceWarning, InvalidDesignError, InvalidTrialDataError
from escalation.models.blrm.grid import _grid_cached, grid_interval_probs
from escalation.models.blrm.inputs import _check_inputs, _partial_groups
from escalation.models.blrm.likelihood import _Problem
from escalation.models.blrm.mcmc import (
    DEFAULT_TUNE,
    ESS_MIN,
    RHAT_MAX,
    _mcmc_cached,
    mcmc_model_cache_info,
)
from escalation.models.blrm.prior import BLRMPrior
from escalation.models.blrm.results import (
    DEFAULT_TARGET_INTERVAL,
    QUANTILE_LEVELS,
    BLRMIntervalProbs,
    BLRMPosterior,
    Engine,
    _frozen,
)

__all__ = [
    "DEFAULT_TARGET_INTERVAL",
    "DEFAULT_TUNE",
    "ESS_MIN",
    "QUANTILE_LEVELS",
    "RHAT_MAX",
    "BLRMIntervalProbs",
    "BLRMPosterior",
    "BLRMPrior",
    "Engine",
    "blrm_interval_probs",
    "blrm_posterior",
    "blrm_posterior_batch",
    "mcmc_model_cache_info",
]


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


def blrm_interval_probs(
    dose_amounts: Sequence[float],
    *,
    reference_dose: float,
    prior: BLRMPrior,
    n_at_dose: npt.ArrayLike,
    dlt_at_dose: npt.ArrayLike,
    target_interval: tuple[float, float] = DEFAULT_TARGET_INTERVAL,
) -> BLRMIntervalProbs:
    """The grid posterior's interval probabilities for many sets of complete data at once.

    The simulation harness's path: ``n_at_dose`` and ``dlt_at_dose`` have shape (sets, doses);
    each distinct row is computed once, all of them together (numpy over data sets and grid
    nodes), and only the interval probabilities are computed (no quantiles, no posterior mean).
    Row by row the numbers are those of :func:`blrm_posterior` with the grid engine, to the last
    bit, so that a decision taken on them is the design's.

    Raises
    ------
    InvalidTrialDataError, InvalidDesignError
        For inputs that are not valid, naming the field.

    Examples
    --------
    >>> probs = blrm_interval_probs(
    ...     [0.25e6, 0.5e6, 1e6, 2e6, 4e6], reference_dose=4e6,
    ...     prior=BLRMPrior.weakly_informative(0.25),
    ...     n_at_dose=[[3, 3, 3, 0, 0], [3, 3, 0, 0, 0]], dlt_at_dose=[[0, 0, 1, 0, 0], [0, 0, 0, 0, 0]])
    >>> [round(float(p), 3) for p in probs.prob_overdose[0]]
    [0.006, 0.019, 0.086, 0.295, 0.525]
    """
    n = np.asarray(n_at_dose)
    y = np.asarray(dlt_at_dose)
    if n.ndim != 2 or y.shape != n.shape or n.shape[0] == 0:
        raise InvalidTrialDataError(
            f"n_at_dose and dlt_at_dose must be 2-D of the same shape, got {n.shape} and {y.shape}",
            field="n_at_dose",
        )
    k = n.shape[1]
    stacked = np.concatenate([n, y], axis=1)
    if stacked.dtype.kind not in "iu":
        raise InvalidTrialDataError("expected integer counts", field="n_at_dose")
    distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    # the checks of blrm_posterior: the doses and interval once, the counts all at once
    _check_inputs(
        dose_amounts, reference_dose, distinct[0, :k], distinct[0, k:], (), (), target_interval
    )
    for name, bad in (
        ("n_at_dose", distinct[:, :k] < 0),
        ("dlt_at_dose", (distinct[:, k:] < 0) | (distinct[:, k:] > distinct[:, :k])),
    ):
        if bad.any():
            i, d = (int(v) for v in np.argwhere(bad)[0])
            raise InvalidTrialDataError(
                f"{distinct[i, k + d]} DLTs among {distinct[i, d]} patients"
                if name == "dlt_at_dose"
                else f"negative count {distinct[i, d]}",
                field=f"{name}[{d}]",
            )
    interval = (float(target_interval[0]), float(target_interval[1]))
    template = _Problem.build(
        tuple(float(a) for a in dose_amounts),
        float(reference_dose),
        prior,
        (0,) * k,
        (0,) * k,
        (),
    )
    under, target, over = grid_interval_probs(template, distinct[:, :k], distinct[:, k:], interval)
    return BLRMIntervalProbs(
        target_interval=interval,
        prob_underdose=_frozen(under[inverse]),
        prob_target=_frozen(target[inverse]),
        prob_overdose=_frozen(over[inverse]),
    )
