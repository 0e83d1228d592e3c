"""The exact CRM / TITE-CRM posterior: dfcrm's fits, the quadrature against quad, the batch.

Reference values: dfcrm 0.2-2.1 ``crm`` and ``titecrm`` (R 4.2.2), tests/data/reference/crm_fits.json,
matched to 1e-6 relative and ``mtd`` exactly: R's integrate() reaches 1e-8 or better on these
fits (the largest difference is 2.1e-7, random_03 with the empiric model, in its credible
interval ends), so 1e-6 leaves room for R and none for a semantic slip. The quadrature itself is
checked against an independent scipy.integrate.quad computation to 1e-10.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize
from scipy.special import expit
from scipy.stats import norm

from escalation.errors import InvalidDesignError, InvalidTrialDataError
from escalation.models.crm import (
    DEFAULT_PRIOR_SD,
    CRMPosterior,
    adaptive_weights,
    crm_overdose_thresholds,
    crm_posterior,
    crm_posterior_batch,
    linear_weights,
    select_mtd_index,
    tite_crm_posterior_batch,
)
from tests.reference import load

FITS = load("crm_fits.json")
CRM_CASES = [
    pytest.param(case, model, id=f"{case['id']}-{model}")
    for case in FITS["crm_cases"]
    for model in ("empiric", "logistic")
]
TITE_CASES = FITS["titecrm_cases"]
REL = 1e-6  # measured: every fit within 2.1e-7 of dfcrm (most within 1e-10)
SK6 = np.array(FITS["skeletons"]["sk_t30_6"]["prior"])


def _assert_fit(post: Any, fit: dict[str, Any]) -> None:
    assert post.posterior_mean == pytest.approx(fit["estimate"], rel=REL)
    assert post.posterior_var == pytest.approx(fit["post.var"], rel=REL)
    np.testing.assert_allclose(post.ptox, fit["ptox"], rtol=REL, atol=0)
    np.testing.assert_allclose(post.ptox_lower, fit["ptoxL"], rtol=REL, atol=0)
    np.testing.assert_allclose(post.ptox_upper, fit["ptoxU"], rtol=REL, atol=0)


# ---- dfcrm reference -----------------------------------------------------------------------


@pytest.mark.parametrize(("case", "model"), CRM_CASES)
def test_reproduces_dfcrm_crm(case: dict[str, Any], model: str) -> None:
    fit = case[model]
    post = crm_posterior(
        case["prior"],
        np.array(case["level"]) - 1,
        case["tox"],
        target=case["target"],
        model=model,
        conf_level=fit["conf.level"],
    )
    _assert_fit(post, fit)
    assert post.mtd_index == fit["mtd"] - 1


def _tite_weights(case: dict[str, Any]) -> npt.NDArray[np.float64]:
    if case["weights_in"] is not None:
        return np.asarray(case["weights_in"], dtype=np.float64)
    if case["scheme"] == "linear":
        return linear_weights(case["followup_days"], case["obswin"])
    return adaptive_weights(case["followup_days"], case["tox"], case["obswin"])


@pytest.mark.parametrize("case", TITE_CASES, ids=lambda c: c["id"])
def test_reproduces_dfcrm_titecrm(case: dict[str, Any]) -> None:
    fit = case["fit"]
    weights = _tite_weights(case)
    used = np.where(np.asarray(case["tox"]) == 1, 1.0, weights)
    np.testing.assert_allclose(used, fit["weights_used"], rtol=0, atol=1e-14)
    post = crm_posterior(
        case["prior"],
        np.array(case["level"]) - 1,
        case["tox"],
        weights,
        target=case["target"],
        model=case["model"],
    )
    _assert_fit(post, fit)
    assert post.mtd_index == fit["mtd"] - 1


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_batch_reproduces_dfcrm_crm(model: str) -> None:
    for skeleton_name in {c["skeleton"] for c in FITS["crm_cases"]}:
        cases = [c for c in FITS["crm_cases"] if c["skeleton"] == skeleton_name]
        skeleton = cases[0]["prior"]
        n_doses = len(skeleton)
        level = [np.array(c["level"]) - 1 for c in cases]
        n = np.array([np.bincount(lv, minlength=n_doses) for lv in level])
        y = np.array(
            [
                np.bincount(lv[np.array(c["tox"]) == 1], minlength=n_doses)
                for lv, c in zip(level, cases, strict=True)
            ]
        )
        batch = crm_posterior_batch(skeleton, n, y, model=model)
        mtd = batch.mtd_index(cases[0]["target"])
        for t, case in enumerate(cases):
            fit = case[model]
            assert batch.posterior_mean[t] == pytest.approx(fit["estimate"], rel=REL)
            assert batch.posterior_var[t] == pytest.approx(fit["post.var"], rel=REL)
            np.testing.assert_allclose(batch.ptox[t], fit["ptox"], rtol=REL, atol=0)
            assert mtd[t] == fit["mtd"] - 1


def test_the_dfcrm_tolerance_catches_a_rounded_prior_sd() -> None:
    """Negative control: the prior sd rounded to 1.1576 (for sqrt(1.34) = 1.15758...) moves every
    fit's posterior variance by more than REL, although most fits stay within the old 1e-4."""
    within_old = 0
    for case in FITS["crm_cases"]:
        fit = case["empiric"]
        post = crm_posterior(
            case["prior"],
            np.array(case["level"]) - 1,
            case["tox"],
            target=case["target"],
            conf_level=fit["conf.level"],
            prior_sd=1.1576,
        )
        difference = abs(post.posterior_var / fit["post.var"] - 1)
        assert difference > REL, case["id"]
        within_old += difference < 1e-4
    assert within_old >= len(FITS["crm_cases"]) // 2


