"""The BLRM posterior: the grid engine against an independent brute-force integration, and
against PyMC's NUTS (the MCMC engine); pending weights; seeds; diagnostics; input checks."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy import integrate, optimize

from escalation.errors import (
    ConvergenceWarning,
    InvalidDesignError,
    InvalidTrialDataError,
)
from escalation.models.blrm import (
    QUANTILE_LEVELS,
    BLRMPosterior,
    BLRMPrior,
    blrm_interval_probs,
    blrm_posterior,
    blrm_posterior_batch,
    mcmc_model_cache_info,
)
from escalation.models.blrm import grid as blrm_grid
from escalation.models.blrm import mcmc as blrm_mcmc

AMOUNTS = (0.25e6, 0.5e6, 1.0e6, 2.0e6, 4.0e6)  # CAR+ T cells/kg
REFERENCE = 4.0e6
INTERVAL = (0.16, 0.33)


@dataclass(frozen=True)
class Case:
    name: str
    prior: BLRMPrior
    n: tuple[int, ...]
    y: tuple[int, ...]
    partial_dose: tuple[int, ...] = ()
    partial_weight: tuple[float, ...] = ()

    def posterior(self, **kwargs: object) -> BLRMPosterior:
        return blrm_posterior(
            AMOUNTS,
            reference_dose=REFERENCE,
            prior=self.prior,
            n_at_dose=self.n,
            dlt_at_dose=self.y,
            partial_dose=self.partial_dose,
            partial_weight=self.partial_weight,
            target_interval=INTERVAL,
            **kwargs,  # type: ignore[arg-type]
        )


WEAK = BLRMPrior.weakly_informative(0.25)
CASES = [
    Case("early-one-dlt", WEAK, (3, 3, 3, 0, 0), (0, 0, 1, 0, 0)),
    Case("thirty-patients", WEAK, (3, 6, 9, 6, 6), (0, 0, 1, 2, 4)),
    Case(
        "pending-correlated-prior",
        BLRMPrior(mean=(-1.5, 0.2), sd=(1.5, 0.8), corr=-0.4),
        (3, 3, 3, 0, 0),
        (0, 0, 0, 0, 0),
        partial_dose=(2, 3, 3),
        partial_weight=(0.5, 0.2, 0.8),
    ),
]


# ---------------------------------------------------------------------------------------------
# an independent reference: the posterior written out plainly and integrated by QUADPACK


def _log_logistic(t: float) -> float:
    """log(1 / (1 + e^-t)) without overflow."""
    return -math.log1p(math.exp(-t)) if t >= 0 else t - math.log1p(math.exp(t))


class BruteForce:
    """The posterior by nested adaptive quadrature (scipy.integrate.quad), from first principles:
    Binomial likelihood with log p and log(1 - p), the weighted likelihood 1 - w p, and the
    bivariate normal density of the prior written out."""

    def __init__(self, case: Case) -> None:
        self.x = [math.log(a / REFERENCE) for a in AMOUNTS]
        self.case = case
        m1, m2 = case.prior.mean
        s1, s2 = case.prior.sd
        r = case.prior.corr
        self.prior = (m1, m2, s1, s2, r)
        mode = optimize.minimize(lambda t: -self.log_post(t[0], t[1]), x0=[m1, m2], method="BFGS")
        self.mode = mode.x
        self.shift = -float(mode.fun)
        sd = np.sqrt(np.diag(mode.hess_inv))
        # generous box: 14 approximate standard deviations, within +/- 8 prior sds
        self.a_box = (
            max(self.mode[0] - 14 * sd[0], m1 - 8 * s1),
            min(self.mode[0] + 14 * sd[0], m1 + 8 * s1),
        )
        self.b_box = (
            max(self.mode[1] - 14 * sd[1], m2 - 8 * s2),
            min(self.mode[1] + 14 * sd[1], m2 + 8 * s2),
        )
        self.total = self.mass(lambda b: self.a_box[0], lambda b: self.a_box[1])

    def log_post(self, a: float, b: float) -> float:
        m1, m2, s1, s2, r = self.prior
        za, zb = (a - m1) / s1, (b - m2) / s2
        value = -(za * za - 2 * r * za * zb + zb * zb) / (2 * (1 - r * r))
        beta = math.exp(b)
        for d, (n, y) in enumerate(zip(self.case.n, self.case.y, strict=True)):
            if n == 0:
                continue
            t = a + beta * self.x[d]
            value += y * _log_logistic(t) + (n - y) * _log_logistic(-t)
        for d, w in zip(self.case.partial_dose, self.case.partial_weight, strict=True):
            p = math.exp(_log_logistic(a + beta * self.x[d]))
            value += math.log1p(-w * p)
        return value

    def density(self, a: float, b: float) -> float:
        return math.exp(self.log_post(a, b) - self.shift)

    def mass(self, a_lo, a_hi) -> float:  # type: ignore[no-untyped-def]
        def inner(b: float) -> float:
            lo = min(max(a_lo(b), self.a_box[0]), self.a_box[1])
            hi = min(max(a_hi(b), self.a_box[0]), self.a_box[1])
            if hi <= lo:
                return 0.0
            pts = [self.mode[0]] if lo < self.mode[0] < hi else None
            return integrate.quad(
                lambda a: self.density(a, b),
                lo,
                hi,
                points=pts,
                epsabs=1e-11,
                epsrel=1e-9,
                limit=200,
            )[0]

        return integrate.quad(
            inner, *self.b_box, points=[self.mode[1]], epsabs=1e-10, epsrel=1e-8, limit=200
        )[0]

    def prob_below(self, d: int, c: float) -> float:
        """Pr(p_d < c) = Pr(log alpha < logit(c) - beta x_d)."""
        lc = math.log(c / (1 - c))
        return self.mass(lambda b: self.a_box[0], lambda b: lc - math.exp(b) * self.x[d]) / (
            self.total
        )


@pytest.fixture(scope="module", params=CASES, ids=lambda c: c.name)
def brute(request: pytest.FixtureRequest) -> BruteForce:
    return BruteForce(request.param)


#: the grid's accuracy, checked: every interval probability and quantile level within 1e-4 of the
#: brute-force integration (about 1.5e-5 is the largest difference on these cases)
GRID_TOL = 1e-4


def test_grid_agrees_with_brute_force_to_1e_4(brute: BruteForce) -> None:
    post = brute.case.posterior()
    lo, hi = INTERVAL
    for d in range(len(AMOUNTS)):
        under = brute.prob_below(d, lo)
        below_hi = brute.prob_below(d, hi)
        assert post.prob_underdose[d] == pytest.approx(under, abs=GRID_TOL)
        assert post.prob_overdose[d] == pytest.approx(1.0 - below_hi, abs=GRID_TOL)
        assert post.prob_target[d] == pytest.approx(below_hi - under, abs=GRID_TOL)


@pytest.mark.parametrize(
    "brute", [c for c in CASES if not c.partial_dose], indirect=True, ids=lambda c: c.name
)
def test_batched_interval_probs_agree_with_brute_force_and_the_single_path(
    brute: BruteForce,
) -> None:
    """The simulation harness's path (many data sets at once, interval probabilities only; it
    takes complete data, so the cases without pending patients): the single posterior's numbers
    to the last bit, so within 1e-4 of the brute force too."""
    case = brute.case
    other = (3, 3, 0, 0, 0), (0, 1, 0, 0, 0)
    probs = blrm_interval_probs(
        AMOUNTS,
        reference_dose=REFERENCE,
        prior=case.prior,
        n_at_dose=[other[0], case.n, other[0]],
        dlt_at_dose=[other[1], case.y, other[1]],
        target_interval=INTERVAL,
    )
    post = case.posterior()
    for name in ("prob_underdose", "prob_target", "prob_overdose"):
        assert getattr(probs, name)[1].tobytes() == getattr(post, name).tobytes(), name
    lo, hi = INTERVAL
    for d in range(len(AMOUNTS)):
        under, below_hi = brute.prob_below(d, lo), brute.prob_below(d, hi)
        assert probs.prob_underdose[1, d] == pytest.approx(under, abs=GRID_TOL)
        assert probs.prob_overdose[1, d] == pytest.approx(1.0 - below_hi, abs=GRID_TOL)


def test_batched_interval_probs_match_single_posteriors_bit_for_bit() -> None:
    """Every data set's arithmetic is its own: alone or among many, the same bits."""
    rng = np.random.default_rng(11)
    n = rng.integers(0, 4, size=(40, 5)) * 3 * (rng.random((40, 5)) < 0.6)
    y = np.minimum(n, rng.integers(0, 3, size=(40, 5)))
    probs = blrm_interval_probs(
        AMOUNTS, reference_dose=REFERENCE, prior=WEAK, n_at_dose=n, dlt_at_dose=y
    )
    for i in range(0, 40, 7):
        single = blrm_posterior(
            AMOUNTS, reference_dose=REFERENCE, prior=WEAK, n_at_dose=n[i], dlt_at_dose=y[i]
        )
        assert probs.prob_overdose[i].tobytes() == single.prob_overdose.tobytes()
        assert probs.prob_target[i].tobytes() == single.prob_target.tobytes()
    with pytest.raises(InvalidTrialDataError, match="DLTs among"):
        blrm_interval_probs(
            AMOUNTS,
            reference_dose=REFERENCE,
            prior=WEAK,
            n_at_dose=[[1] * 5],
            dlt_at_dose=[[2] * 5],
        )


