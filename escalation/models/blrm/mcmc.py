"""The BLRM's MCMC engine: PyMC's NUTS, imported only when the engine first runs.

See :mod:`escalation.models.blrm`, section Engines.

References
----------
Vehtari A, Gelman A, Simpson D, Carpenter B, Buerkner P-C (2021). Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC. Bayesian Analysis 16:667-718.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from escalation.models import _special as special
from escalation.models.blrm.likelihood import _Problem
from escalation.models.blrm.prior import BLRMPrior
from escalation.models.blrm.results import QUANTILE_LEVELS, BLRMPosterior, _posterior_result

__all__ = ["DEFAULT_TUNE", "ESS_MIN", "RHAT_MAX", "mcmc_model_cache_info"]

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: MCMC convergence thresholds: R-hat above, or bulk/tail ESS below, fail the diagnostics
RHAT_MAX = 1.01
ESS_MIN = 400.0

# MCMC: NUTS's target acceptance (above PyMC's 0.8 and 0.9, which let a divergent transition
# through now and then in the curved tails of sparse-data posteriors) and tuning steps per chain;
# in the whitened coordinates the 2-D posterior is close to a standard normal, so 500 tuning steps
# suffice (the diagnostics are checked on every run all the same)
_TARGET_ACCEPT = 0.95
DEFAULT_TUNE = 500


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
    p = special.expit(eta)
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