# ---- an independent computation by scipy.integrate.quad --------------------------------------


class QuadPosterior:
    """The same posterior by adaptive quadrature, written independently of the module."""

    def __init__(
        self,
        skeleton: npt.ArrayLike,
        dose: npt.ArrayLike,
        dlt: npt.ArrayLike,
        weight: npt.ArrayLike | None,
        model: str,
        intercept: float = 3.0,
        prior_sd: float = DEFAULT_PRIOR_SD,
    ) -> None:
        self.skeleton = np.asarray(skeleton, dtype=np.float64)
        self.dose = np.asarray(dose, dtype=np.int64)
        self.dlt = np.asarray(dlt, dtype=bool)
        w = np.ones(self.dose.size) if weight is None else np.asarray(weight, dtype=np.float64)
        self.weight = np.where(self.dlt, 1.0, w)
        self.model, self.intercept, self.prior_sd = model, intercept, prior_sd
        self.far = 10.0 + 40.0 * prior_sd
        grid = np.linspace(-self.far, self.far, 40_001)
        values = self.log_post(grid)
        i = int(np.argmax(values))
        mode = optimize.minimize_scalar(
            lambda a: -self.log_post(np.array([a]))[0],
            bounds=(grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]),
            method="bounded",
            options={"xatol": 1e-12},
        ).x
        self.top = float(self.log_post(np.array([mode]))[0])
        alive = grid[values > self.top - 50.0]
        self.points = np.linspace(alive.min(), alive.max(), 41)
        self.total = self.integral(lambda a: 1.0, -self.far, self.far)
        self.mean = self.integral(lambda a: a, -10.0, 10.0) / self.total
        self.var = self.integral(lambda a: a * a, -10.0, 10.0) / self.total - self.mean**2

    def tox(self, a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = self.skeleton[None, :]
        if self.model == "empiric":
            return np.asarray(s ** np.exp(a)[:, None])
        x = np.log(s / (1 - s)) - self.intercept
        return np.asarray(expit(self.intercept + np.exp(a)[:, None] * x))

    def log_post(self, a: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        s = self.skeleton[self.dose][None, :]
        with np.errstate(divide="ignore"):
            if self.model == "empiric":
                log_p = np.exp(a)[:, None] * np.log(s)
                log_q = np.log(-np.expm1(log_p))
            else:
                eta = self.intercept + np.exp(a)[:, None] * (np.log(s / (1 - s)) - self.intercept)
                log_p, log_q = -np.logaddexp(0, -eta), -np.logaddexp(0, eta)
            partial = np.log1p(-self.weight[None, :] * np.exp(log_p))
        terms = np.where(self.dlt, log_p, np.where(self.weight >= 1.0, log_q, partial))
        return np.asarray(terms.sum(axis=1) - 0.5 * (a / self.prior_sd) ** 2)

    def integral(self, g: Any, lo: float, hi: float) -> float:
        def integrand(a: float) -> float:
            value = self.log_post(np.array([a]))[0] - self.top
            return float(g(a) * math.exp(value))

        cuts = np.unique(np.concatenate([[lo, hi, -10.0, 10.0], self.points]))
        cuts = cuts[(cuts >= lo) & (cuts <= hi)]
        total = 0.0
        for a, b in pairwise(cuts):
            total += integrate.quad(
                integrand, a, b, epsabs=0.0, epsrel=1e-13, limit=200, full_output=1
            )[0]
        return total

    def cdf(self, x: float) -> float:
        return (
            self.integral(lambda a: 1.0, -self.far, min(max(x, -self.far), self.far)) / self.total
        )

    def prob_tox_mean(self, d: int) -> float:
        return self.integral(lambda a: self.tox(np.array([a]))[0, d], -self.far, self.far) / (
            self.total
        )


def _check_against_quad(
    post: CRMPosterior, ref: QuadPosterior, *, tol: float = 1e-10, check_cdf: bool = True
) -> None:
    sd = math.sqrt(ref.var)
    assert abs(post.posterior_mean - ref.mean) <= tol * max(abs(ref.mean), sd)
    assert post.posterior_var == pytest.approx(ref.var, rel=tol)
    if not check_cdf:
        return
    for d in range(ref.skeleton.size):
        assert post.prob_tox_mean[d] == pytest.approx(ref.prob_tox_mean(d), rel=tol, abs=1e-14)
    alpha = (1 - post.conf_level) / 2
    # the credible interval comes from the quantiles of a: p_d decreases in a
    a_hi, a_lo = _quantiles_from_interval(post, ref)
    assert ref.cdf(a_lo) == pytest.approx(alpha, abs=tol)
    assert ref.cdf(a_hi) == pytest.approx(1 - alpha, abs=tol)
    for d, s in enumerate(ref.skeleton):
        if ref.model == "empiric":
            threshold = math.log(math.log(post.target) / math.log(s))
        else:
            x = math.log(s / (1 - s)) - ref.intercept
            threshold = math.log((math.log(post.target / (1 - post.target)) - ref.intercept) / x)
        assert post.prob_overdose[d] == pytest.approx(ref.cdf(threshold), abs=tol)


def _quantiles_from_interval(post: CRMPosterior, ref: QuadPosterior) -> tuple[float, float]:
    """Invert p_d(a) at the top dose's interval ends back to a (exact: p_d is explicit)."""
    d = ref.skeleton.size - 1
    s = ref.skeleton[d]
    lower, upper = post.prob_tox_interval[d]
    if ref.model == "empiric":
        return math.log(math.log(lower) / math.log(s)), math.log(math.log(upper) / math.log(s))
    x = math.log(s / (1 - s)) - ref.intercept

    def invert(p: float) -> float:
        return math.log((math.log(p / (1 - p)) - ref.intercept) / x)

    return invert(lower), invert(upper)


def _case(
    skeleton: list[float],
    dose: list[int],
    dlt: list[int],
    weight: list[float] | None = None,
    prior_sd: float = DEFAULT_PRIOR_SD,
) -> dict[str, Any]:
    return {"skeleton": skeleton, "dose": dose, "dlt": dlt, "weight": weight, "prior_sd": prior_sd}


SK_EXTREME = [1e-12, 1e-6, 0.3, 0.9]
EXTREME_CASES = {
    "no-patients": _case(list(SK6), [], []),
    "24-dlts-at-dose-1": _case(list(SK6), [0] * 24, [1] * 24),
    "60-without-dlt-at-top": _case(list(SK6), [5] * 60, [0] * 60),
    "60-at-one-dose-half-dlt": _case(list(SK6), [2] * 60, [0, 1] * 30),
    "100-mixed": _case(list(SK6), [0] * 20 + [1] * 30 + [2] * 50, ([0] * 4 + [1]) * 20),
    "conflict-dlts-low-none-high": _case(list(SK6), [0] * 30 + [5] * 30, [1] * 30 + [0] * 30),
    "extreme-skeleton": _case(SK_EXTREME, [0] * 10 + [3] * 10, [1] * 3 + [0] * 7 + [0] * 10),
    "tite-weights-near-0-and-1": _case(
        list(SK6), [1] * 6 + [2] * 6, [0, 1] * 6, [0.999, 1, 1e-3, 1, 0.5, 1] * 2
    ),
    "wide-prior": _case(list(SK6), [0] * 3 + [1] * 3, [0, 0, 0, 1, 1, 0], prior_sd=3.0),
    "narrow-prior": _case(list(SK6), [3] * 6, [1, 1, 1, 1, 1, 0], prior_sd=0.3),
    "very-wide-prior": _case(list(SK6), [0] * 3 + [1] * 3, [0, 0, 1, 1, 1, 1], prior_sd=10.0),
}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize("name", EXTREME_CASES)
def test_quadrature_matches_quad_on_extreme_data(name: str, model: str) -> None:
    case = EXTREME_CASES[name]
    post = crm_posterior(
        case["skeleton"],
        case["dose"],
        case["dlt"],
        case["weight"],
        target=0.3,
        model=model,
        prior_sd=case["prior_sd"],
    )
    ref = QuadPosterior(
        case["skeleton"], case["dose"], case["dlt"], case["weight"], model, 3.0, case["prior_sd"]
    )
    _check_against_quad(post, ref)


def test_no_patients_gives_the_prior_exactly() -> None:
    s = DEFAULT_PRIOR_SD
    post = crm_posterior(SK6, [], [], target=0.3)
    c = 10.0 / s  # dfcrm's truncated second moment of N(0, s^2)
    assert post.posterior_mean == pytest.approx(0.0, abs=1e-15)
    assert post.posterior_var == pytest.approx(s * s * (1 - 2 * norm.sf(c) - 2 * c * norm.pdf(c)))
    np.testing.assert_allclose(post.ptox, SK6, rtol=1e-14)
    thresholds = np.log(np.log(0.3) / np.log(SK6))
    np.testing.assert_allclose(post.prob_overdose, norm.cdf(thresholds / s), rtol=0, atol=1e-13)
    z = norm.ppf(0.95) * s
    np.testing.assert_allclose(post.prob_tox_interval[:, 0], SK6 ** math.exp(z), rtol=1e-12)
    np.testing.assert_allclose(post.prob_tox_interval[:, 1], SK6 ** math.exp(-z), rtol=1e-12)


# ---- random data ---------------------------------------------------------------------------


@st.composite
def crm_data(draw: st.DrawFn, *, max_patients: int = 60, tite: bool = True) -> dict[str, Any]:
    n_doses = draw(st.integers(1, 7), label="n_doses")
    values = draw(
        st.lists(st.floats(0.005, 0.9), min_size=n_doses, max_size=n_doses, unique=True).filter(
            lambda v: min(np.diff(sorted(v)), default=1.0) > 1e-3
        ),
        label="skeleton",
    )
    n = draw(st.integers(0, max_patients), label="n_patients")
    dose = draw(st.lists(st.integers(0, n_doses - 1), min_size=n, max_size=n), label="dose")
    share = draw(st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]), label="dlt_share")
    dlt = [draw(st.floats(0, 1)) < share for _ in range(n)]
    weight = None
    if tite and draw(st.booleans(), label="tite"):
        weight = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n), label="weight")
    return {
        "skeleton": sorted(values),
        "dose": dose,
        "dlt": dlt,
        "weight": weight,
        "model": draw(st.sampled_from(["empiric", "logistic"]), label="model"),
    }


