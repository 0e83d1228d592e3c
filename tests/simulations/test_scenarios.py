"""Random scenario generators: monotone curves whose MTD is where the algorithm put it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import chisquare, kstest, ncx2

from simulations import Scenario, liu_yuan_scenarios, mtd_levels, pseudo_uniform_scenarios
from simulations.scenarios import GENERATORS, probit_gap_scenarios

INF = math.inf
GENERATOR_FUNCTIONS = [pseudo_uniform_scenarios, liu_yuan_scenarios, probit_gap_scenarios]


def closest(s: Scenario) -> tuple[int, ...]:
    """The level(s) closest to the scenario's target, whatever their toxicity."""
    assert s.target is not None
    return mtd_levels(s.true_dlt_probs, s.target, unacceptable=INF)


def test_mtd_levels_are_the_closest_to_target_with_ties() -> None:
    assert mtd_levels([0.05, 0.1, 0.2, 0.3, 0.5], 0.3) == (4,)
    assert mtd_levels([0.1, 0.25, 0.35, 0.5], 0.3) == (2, 3)
    assert Scenario(name="x", true_dlt_probs=(0.3, 0.4), target=0.4).mtd_levels_for(0.3) == (2,)


def test_no_level_is_the_mtd_when_every_level_is_unacceptably_toxic() -> None:
    """Every true DLT probability above phi2 = 1.4 x target (0.42 for 0.3): no dose is correct."""
    assert mtd_levels([0.45, 0.6, 0.7], 0.3) == ()
    assert mtd_levels([0.42, 0.6, 0.7], 0.3) == (1,)  # 0.42 is not above phi2
    assert mtd_levels([0.45, 0.6], 0.3, unacceptable=0.5) == (1,)
    s = Scenario(name="toxic", true_dlt_probs=(0.45, 0.55))
    assert s.mtd_levels_for(0.3) == () and s.mtd_levels_for(0.3, unacceptable_ratio=2.0) == (1,)


@pytest.mark.parametrize("generator", GENERATOR_FUNCTIONS)
def test_curves_are_monotone_probabilities_with_one_mtd(generator: Callable[..., Any]) -> None:
    rng = np.random.default_rng(20260)
    scenarios = generator(rng, count=400, target=0.25, levels=5)
    for s in scenarios:
        p = np.array(s.true_dlt_probs)
        assert p.shape == (5,) and np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0)
        assert len(closest(s)) == 1 and s.target == 0.25


@pytest.mark.parametrize("generator", GENERATOR_FUNCTIONS)
def test_mtd_position_is_uniform(generator: Callable[..., Any]) -> None:
    """Every algorithm draws the MTD level uniformly (a chi-square test at the 0.1% level)."""
    rng = np.random.default_rng(7)
    scenarios = generator(rng, count=1500, target=0.3, levels=5)
    counts = np.bincount([closest(s)[0] for s in scenarios], minlength=6)[1:]
    assert chisquare(counts).pvalue > 0.001, counts


def test_the_published_generators_are_registered_by_name() -> None:
    assert GENERATORS["liu-yuan"] is liu_yuan_scenarios
    assert GENERATORS["probit-gap"] is probit_gap_scenarios


def probits(scenarios: list[Scenario]) -> tuple[np.ndarray, np.ndarray]:
    """(MTD index, probit values) per curve."""
    z = np.array([ndtri(np.array(s.true_dlt_probs)) for s in scenarios])
    j = np.array([closest(s)[0] - 1 for s in scenarios])
    return j, z


def test_liu_yuan_mtd_probit_is_normal_around_the_target() -> None:
    """z_MTD ~ N(probit(target), sigma0^2): mean within 4 s.e., sd within 10%, normal by KS."""
    sigma0 = 0.2
    s = liu_yuan_scenarios(
        np.random.default_rng(41), count=4000, target=0.3, levels=5, sigma0=sigma0
    )
    j, z = probits(s)
    at_mtd = z[np.arange(len(s)), j]
    centre = float(ndtri(0.3))
    assert abs(at_mtd.mean() - centre) < 4 * sigma0 / math.sqrt(len(s))
    assert abs(at_mtd.std(ddof=1) / sigma0 - 1) < 0.1
    assert kstest(at_mtd, "norm", args=(centre, sigma0)).pvalue > 0.001