def test_grid_quantiles_agree_with_brute_force(brute: BruteForce) -> None:
    post = brute.case.posterior()
    for d in range(len(AMOUNTS)):
        for k, level in enumerate(QUANTILE_LEVELS):
            if level in (0.025, 0.5, 0.975):
                assert brute.prob_below(d, float(post.quantiles[d, k])) == pytest.approx(
                    level, abs=GRID_TOL
                ), (d, level)


def test_the_brute_force_check_tells_a_coarser_grid_apart(
    brute: BruteForce, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: a grid of 2 nodes per standard deviation misses 1e-4 on every case (4
    nodes per standard deviation on either axis miss it on the pending case's lower quantile at
    dose level 1, by 1.3e-4)."""
    monkeypatch.setattr(blrm_grid, "_NODES_PER_SD", 2.0)
    monkeypatch.setattr(blrm_grid, "_OUTER_NODES_PER_SD", 2.0)
    blrm_grid._grid_cached.cache_clear()
    try:
        post = brute.case.posterior()
        lo, _ = INTERVAL
        errors = [
            abs(post.prob_underdose[d] - brute.prob_below(d, lo)) for d in range(len(AMOUNTS))
        ]
        errors += [
            abs(brute.prob_below(d, float(post.quantiles[d, k])) - level)
            for d in range(len(AMOUNTS))
            for k, level in enumerate(QUANTILE_LEVELS)
            if level in (0.025, 0.975)
        ]
        assert max(errors) > GRID_TOL
    finally:
        blrm_grid._grid_cached.cache_clear()


# ---------------------------------------------------------------------------------------------
# the grid engine's own consistency


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_grid_output_is_coherent(case: Case) -> None:
    post = case.posterior()
    total = post.prob_underdose + post.prob_target + post.prob_overdose
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    # every curve of the model increases with the dose
    assert np.all(np.diff(post.prob_overdose) >= -1e-12)
    assert np.all(np.diff(post.prob_underdose) <= 1e-12)
    assert np.all(np.diff(post.quantiles, axis=1) > 0)  # quantiles increase with the level
    assert np.all(np.diff(post.quantiles, axis=0) > 0)  # and with the dose
    assert np.all((post.prob_tox_mean > post.quantiles[:, 0]) & (post.prob_tox_mean < 1))
    assert post.prob_tox_interval.shape == (len(AMOUNTS), 2)
    np.testing.assert_array_equal(post.prob_tox_median, post.quantiles[:, 2])
    with pytest.raises(ValueError):
        post.prob_overdose[0] = 0.0  # read-only: results are shared by the cache


def test_grid_without_data_is_the_prior() -> None:
    """With no patient, Pr(p_d < c) is a bivariate-normal probability, checked by Monte Carlo
    with many draws from the prior (an independent computation)."""
    case = Case("prior", BLRMPrior(mean=(-1.0, 0.3), sd=(1.2, 0.7), corr=0.3), (0,) * 5, (0,) * 5)
    post = case.posterior()
    rng = np.random.default_rng(20080611)
    theta = rng.multivariate_normal(case.prior.mean, case.prior.covariance, size=1_000_000)
    x = np.log(np.array(AMOUNTS) / REFERENCE)
    p = 1.0 / (1.0 + np.exp(-(theta[:, :1] + np.exp(theta[:, 1:]) * x)))
    np.testing.assert_allclose(post.prob_overdose, (p >= 0.33).mean(axis=0), atol=2e-3)
    np.testing.assert_allclose(post.prob_underdose, (p < 0.16).mean(axis=0), atol=2e-3)
    np.testing.assert_allclose(post.prob_tox_mean, p.mean(axis=0), atol=1e-3)


def test_pending_weights_interpolate_between_absent_and_complete() -> None:
    base = Case("base", WEAK, (3, 3, 0, 0, 0), (0, 0, 0, 0, 0))
    absent = base.posterior()
    complete = Case("complete", WEAK, (3, 4, 0, 0, 0), (0, 0, 0, 0, 0)).posterior()
    weight = {
        w: Case("w", WEAK, base.n, base.y, partial_dose=(1,), partial_weight=(w,)).posterior()
        for w in (0.0, 0.25, 0.5, 0.75, 1.0)
    }
    np.testing.assert_allclose(weight[0.0].prob_overdose, absent.prob_overdose, atol=1e-12)
    np.testing.assert_allclose(weight[1.0].prob_overdose, complete.prob_overdose, atol=1e-12)
    # more follow-up without a DLT: more evidence of safety at every dose
    over = np.array([weight[w].prob_overdose for w in sorted(weight)])
    assert np.all(np.diff(over, axis=0) < 0)


def test_pending_patients_order_changes_nothing() -> None:
    a = Case("a", WEAK, (3, 3, 3, 0, 0), (0, 1, 0, 0, 0), (2, 1, 2), (0.3, 0.5, 0.9)).posterior()
    b = Case("b", WEAK, (3, 3, 3, 0, 0), (0, 1, 0, 0, 0), (2, 2, 1), (0.9, 0.3, 0.5)).posterior()
    assert a is b  # the same sufficient statistics: the same memoized result


def test_batch_matches_single_posteriors_and_computes_each_state_once() -> None:
    n = np.array([[3, 3, 0, 0, 0], [3, 3, 3, 0, 0], [3, 3, 0, 0, 0]])
    y = np.array([[0, 1, 0, 0, 0], [0, 0, 2, 0, 0], [0, 1, 0, 0, 0]])
    batch = blrm_posterior_batch(
        AMOUNTS, reference_dose=REFERENCE, prior=WEAK, n_at_dose=n, dlt_at_dose=y
    )
    assert len(batch) == 3 and batch[0] is batch[2]
    for row, post in zip(range(3), batch, strict=True):
        single = blrm_posterior(
            AMOUNTS, reference_dose=REFERENCE, prior=WEAK, n_at_dose=n[row], dlt_at_dose=y[row]
        )
        np.testing.assert_array_equal(post.prob_overdose, single.prob_overdose)


def test_reference_dose_is_a_reparametrization_of_the_prior_not_of_the_data() -> None:
    """Moving the reference dose with the prior of log(alpha) moved accordingly (a point prior
    on beta makes this exact) leaves the dose-toxicity posterior unchanged."""
    # log(beta) prior sd tiny: beta = 1, logit p = log(alpha) + log(d / d*)
    p1 = BLRMPrior(mean=(-1.0, 0.0), sd=(1.5, 1e-4), corr=0.0)
    p2 = BLRMPrior(mean=(-1.0 - math.log(REFERENCE / 1.0e6), 0.0), sd=(1.5, 1e-4), corr=0.0)
    kw = {"n_at_dose": (3, 3, 3, 0, 0), "dlt_at_dose": (0, 0, 1, 0, 0)}
    a = blrm_posterior(AMOUNTS, reference_dose=REFERENCE, prior=p1, **kw)  # type: ignore[arg-type]
    b = blrm_posterior(AMOUNTS, reference_dose=1.0e6, prior=p2, **kw)  # type: ignore[arg-type]
    np.testing.assert_allclose(a.prob_overdose, b.prob_overdose, atol=2e-6)
    np.testing.assert_allclose(a.quantiles, b.quantiles, atol=2e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"n_at_dose": (3, 3, 0), "dlt_at_dose": (0, 0, 0)}, "n_at_dose"),
        ({"dlt_at_dose": (4, 0, 0, 0, 0)}, "dlt_at_dose[0]"),
        ({"partial_dose": (7,), "partial_weight": (0.5,)}, "partial_dose[0]"),
        ({"partial_dose": (1,), "partial_weight": (1.5,)}, "partial_weight[0]"),
    ],
)
def test_bad_data_names_the_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"n_at_dose": (3, 3, 0, 0, 0), "dlt_at_dose": (0, 0, 0, 0, 0)}
    args.update(kwargs)
    with pytest.raises(InvalidTrialDataError) as err:
        blrm_posterior(AMOUNTS, reference_dose=REFERENCE, prior=WEAK, **args)  # type: ignore[arg-type]
    assert err.value.problems[0].field == field


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"mean": [0, 0], "sd": [1, -1]}, "design.prior.sd"),
        ({"mean": [0], "sd": [1, 1]}, "design.prior.mean"),
        ({"mean": [0, 0], "sd": [1, 1], "corr": 1.0}, "design.prior.corr"),
        ({"mean": [0, 0], "sd": [1, 1], "rho": 0.1}, "design.prior.rho"),
        ([0, 0], "design.prior"),
    ],
)
def test_bad_prior_names_the_field(value: object, field: str) -> None:
    with pytest.raises(InvalidDesignError) as err:
        BLRMPrior.from_mapping(value)
    assert err.value.problems[0].field == field


def test_bad_amounts_and_engine_name_the_field() -> None:
    with pytest.raises(InvalidDesignError, match="dose_amounts"):
        blrm_posterior(
            (1.0, 1.0), reference_dose=1.0, prior=WEAK, n_at_dose=(0, 0), dlt_at_dose=(0, 0)
        )
    with pytest.raises(InvalidDesignError, match="engine"):
        blrm_posterior(
            (1.0, 2.0),
            reference_dose=1.0,
            prior=WEAK,
            n_at_dose=(0, 0),
            dlt_at_dose=(0, 0),
            engine="stan",  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------------------------------
# the MCMC engine (one compiled PyMC model, shared by every test of this module)


@pytest.fixture(scope="module")
def compiled() -> dict[str, float | int | bool]:
    """Compile the PyMC model once (unless an earlier test did) and report the cache."""
    if not mcmc_model_cache_info()["compiled"]:
        with pytest.warns(ConvergenceWarning):  # 4 x 50 draws: too few, on purpose
            post = Case("warm-up", WEAK, (3, 0, 0, 0, 0), (0, 0, 0, 0, 0)).posterior(
                engine="mcmc", draws=50, tune=50, seed=1
            )
        assert post.diagnostics["compiled_this_call"] is True
    info = mcmc_model_cache_info()
    assert info["compiled"]
    return info


@pytest.mark.filterwarnings("ignore::escalation.errors.ConvergenceWarning")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mcmc_agrees_with_grid_within_0_02(case: Case, compiled: dict[str, object]) -> None:
    grid = case.posterior()
    mcmc = case.posterior(engine="mcmc", seed=11, draws=2500, tune=500)
    assert mcmc.converged, mcmc.diagnostics["failures"]
    assert mcmc.diagnostics["compiled_this_call"] is False
    for name in ("prob_underdose", "prob_target", "prob_overdose"):
        np.testing.assert_allclose(getattr(mcmc, name), getattr(grid, name), atol=0.02)
    np.testing.assert_allclose(mcmc.prob_tox_mean, grid.prob_tox_mean, atol=0.02)
    np.testing.assert_allclose(mcmc.quantiles[:, 1:4], grid.quantiles[:, 1:4], atol=0.03)


@pytest.mark.filterwarnings("ignore::escalation.errors.ConvergenceWarning")
def test_mcmc_seed_is_honoured_and_the_model_is_not_recompiled(
    compiled: dict[str, object],
) -> None:
    early, late = CASES[0], CASES[1]
    kw = {"engine": "mcmc", "draws": 100, "tune": 100}  # short runs: only the numbers matter
    blrm_mcmc._mcmc_cached.cache_clear()
    first = early.posterior(seed=5, **kw)
    other_data = late.posterior(seed=5, **kw)  # the shared model sees other data in between
    other_seed = early.posterior(seed=6, **kw)
    blrm_mcmc._mcmc_cached.cache_clear()
    again = early.posterior(seed=5, **kw)
    assert again is not first
    np.testing.assert_array_equal(again.quantiles, first.quantiles)
    np.testing.assert_array_equal(again.prob_overdose, first.prob_overdose)
    assert again.diagnostics["rhat"] == first.diagnostics["rhat"]
    assert not np.array_equal(other_seed.quantiles, first.quantiles)
    assert not np.array_equal(other_data.quantiles, first.quantiles)
    info = mcmc_model_cache_info()
    assert info["build_seconds"] == compiled["build_seconds"]  # built once
    for post in (first, other_data, other_seed, again):
        assert post.diagnostics["compiled_this_call"] is False


def test_failed_diagnostics_warn_and_mark_the_result_not_final(
    compiled: dict[str, object],
) -> None:
    blrm_mcmc._mcmc_cached.cache_clear()
    with pytest.warns(ConvergenceWarning, match="not final"):
        post = CASES[0].posterior(engine="mcmc", draws=25, tune=25, seed=3)
    assert not post.converged
    diag = post.diagnostics
    assert diag["failures"] and diag["converged"] is False
    assert diag["ess_bulk"]["log_alpha"] < 400 or diag["ess_bulk"]["log_beta"] < 400
    with pytest.warns(ConvergenceWarning):  # a memoized result warns again
        CASES[0].posterior(engine="mcmc", draws=25, tune=25, seed=3)