QUAD_SETTINGS = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.mark.slow
@QUAD_SETTINGS
@given(data=crm_data())
def test_quadrature_matches_quad_on_random_data(data: dict[str, Any]) -> None:
    post = crm_posterior(
        data["skeleton"],
        data["dose"],
        data["dlt"],
        data["weight"],
        target=0.25,
        model=data["model"],
    )
    ref = QuadPosterior(data["skeleton"], data["dose"], data["dlt"], data["weight"], data["model"])
    _check_against_quad(post, ref)


@settings(max_examples=100, deadline=None)
@given(data=crm_data(tite=True), extra_dose=st.integers(0, 6))
def test_an_extra_dlt_never_lowers_overdose_probabilities(
    data: dict[str, Any], extra_dose: int
) -> None:
    n_doses = len(data["skeleton"])
    extra_dose %= n_doses
    weight = data["weight"]

    def fit(dose: list[int], dlt: list[bool], w: list[float] | None) -> CRMPosterior:
        return crm_posterior(data["skeleton"], dose, dlt, w, target=0.25, model=data["model"])

    before = fit(data["dose"], data["dlt"], weight)
    after = fit(
        [*data["dose"], extra_dose],
        [*data["dlt"], True],
        None if weight is None else [*weight, 0.5],
    )
    assert np.all(after.prob_overdose >= before.prob_overdose - 1e-12)
    assert np.all(after.prob_tox_mean >= before.prob_tox_mean - 1e-12)
    if not all(data["dlt"]):  # and a non-DLT turned into a DLT
        i = data["dlt"].index(False)
        turned = fit(data["dose"], [*data["dlt"][:i], True, *data["dlt"][i + 1 :]], weight)
        assert np.all(turned.prob_overdose >= before.prob_overdose - 1e-12)