@pytest.mark.parametrize("mu", [0.53, 0.38])
def test_liu_yuan_steps_away_from_the_mtd_are_squared_normals(mu: float) -> None:
    """Beyond the MTD's neighbours, probit increments are eps^2 with eps ~ N(mu, sigma^2), i.e.
    sigma^2 times a noncentral chi-square(1, (mu / sigma)^2) (Kolmogorov-Smirnov test)."""
    sigma = 0.35
    s = liu_yuan_scenarios(np.random.default_rng(5), count=3000, target=0.3, levels=6, mu=mu)
    j, z = probits(s)
    steps = []
    for t in range(len(s)):
        d = np.diff(z[t])  # d[i] = z[i + 1] - z[i]
        steps += [d[i] for i in range(j[t] + 1, 5)]  # above the upper neighbour
        steps += [d[i] for i in range(0, j[t] - 1)]  # below the lower neighbour
    reference = ncx2(df=1, nc=(mu / sigma) ** 2, scale=sigma**2)
    assert kstest(steps, reference.cdf).pvalue > 0.001
    assert abs(np.mean(steps) - (mu**2 + sigma**2)) < 4 * reference.std() / math.sqrt(len(steps))


def test_liu_yuan_mtd_is_always_the_closest_level_and_mu_sets_the_spacing() -> None:
    """No rejection, yet the MTD is the unique closest level in every curve (the reflection);
    a smaller mu brings the neighbours closer to the target (harder scenarios)."""
    gaps = {}
    for mu in (0.53, 0.38):
        rng = np.random.default_rng(9)
        drawn = []
        for s in liu_yuan_scenarios(rng, count=3000, target=0.3, levels=5, mu=mu):
            p = np.array(s.true_dlt_probs)
            distance = np.abs(p - 0.3)
            j = int(np.argmin(distance))
            assert np.sum(distance <= distance[j]) == 1  # a unique closest level
            assert s.mtd_levels_for(0.3) == (j + 1,)
            drawn.append(np.min(np.delete(distance, j)) - distance[j])
        gaps[mu] = np.array(drawn)
    # E[eps^2] = mu^2 + sigma^2: 0.403 against 0.267 on the probit scale
    assert gaps[0.38].mean() < gaps[0.53].mean() - 5 * math.hypot(
        gaps[0.38].std() / math.sqrt(3000), gaps[0.53].std() / math.sqrt(3000)
    )


def test_liu_yuan_reflection_near_the_target() -> None:
    """With z_MTD above the target's probit, the lower neighbour is at least as far below the
    target as the MTD is above it (p_{j-1} <= 2 target - p_j), and symmetrically."""
    s = liu_yuan_scenarios(np.random.default_rng(2), count=2000, target=0.25, levels=4, sigma0=0.3)
    for x in s:
        p = np.array(x.true_dlt_probs)
        j = closest(x)[0] - 1
        if j > 0:
            assert p[j - 1] <= 2 * 0.25 - p[j] + 1e-12
        if j < 3:
            assert p[j + 1] >= 2 * 0.25 - p[j] - 1e-12


def test_same_seed_same_scenarios() -> None:
    for generator in GENERATOR_FUNCTIONS:
        a = generator(np.random.default_rng(8), count=20, target=0.3, levels=5)
        b = generator(np.random.default_rng(8), count=20, target=0.3, levels=5)
        c = generator(np.random.default_rng(9), count=20, target=0.3, levels=5)
        assert a == b and a != c


def test_probit_gap_holds() -> None:
    rng = np.random.default_rng(3)
    for s in probit_gap_scenarios(rng, count=300, target=0.3, levels=6, gap=0.08):
        p = np.array(s.true_dlt_probs)
        j = s.mtd_levels[0] - 1
        here = abs(p[j] - 0.3)
        for i in (j - 1, j + 1):
            if 0 <= i < 6:
                assert abs(p[i] - 0.3) - here >= 0.08 - 1e-12


def test_pseudo_uniform_upper_bound_follows_the_beta_draw() -> None:
    """With the MTD at the top level, M ~ Beta(0.5, 1): curves reach high probabilities rarely,
    whereas with the MTD at level 1 the bound is Beta(J - 1, 1), mostly near 1."""
    rng = np.random.default_rng(11)
    s = pseudo_uniform_scenarios(rng, count=2000, target=0.3, levels=5)
    top_at_1 = [x.true_dlt_probs[-1] for x in s if x.mtd_levels == (1,)]
    assert np.mean(top_at_1) > 0.6
