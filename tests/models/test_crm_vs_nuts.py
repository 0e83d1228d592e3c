"""The CRM quadrature against a second method: PyMC NUTS on the same model and data.

Agreement within 4 Monte Carlo standard errors (ArviZ's MCSE) for the posterior mean of a and
Pr(p_d > target) at every dose, on two data sets and both working models. PyMC is imported here
only.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from escalation.models.crm import crm_posterior

SKELETON = np.array([0.06, 0.12, 0.2, 0.3, 0.4, 0.5])
TARGET = 0.25
PRIOR_SD = math.sqrt(1.34)
DATA_SETS = {
    # dose index and DLT of each patient
    "9-patients-one-dlt": ([0, 0, 0, 1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0, 0, 1, 0]),
    "18-patients-toxic-middle": (
        [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2, 2, 2, 2],
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 1, 0, 0, 1, 0],
    ),
}


@pytest.fixture(scope="module")
def nuts() -> Any:
    """Sample a ~ N(0, 1.34) given the data, with the empiric or the logistic working model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # third-party import notices (ArviZ refactor, BLAS)
        import arviz as az
        import pymc as pm

    def sample(model: str, dose: list[int], dlt: list[int], seed: int) -> tuple[np.ndarray, Any]:
        x = np.log(SKELETON) if model == "empiric" else np.log(SKELETON / (1 - SKELETON)) - 3.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pm.Model():
                a = pm.Normal("a", 0.0, PRIOR_SD)
                xd = x[np.asarray(dose)]
                logit_p = (
                    pm.math.log(
                        pm.math.exp(pm.math.exp(a) * xd) / (1 - pm.math.exp(pm.math.exp(a) * xd))
                    )
                    if model == "empiric"
                    else 3.0 + pm.math.exp(a) * xd
                )
                pm.Bernoulli("y", logit_p=logit_p, observed=np.asarray(dlt))
                trace = pm.sample(
                    draws=1000,
                    tune=500,
                    chains=4,
                    cores=1,
                    random_seed=seed,
                    progressbar=False,
                    compute_convergence_checks=False,
                    return_inferencedata=False,
                )
        draws = np.stack([trace.get_values("a", chains=[c]) for c in range(4)])  # (chains, draws)
        return draws, az

    return sample


def _p(model: str, a: np.ndarray) -> np.ndarray:
    """p_d at each draw of a, shape draws.shape + (D,)."""
    e = np.exp(a)[..., None]
    if model == "empiric":
        return SKELETON**e
    x = np.log(SKELETON / (1 - SKELETON)) - 3.0
    return 1 / (1 + np.exp(-(3.0 + e * x)))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("empiric", "9-patients-one-dlt"),
        ("empiric", "18-patients-toxic-middle"),
        ("logistic", "18-patients-toxic-middle"),
    ],
)
def test_quadrature_agrees_with_nuts(nuts: Any, model: str, name: str) -> None:
    dose, dlt = DATA_SETS[name]
    draws, az = nuts(model, dose, dlt, seed=20261125)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.asarray(az.rhat(draws)).item() < 1.01
        mcse_a = np.asarray(az.mcse(draws)).item()
    exact = crm_posterior(SKELETON, dose, dlt, target=TARGET, model=model, prior_sd=PRIOR_SD)
    # the posterior mean of a over the whole line (dfcrm's estimate integrates over (-10, 10);
    # the mass beyond is negligible here)
    assert abs(draws.mean() - exact.posterior_mean) < 4 * mcse_a
    over = _p(model, draws) > TARGET  # (chains, draws, D)
    for d in range(SKELETON.size):
        indicator = over[..., d].astype(float)
        if indicator.std() == 0:  # all draws on one side: the exact value must be near 0 or 1
            assert abs(indicator.mean() - exact.prob_overdose[d]) < 1e-3
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mcse = np.asarray(az.mcse(indicator)).item()
        assert abs(indicator.mean() - exact.prob_overdose[d]) < 4 * mcse + 1e-12, d