@settings(max_examples=100, deadline=None)
@given(data=crm_data(), seed=st.integers(0, 2**32 - 1))
def test_reordering_patients_changes_nothing(data: dict[str, Any], seed: int) -> None:
    order = np.random.default_rng(seed).permutation(len(data["dose"]))
    weight = data["weight"]
    a = crm_posterior(
        data["skeleton"], data["dose"], data["dlt"], weight, target=0.25, model=data["model"]
    )
    b = crm_posterior(
        data["skeleton"],
        np.asarray(data["dose"], dtype=np.int64)[order],
        np.asarray(data["dlt"], dtype=bool)[order],
        None if weight is None else np.asarray(weight)[order],
        target=0.25,
        model=data["model"],
    )
    assert b.posterior_mean == pytest.approx(a.posterior_mean, rel=1e-12, abs=1e-14)
    assert b.posterior_var == pytest.approx(a.posterior_var, rel=1e-12)
    np.testing.assert_allclose(b.prob_overdose, a.prob_overdose, rtol=1e-11, atol=1e-14)
    assert b.mtd_index == a.mtd_index


# ---- the batch -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_batch_equals_scalar(model: str) -> None:
    rng = np.random.default_rng(20261125)
    n_trials, n_doses = 300, SK6.size
    n = rng.integers(0, 12, size=(n_trials, n_doses)) * (rng.random((n_trials, n_doses)) < 0.7)
    y = rng.binomial(n, rng.uniform(0.0, 1.0, size=(n_trials, 1)))
    n[:5], y[:5] = n[5:10], y[5:10]  # duplicated trials
    batch = crm_posterior_batch(SK6, n, y, model=model)
    assert batch.posterior_mean.shape == (n_trials,)
    assert batch.ptox.shape == (n_trials, n_doses)
    for t in range(n_trials):
        dose = np.repeat(np.arange(n_doses), n[t])
        dlt = np.concatenate([np.arange(k) < j for k, j in zip(n[t], y[t], strict=True)])
        one = crm_posterior(SK6, dose, dlt, target=0.3, model=model)
        sd = math.sqrt(one.posterior_var)
        assert abs(batch.posterior_mean[t] - one.posterior_mean) <= 1e-13 * max(1.0, sd)
        assert batch.posterior_var[t] == pytest.approx(one.posterior_var, rel=1e-12)
        np.testing.assert_allclose(batch.ptox[t], one.ptox, rtol=1e-12)
    np.testing.assert_array_equal(batch.posterior_mean[:5], batch.posterior_mean[5:10])


