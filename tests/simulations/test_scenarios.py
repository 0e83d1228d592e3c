"""Random scenario generators: monotone curves whose MTD is where the algorithm put it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from simulations import Scenario, liu_yuan_scenarios, mtd_levels, pseudo_uniform_scenarios


def test_mtd_levels_are_the_closest_to_target_with_ties() -> None:
    assert mtd_levels([0.05, 0.1, 0.2, 0.3, 0.5], 0.3) == (4,)
    assert mtd_levels([0.1, 0.25, 0.35, 0.5], 0.3) == (2, 3)
    assert Scenario(name="x", true_dlt_probs=(0.3, 0.4), target=0.4).mtd_levels_for(0.3) == (2,)


@pytest.mark.parametrize("generator", [pseudo_uniform_scenarios, liu_yuan_scenarios])
def test_curves_are_monotone_probabilities_with_one_mtd(generator: object) -> None:
    rng = np.random.default_rng(20260)
    scenarios = generator(rng, count=400, target=0.25, levels=5)  # type: ignore[operator]
    for s in scenarios:
        p = np.array(s.true_dlt_probs)
        assert p.shape == (5,) and np.all((p >= 0) & (p <= 1)) and np.all(np.diff(p) >= 0)
        assert len(s.mtd_levels) == 1 and s.target == 0.25


@pytest.mark.parametrize("generator", [pseudo_uniform_scenarios, liu_yuan_scenarios])
def test_mtd_position_is_uniform(generator: object) -> None:
    """Both algorithms draw the MTD level uniformly (a chi-square test at the 0.1% level)."""
    rng = np.random.default_rng(7)
    scenarios = generator(rng, count=1500, target=0.3, levels=5)  # type: ignore[operator]
    counts = np.bincount([s.mtd_levels[0] for s in scenarios], minlength=6)[1:]
    assert chisquare(counts).pvalue > 0.001, counts


def test_liu_yuan_gap_holds() -> None:
    rng = np.random.default_rng(3)
    for s in liu_yuan_scenarios(rng, count=300, target=0.3, levels=6, gap=0.08):
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
