"""Skeleton calibration against dfcrm's getprior, and the indifference-interval property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation.errors import InvalidDesignError
from escalation.models.skeleton import calibrate_skeleton
from tests.reference import load

GETPRIOR_CASES = load("crm_fits.json")["getprior_cases"]


def _case_id(case: dict) -> str:
    i = case["inputs"]
    return f"hw{i['halfwidth']}-t{i['target']}-nu{i['nu']}-K{i['nlevel']}-{i['model']}"


@pytest.mark.parametrize("case", GETPRIOR_CASES, ids=_case_id)
def test_matches_dfcrm_getprior(case: dict) -> None:
    i = case["inputs"]
    skeleton = calibrate_skeleton(
        i["halfwidth"], i["target"], i["nu"], i["nlevel"], model=i["model"]
    )
    np.testing.assert_allclose(skeleton, case["prior"], rtol=1e-9, atol=0)


def _tox(skeleton: np.ndarray, a: float, model: str, intercept: float) -> np.ndarray:
    if model == "empiric":
        return np.asarray(skeleton ** math.exp(a))
    x = np.log(skeleton / (1 - skeleton)) - intercept
    return np.asarray(1 / (1 + np.exp(-intercept - math.exp(a) * x)))


def _crossing(s: float, p: float, model: str, intercept: float) -> float:
    """The a at which a dose with skeleton value s has DLT probability p."""
    if model == "empiric":
        return math.log(math.log(p) / math.log(s))
    x = math.log(s / (1 - s)) - intercept
    return math.log((math.log(p / (1 - p)) - intercept) / x)


@settings(max_examples=200, deadline=None)
@given(
    target=st.floats(0.1, 0.4),
    halfwidth_share=st.floats(0.05, 0.4),
    n_levels=st.integers(1, 8),
    data=st.data(),
    model=st.sampled_from(["empiric", "logistic"]),
)
def test_indifference_intervals_are_target_plus_minus_halfwidth(
    target: float, halfwidth_share: float, n_levels: int, data: st.DataObject, model: str
) -> None:
    """Where dose k has p = target - delta, dose k + 1 has p = target + delta (both models)."""
    halfwidth = halfwidth_share * target
    nu = data.draw(st.integers(1, n_levels), label="prior_mtd_level")
    intercept = data.draw(st.sampled_from([2.0, 3.0, 5.0]), label="intercept")
    skeleton = calibrate_skeleton(halfwidth, target, nu, n_levels, model=model, intercept=intercept)
    assert skeleton.shape == (n_levels,)
    assert skeleton[nu - 1] == pytest.approx(target, rel=1e-12)
    assert np.all((skeleton > 0) & (skeleton < 1))
    assert np.all(np.diff(skeleton) > 0)
    for k in range(n_levels - 1):
        a = _crossing(float(skeleton[k]), target - halfwidth, model, intercept)
        p = _tox(skeleton, a, model, intercept)
        assert p[k + 1] == pytest.approx(target + halfwidth, rel=1e-10)


def test_too_wide_halfwidth_for_the_levels_is_a_design_error() -> None:
    with pytest.raises(InvalidDesignError, match="halfwidth"):
        calibrate_skeleton(0.2, 0.3, 8, 8)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"halfwidth": 0.0}, "halfwidth"),
        ({"halfwidth": 0.3}, "halfwidth"),
        ({"target": 1.2}, "target"),
        ({"prior_mtd_level": 0}, "prior_mtd_level"),
        ({"prior_mtd_level": 7}, "prior_mtd_level"),
        ({"n_levels": 0}, "n_levels"),
        ({"model": "probit"}, "model"),
        ({"model": "logistic", "intercept": -1.0}, "intercept"),
    ],
    ids=[
        "zero-halfwidth",
        "halfwidth-beyond-target",
        "target-above-1",
        "level-0",
        "level-beyond-n",
        "no-levels",
        "unknown-model",
        "logistic-intercept-too-small",
    ],
)
def test_invalid_inputs_name_the_field(kwargs: dict, field: str) -> None:
    args = {"halfwidth": 0.05, "target": 0.3, "prior_mtd_level": 3, "n_levels": 6} | kwargs
    with pytest.raises(InvalidDesignError, match=field):
        calibrate_skeleton(
            args.pop("halfwidth"),
            args.pop("target"),
            args.pop("prior_mtd_level"),
            args.pop("n_levels"),
            **args,
        )
