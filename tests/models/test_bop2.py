"""The BOP2 futility rule (Zhou, Lee & Yuan 2017): boundaries against an independent R
implementation (BOP2FE's printed example, tests/data/reference/bop2fe_binary_boundary.json),
operating characteristics by dynamic programming against a brute-force enumeration of every
path and against a simulation, and the calibration against a plain grid search."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.stats import binom

from escalation import InvalidDesignError
from escalation.models.bop2 import FutilityRule, calibrate_futility
from tests.reference import load

CASES = load("bop2fe_binary_boundary.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_boundaries_match_bop2fe(case: dict) -> None:
    rule = FutilityRule(
        response_null=case["response_null"],
        looks=tuple(case["looks"]),
        lambda_=case["lambda"],
        gamma=case["gamma"],
        prior=tuple(case["prior"]),
    )
    # BOP2FE prints the largest number of responses that stops; the rule the fewest that continue
    assert [b - 1 for b in rule.continue_at_least] == case["futility_boundary"]
    # the default prior is BOP2's Beta(H0, 1 - H0)
    default = FutilityRule(
        response_null=case["response_null"],
        looks=tuple(case["looks"]),
        lambda_=case["lambda"],
        gamma=case["gamma"],
    )
    assert default.continue_at_least == rule.continue_at_least


def enumerate_oc(looks: tuple[int, ...], bounds: tuple[int, ...], p: float) -> tuple:
    """Every combination of responses per stage, its probability and its fate (brute force)."""
    sizes = [looks[0], *(b - a for a, b in itertools.pairwise(looks))]
    pmf = {m: binom.pmf(np.arange(m + 1), m, p) for m in set(sizes)}
    stop = [0.0] * len(looks)
    go = expected_n = 0.0
    for xs in itertools.product(*(range(m + 1) for m in sizes)):
        prob = math.prod(float(pmf[m][x]) for x, m in zip(xs, sizes, strict=True))
        total = 0
        for k, x in enumerate(xs):
            total += x
            if total < bounds[k]:
                stop[k] += prob
                expected_n += looks[k] * prob
                break
        else:
            go += prob
            expected_n += looks[-1] * prob
    return tuple(stop), go, expected_n


@pytest.mark.parametrize(
    ("looks", "lambda_", "gamma", "p"),
    [
        ((10, 15, 20, 25, 30), 0.909, 1.0, 0.2),
        ((4, 8, 12), 0.7, 0.5, 0.35),
        ((3, 6, 9, 12), 0.95, 2.0, 0.5),
        ((12,), 0.8, 1.0, 0.3),
    ],
)
def test_operating_characteristics_equal_an_enumeration_of_every_path(
    looks: tuple[int, ...], lambda_: float, gamma: float, p: float
) -> None:
    rule = FutilityRule(response_null=0.2, looks=looks, lambda_=lambda_, gamma=gamma)
    oc = rule.operating_characteristics(p)
    stop, go, expected_n = enumerate_oc(looks, rule.continue_at_least, p)
    assert oc.stop_prob_by_look == pytest.approx(stop, abs=1e-12)
    assert oc.go_prob == pytest.approx(go, abs=1e-12)
    assert oc.expected_n == pytest.approx(expected_n, abs=1e-10)
    assert oc.early_stop_prob + stop[-1] + oc.go_prob == pytest.approx(1.0, abs=1e-12)


def test_operating_characteristics_agree_with_a_simulation() -> None:
    rule = FutilityRule(response_null=0.2, looks=(5, 10, 15, 20), lambda_=0.9, gamma=1.0)
    rng = np.random.default_rng(2017)
    trials = 20_000
    outcomes = rng.random((trials, 20)) < 0.3
    counts = outcomes.cumsum(axis=1)[:, [n - 1 for n in rule.looks]]
    failed = counts < np.array(rule.continue_at_least)
    futile = failed.any(axis=1)
    oc = rule.operating_characteristics(0.3)
    se = math.sqrt(oc.go_prob * (1 - oc.go_prob) / trials)
    assert abs((1 - futile.mean()) - oc.go_prob) < 4 * se
    first = np.where(futile, failed.argmax(axis=1), len(rule.looks) - 1)
    n = np.array(rule.looks)[first]
    assert abs(n.mean() - oc.expected_n) < 4 * n.std() / math.sqrt(trials)


def test_calibration_keeps_the_type_i_error_and_is_the_best_of_a_grid() -> None:
    looks = (10, 20, 30, 40)
    rule = calibrate_futility(response_null=0.2, response_alt=0.4, looks=looks, alpha=0.1)
    type1 = rule.operating_characteristics(0.2).go_prob
    power = rule.operating_characteristics(0.4).go_prob
    assert type1 <= 0.1
    # a plain grid over (lambda, gamma) finds no rule with the type I error kept and more power
    best = 0.0
    for gamma in np.linspace(0.0, 3.0, 13):
        for lam in np.linspace(0.5, 1.0, 101):
            other = FutilityRule(
                response_null=0.2, looks=looks, lambda_=float(lam), gamma=float(gamma)
            )
            if other.operating_characteristics(0.2).go_prob <= 0.1:
                best = max(best, other.operating_characteristics(0.4).go_prob)
    assert power >= best - 1e-12
    assert power > 0.85


def test_check_follows_the_looks_in_order() -> None:
    rule = FutilityRule(response_null=0.2, looks=(5, 10), lambda_=0.9, gamma=1.0)
    assert rule.continue_at_least[0] >= 1
    assert not rule.check([False] * 4).futile  # the first look is not reached
    assert rule.check([False] * 5).futile
    # futile at the first look even if responses come later
    assert rule.check([False] * 5 + [True] * 5).futile
    passed = rule.check([True] * 10)
    assert not passed.futile and passed.look is None


def test_problems_are_named() -> None:
    with pytest.raises(InvalidDesignError) as e:
        FutilityRule(response_null=0.2, looks=(5, 3), lambda_=1.5, gamma=-1.0, prior=(0.0, 1.0))
    assert {p.field for p in e.value.problems} == {"looks", "lambda", "gamma", "prior[0]"}
    with pytest.raises(InvalidDesignError) as e:
        calibrate_futility(response_null=0.3, response_alt=0.2, looks=(10,), alpha=2)
    assert {p.field for p in e.value.problems} == {"response_alt", "alpha"}