def test_batch_with_large_counts_matches_scalar() -> None:
    """Counts too large to pack into one integer key take the other deduplication path."""
    skeleton = [0.02, 0.06, 0.12, 0.2, 0.3, 0.4, 0.5]
    n = np.array([[900, 0, 0, 0, 0, 0, 3], [1, 1, 1, 1, 1, 1, 1000], [900, 0, 0, 0, 0, 0, 3]])
    y = np.array([[9, 0, 0, 0, 0, 0, 3], [0, 0, 0, 0, 0, 1, 500], [9, 0, 0, 0, 0, 0, 3]])
    batch = crm_posterior_batch(skeleton, n, y, model="logistic")
    for t in range(3):
        dose = np.repeat(np.arange(7), n[t])
        dlt = np.concatenate([np.arange(k) < j for k, j in zip(n[t], y[t], strict=True)])
        one = crm_posterior(skeleton, dose, dlt, target=0.2, model="logistic")
        assert batch.posterior_mean[t] == pytest.approx(one.posterior_mean, rel=1e-12)
        assert batch.posterior_var[t] == pytest.approx(one.posterior_var, rel=1e-12)


def test_empty_batch() -> None:
    batch = crm_posterior_batch(SK6, np.zeros((0, 6), dtype=int), np.zeros((0, 6), dtype=int))
    assert batch.posterior_mean.shape == (0,)
    assert batch.ptox.shape == (0, 6)
    assert batch.prob_overdose is None and batch.target is None
    tails = crm_posterior_batch(
        SK6, np.zeros((0, 6), dtype=int), np.zeros((0, 6), dtype=int), target=0.3
    )
    assert tails.prob_overdose is not None and tails.prob_overdose.shape == (0, 6)


# ---- the batch's overdose probabilities ------------------------------------------------------


def _patients(n: npt.NDArray[np.int64], y: npt.NDArray[np.int64]) -> tuple[Any, Any]:
    """One trial's counts as patient arrays (dose index, DLT)."""
    dose = np.repeat(np.arange(n.size), n)
    dlt = np.concatenate([np.arange(k) < j for k, j in zip(n, y, strict=True)])
    return dose, dlt.astype(bool)


@pytest.mark.parametrize("target", [0.2, 0.3])
@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_batch_overdose_equals_scalar(model: str, target: float) -> None:
    """Random counts (from no patient to ~70, duplicated trials, every DLT share) against the
    single-decision posterior, which integrates the same probabilities its own way."""
    rng = np.random.default_rng(7 + int(100 * target))
    n_trials, n_doses = 400, SK6.size
    n = rng.integers(0, 13, size=(n_trials, n_doses)) * (rng.random((n_trials, n_doses)) < 0.6)
    y = rng.binomial(n, rng.uniform(0.0, 1.0, size=(n_trials, 1)))
    n[:5], y[:5] = n[5:10], y[5:10]
    n[10], y[10] = 0, 0
    batch = crm_posterior_batch(SK6, n, y, model=model, target=target)
    assert batch.target == target
    assert batch.prob_overdose is not None
    assert batch.prob_overdose.shape == (n_trials, n_doses)
    for t in range(n_trials):
        one = crm_posterior(SK6, *_patients(n[t], y[t]), target=target, model=model)
        np.testing.assert_allclose(batch.prob_overdose[t], one.prob_overdose, rtol=0, atol=1e-12)
    # Pr(p_d > target) increases with the dose (p_d does, for every a)
    assert np.all(np.diff(batch.prob_overdose, axis=1) >= -1e-15)


def _threshold(skeleton: float, target: float, model: str, intercept: float = 3.0) -> float:
    """The a where p_d(a) = target, written out from the model (p_d decreases in a)."""
    if model == "empiric":
        return math.log(math.log(target) / math.log(skeleton))
    numerator = math.log(target / (1 - target)) - intercept
    if numerator >= 0:
        return -math.inf
    return math.log(numerator / (math.log(skeleton / (1 - skeleton)) - intercept))


# name: skeleton, model, target, prior_sd, counts n and y (one row per trial)
BATCH_QUAD_CASES: dict[
    str, tuple[list[float], str, float, float, list[list[int]], list[list[int]]]
] = {
    "sk6-empiric": (
        list(SK6),
        "empiric",
        0.3,
        DEFAULT_PRIOR_SD,
        [[3, 6, 9, 3, 0, 0]],
        [[0, 1, 3, 2, 0, 0]],
    ),
    "sk6-logistic-conflict": (
        list(SK6),
        "logistic",
        0.25,
        DEFAULT_PRIOR_SD,
        [[12, 0, 0, 0, 0, 12]],
        [[6, 0, 0, 0, 0, 0]],
    ),
    "wide-prior-empiric": (
        [0.05, 0.1, 0.2, 0.3],
        "empiric",
        0.25,
        3.0,
        [[3, 3, 6, 0], [0, 0, 0, 0]],
        [[0, 1, 3, 0], [0, 0, 0, 0]],
    ),
    # thresholds below -10 and above +10: the tail rules starting at |x_d|
    "thresholds-below-minus-10": (
        [1e-10, 0.3, 0.95257],
        "logistic",
        0.95257,
        10.0,
        [[3, 0, 0], [3, 3, 0]],
        [[0, 0, 0], [1, 2, 0]],
    ),
    "thresholds-above-10": (
        [0.5, 0.9, 0.95257],
        "logistic",
        1e-12,
        10.0,
        [[0, 0, 0], [3, 0, 0]],
        [[0, 0, 0], [0, 0, 0]],
    ),
    "target-above-the-logistic-ceiling": (
        [0.1, 0.2, 0.3],
        "logistic",
        0.96,
        DEFAULT_PRIOR_SD,
        [[3, 3, 0]],
        [[0, 1, 0]],
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", BATCH_QUAD_CASES)
def test_batch_overdose_matches_quad(name: str) -> None:
    skeleton, model, target, prior_sd, n_rows, y_rows = BATCH_QUAD_CASES[name]
    n, y = np.array(n_rows), np.array(y_rows)
    batch = crm_posterior_batch(skeleton, n, y, model=model, prior_sd=prior_sd, target=target)
    assert batch.prob_overdose is not None
    for t in range(n.shape[0]):
        dose, dlt = _patients(n[t], y[t])
        ref = QuadPosterior(skeleton, dose, dlt, None, model, 3.0, prior_sd)
        for d, s in enumerate(skeleton):
            x = _threshold(s, target, model)
            expected = 0.0 if x == -math.inf else ref.cdf(x)
            assert batch.prob_overdose[t, d] == pytest.approx(expected, abs=1e-12), (t, d)


def test_batch_overdose_without_patients_is_the_prior() -> None:
    for prior_sd in (DEFAULT_PRIOR_SD, 0.3, 4.0):
        batch = crm_posterior_batch(
            SK6,
            np.zeros((1, 6), dtype=int),
            np.zeros((1, 6), dtype=int),
            prior_sd=prior_sd,
            target=0.3,
        )
        assert batch.prob_overdose is not None
        thresholds = np.log(np.log(0.3) / np.log(SK6))
        expected = norm.cdf(thresholds / prior_sd)
        np.testing.assert_allclose(batch.prob_overdose[0], expected, rtol=0, atol=1e-13)


def test_batch_rejects_a_target_outside_0_1() -> None:
    with pytest.raises(InvalidDesignError, match="target"):
        crm_posterior_batch([0.1, 0.2], [[1, 0]], [[0, 0]], target=1.0)


# ---- TITE-CRM consistency and weights -------------------------------------------------------


def test_full_weights_are_the_crm() -> None:
    dose, dlt = [0, 0, 0, 1, 1, 1, 2], [0, 0, 0, 0, 1, 0, 1]
    crm = crm_posterior(SK6, dose, dlt, target=0.3)
    tite = crm_posterior(SK6, dose, dlt, np.ones(7), target=0.3)
    assert tite.posterior_mean == crm.posterior_mean
    np.testing.assert_array_equal(tite.prob_overdose, crm.prob_overdose)


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_without_intervals_every_other_field_is_the_same(model: str) -> None:
    """The quantiles are computed only when asked: everything else to the last digit."""
    dose, dlt = [0, 0, 0, 1, 1, 1, 2, 2], [0, 0, 0, 0, 1, 0, 0, 0]
    weight = [1, 1, 1, 1, 1, 0.7, 0.4, 0.1]
    full = crm_posterior(SK6, dose, dlt, weight, target=0.3, model=model, conf_level=0.95)
    lean = crm_posterior(
        SK6, dose, dlt, weight, target=0.3, model=model, conf_level=0.95, intervals=False
    )
    assert np.isnan(lean.prob_tox_interval).all() and lean.prob_tox_interval.shape == (6, 2)
    assert not np.isnan(full.prob_tox_interval).any()
    for name in ("posterior_mean", "posterior_var", "ptox", "ptox_lower", "ptox_upper"):
        np.testing.assert_array_equal(getattr(lean, name), getattr(full, name))
    np.testing.assert_array_equal(lean.prob_tox_mean, full.prob_tox_mean)
    np.testing.assert_array_equal(lean.prob_overdose, full.prob_overdose)
    assert lean.mtd_index == full.mtd_index


def _tite_rows(seed: int, n_rows: int, max_partial: int) -> tuple[np.ndarray, ...]:
    """Trials of 1 to 30 patients in random order, some followed partially (whole days of 30)."""
    rng = np.random.default_rng(seed)
    dose = np.full((n_rows, 30), -1)
    dlt = np.zeros((n_rows, 30), dtype=bool)
    weight = np.zeros((n_rows, 30))
    for t in range(n_rows):
        n = int(rng.integers(1, 31))
        dose[t, :n] = rng.integers(0, 6, n)
        dlt[t, :n] = rng.random(n) < 0.25
        weight[t, :n] = 1.0
        partial = rng.choice(n, min(int(rng.integers(0, max_partial + 1)), n), replace=False)
        weight[t, partial] = rng.integers(0, 30, partial.size) / 30
    return dose, dlt, weight


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize("max_partial", [4, 14], ids=["few-pending", "8-or-more-pending"])
def test_tite_batch_is_crm_posterior_trial_by_trial(model: str, max_partial: int) -> None:
    """Each row against the one-trial posterior on its patients in TITECRM's canonical order (by
    dose, DLT, weight): the same quadrature, terms added alike (numpy's pairwise order from 8 on);
    only the matrix products over many rows round differently."""
    dose, dlt, weight = _tite_rows(17 + max_partial, 120, max_partial)
    batch = tite_crm_posterior_batch(SK6, dose, dlt, weight, target=0.3, model=model)
    assert batch.prob_overdose is not None
    for t in range(dose.shape[0]):
        has = dose[t] >= 0
        d, y = dose[t, has], dlt[t, has]
        w = np.where(y, 1.0, weight[t, has])
        order = np.lexsort((w, y, d))
        one = crm_posterior(SK6, d[order], y[order], w[order], target=0.3, model=model)
        assert batch.posterior_mean[t] == pytest.approx(one.posterior_mean, rel=1e-12, abs=1e-14)
        assert batch.posterior_var[t] == pytest.approx(one.posterior_var, rel=1e-12)
        np.testing.assert_allclose(batch.ptox[t], one.ptox, rtol=0, atol=1e-14)
        np.testing.assert_allclose(batch.prob_overdose[t], one.prob_overdose, rtol=0, atol=1e-13)
    # complete follow-up: the counts batch
    full = tite_crm_posterior_batch(SK6, dose, dlt, np.ones(dose.shape), model=model)
    has = dose >= 0
    n = np.array([np.bincount(dose[t, has[t]], minlength=6) for t in range(dose.shape[0])])
    y = np.array([np.bincount(dose[t, has[t] & dlt[t]], minlength=6) for t in range(dose.shape[0])])
    counts = crm_posterior_batch(SK6, n, y, model=model)
    np.testing.assert_allclose(full.ptox, counts.ptox, rtol=0, atol=1e-15)


def test_tite_batch_names_bad_input() -> None:
    with pytest.raises(InvalidTrialDataError, match="weight"):
        tite_crm_posterior_batch(SK6, [[0, 1]], [[0, 0]], [[1.0, 1.5]])
    with pytest.raises(InvalidTrialDataError, match="dose_index"):
        tite_crm_posterior_batch(SK6, [[0, 6]], [[0, 0]], [[1.0, 1.0]])
    with pytest.raises(InvalidTrialDataError, match="dlt"):
        tite_crm_posterior_batch(SK6, [[0, 1]], [[0, 0, 0]], [[1.0, 1.0]])


@pytest.mark.parametrize("model", ["empiric", "logistic"])
def test_overdose_thresholds_are_where_the_curve_meets_the_target(model: str) -> None:
    x = crm_overdose_thresholds(SK6, 0.3, model=model)
    assert np.all(np.diff(x) > 0)
    if model == "empiric":
        np.testing.assert_allclose(np.power(SK6, np.exp(x)), 0.3, rtol=1e-12)
    else:
        logit = np.log(np.asarray(SK6) / (1 - np.asarray(SK6))) - 3.0
        np.testing.assert_allclose(1 / (1 + np.exp(-(3.0 + np.exp(x) * logit))), 0.3, rtol=1e-12)


def test_zero_weight_patient_is_left_out_and_dlt_weight_is_one() -> None:
    base = crm_posterior(SK6, [0, 0, 0, 1], [0, 0, 1, 0], target=0.3)
    zero = crm_posterior(SK6, [0, 0, 0, 1, 2], [0, 0, 1, 0, 0], [1, 1, 0.2, 1, 0], target=0.3)
    assert zero.posterior_mean == pytest.approx(base.posterior_mean, rel=1e-12)
    assert zero.posterior_var == pytest.approx(base.posterior_var, rel=1e-12)


def test_linear_weights() -> None:
    np.testing.assert_array_equal(linear_weights([0, 15, 30, 45], 30), [0.0, 0.5, 1.0, 1.0])


def test_adaptive_weights_without_dlt_are_linear() -> None:
    np.testing.assert_allclose(adaptive_weights([3, 15, 30], [0, 0, 0], 30), [0.1, 0.5, 1.0])


def test_adaptive_weights_with_a_dlt_at_the_window_end() -> None:
    w = adaptive_weights([30, 12, 30, 40], [1, 0, 0, 0], 30)
    np.testing.assert_allclose(w, [1.0, 0.2, 1.0, 1.0])


@settings(max_examples=100, deadline=None)
@given(
    followup=st.lists(st.floats(0, 30), min_size=1, max_size=12),
    dlt=st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_adaptive_weights_increase_with_followup(followup: list[float], dlt: list[bool]) -> None:
    toxic = dlt[: len(followup)]
    w = adaptive_weights(followup, toxic, 30.0)
    assert np.all((w >= 0) & (w <= 1))
    free = ~np.asarray(toxic)
    order = np.argsort(np.asarray(followup)[free], kind="stable")
    assert np.all(np.diff(w[free][order]) >= -1e-15)


def test_adaptive_weights_reject_a_dlt_outside_the_window() -> None:
    with pytest.raises(InvalidTrialDataError, match=r"followup_days\[1\]"):
        adaptive_weights([10, 31], [0, 1], 30)


# ---- the MTD rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ptox", "expected"),
    [
        ([0.05, 0.1, 0.2], 2),  # all below: the highest dose
        ([0.3, 0.3, 0.3], 2),  # all equal to the target counts as all below
        ([0.35, 0.4, 0.5], 0),  # all above: the lowest dose
        ([0.1, 0.25, 0.35], 1),
        ([0.2, 0.4, 0.5], 0),  # exact tie |0.2 - 0.3| = |0.4 - 0.3|: the first
    ],
    ids=["all-below", "all-at-target", "all-above", "closest", "tie-first"],
)
def test_select_mtd_index_is_dfcrm_rule(ptox: list[float], expected: int) -> None:
    assert int(select_mtd_index(ptox, 0.3)) == expected


# ---- numerical safety and inputs ------------------------------------------------------------


@pytest.mark.parametrize("model", ["empiric", "logistic"])
@pytest.mark.parametrize("prior_sd", [0.05, DEFAULT_PRIOR_SD, 10.0])
def test_extreme_skeletons_and_priors_stay_finite(model: str, prior_sd: float) -> None:
    skeleton = [1e-300, 1e-10, 0.5, 0.9]
    dose = [0] * 30 + [3] * 30
    post = crm_posterior(
        skeleton, dose, [1] * 40 + [0] * 20, target=0.3, model=model, prior_sd=prior_sd
    )
    for value in (post.posterior_mean, post.posterior_var, *post.ptox, *post.prob_overdose):
        assert math.isfinite(value)
    assert np.all((post.prob_tox_interval >= 0) & (post.prob_tox_interval <= 1))


def test_result_is_frozen_and_read_only() -> None:
    post = crm_posterior(SK6, [0, 0, 0], [0, 0, 0], target=0.3)
    with pytest.raises(FrozenInstanceError):
        post.mtd_index = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        post.ptox[0] = 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"skeleton": [0.1, 0.3, 0.2]}, InvalidDesignError, r"skeleton\[2\]"),
        ({"skeleton": [0.0, 0.3]}, InvalidDesignError, r"skeleton\[0\]"),
        ({"skeleton": [0.1, 0.97], "model": "logistic"}, InvalidDesignError, "intercept"),
        ({"model": "probit"}, InvalidDesignError, "model"),
        ({"target": 1.0}, InvalidDesignError, "target"),
        ({"prior_sd": 0.0}, InvalidDesignError, "prior_sd"),
        ({"conf_level": 1.5}, InvalidDesignError, "conf_level"),
        ({"dose_index": [0, 3]}, InvalidTrialDataError, r"dose_index\[1\]"),
        ({"dose_index": [0.0, 1.0]}, InvalidTrialDataError, "dose_index"),
        ({"dlt": [0, 2]}, InvalidTrialDataError, r"dlt\[1\]"),
        ({"dlt": [0]}, InvalidTrialDataError, "dlt"),
        ({"weight": [1.0, 1.5]}, InvalidTrialDataError, r"weight\[1\]"),
        ({"weight": [1.0]}, InvalidTrialDataError, "weight"),
    ],
    ids=[
        "skeleton-not-increasing",
        "skeleton-zero",
        "logistic-intercept-too-small",
        "unknown-model",
        "target-1",
        "prior-sd-0",
        "conf-level-1.5",
        "dose-out-of-range",
        "dose-not-integer",
        "dlt-not-binary",
        "dlt-length",
        "weight-above-1",
        "weight-length",
    ],
)
def test_invalid_inputs_name_the_field(kwargs: dict[str, Any], error: type, field: str) -> None:
    args: dict[str, Any] = {
        "skeleton": [0.1, 0.2, 0.3],
        "dose_index": [0, 1],
        "dlt": [0, 1],
        "weight": None,
        "target": 0.25,
    } | kwargs
    with pytest.raises(error, match=field):
        crm_posterior(
            args.pop("skeleton"),
            args.pop("dose_index"),
            args.pop("dlt"),
            args.pop("weight"),
            **args,
        )


def test_batch_rejects_more_dlts_than_patients() -> None:
    with pytest.raises(InvalidTrialDataError, match=r"dlt_at_dose\[1, 0\]"):
        crm_posterior_batch([0.1, 0.2], [[1, 0], [2, 0]], [[0, 0], [3, 0]])
