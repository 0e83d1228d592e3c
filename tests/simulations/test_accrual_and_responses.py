"""The spec's ``accrual`` (Poisson or uniform inter-arrival times) and ``true_response_probs``."""

from __future__ import annotations

import numpy as np
import pytest

from simulations import InvalidSpecError
from simulations.patients import Conduct, PatientBlock
from simulations.spec import parse_spec


def _block(conduct: Conduct, probs: list[float] | None = None) -> PatientBlock:
    return PatientBlock(
        seed=11,
        scenario_index=0,
        block_index=0,
        n_trials=3000,
        capacity=30,
        conduct=conduct,
        true_response_probs=probs,
    )


def test_uniform_accrual_draws_gaps_from_zero_to_twice_the_mean() -> None:
    """bfboin: inter-arrival times U(0, 2 / rate) months; 3 a month is U(0, 20) days."""
    block = _block(Conduct(accrual_per_month=3, accrual="uniform"))
    gaps = np.diff(block.arrival_time, axis=1).ravel()
    assert np.all(block.arrival_time[:, 0] == 0)
    assert gaps.min() >= 0 and gaps.max() <= 20.0
    # U(0, 20): mean 10, variance 400 / 12
    se = np.sqrt(400 / 12 / gaps.size)
    assert abs(gaps.mean() - 10.0) < 4 * se
    assert abs(gaps.var() - 400 / 12) < 0.05 * 400 / 12


def test_poisson_accrual_is_unchanged_by_the_response_draws() -> None:
    """Responses are drawn after the other columns: the Poisson patients are those of before."""
    a = _block(Conduct(accrual_per_month=3))
    b = _block(Conduct(accrual_per_month=3), probs=[0.2, 0.5])
    np.testing.assert_array_equal(a.arrival_time, b.arrival_time)
    np.testing.assert_array_equal(a.tolerance, b.tolerance)
    gaps = np.diff(a.arrival_time, axis=1).ravel()
    assert abs(gaps.std() / gaps.mean() - 1.0) < 0.02  # exponential: sd = mean


def test_responses_follow_the_true_response_probabilities_independently_of_dlt() -> None:
    block = _block(Conduct(), probs=[0.2, 0.5])
    got = np.array([[block.responds(t, j, 1) for j in range(30)] for t in range(300)])
    assert abs(got.mean() - 0.5) < 4 * np.sqrt(0.25 / got.size)
    dlt = block.tolerance[:300, :30] < 0.3
    assert abs(got[dlt].mean() - got[~dlt].mean()) < 4 * np.sqrt(
        0.25 / dlt.sum() + 0.25 / (~dlt).sum()
    )
    assert _block(Conduct()).responds(0, 0, 0) is None


def _spec(**extra: object) -> dict[str, object]:
    return {
        "design": {"method": "boin", "target": 0.25},
        "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.3]}],
        "trials": 10,
        "seed": 1,
    } | extra


def test_spec_reads_accrual_and_response_probabilities() -> None:
    spec = parse_spec(
        _spec(
            accrual="uniform",
            scenarios=[
                {"name": "S1", "true_dlt_probs": [0.1, 0.3], "true_response_probs": [0.2, 0.4]}
            ],
        )
    )
    assert spec.conduct.accrual == "uniform"
    assert spec.scenarios[0].true_response_probs == (0.2, 0.4)
    out = spec.as_json()
    assert out["accrual"] == "uniform"
    assert out["scenarios"][0]["true_response_probs"] == [0.2, 0.4]
    assert parse_spec(out).as_json() == out
    assert parse_spec(_spec()).conduct.accrual == "poisson"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"accrual": "weekly"}, "accrual"),
        (
            {
                "scenarios": [
                    {"name": "S", "true_dlt_probs": [0.1, 0.3], "true_response_probs": [0.2]}
                ]
            },
            "scenarios[0].true_response_probs",
        ),
        (
            {
                "scenarios": [
                    {"name": "S", "true_dlt_probs": [0.1, 0.3], "true_response_probs": [0.2, 1.5]}
                ]
            },
            "scenarios[0].true_response_probs[1]",
        ),
    ],
)
def test_spec_names_bad_accrual_and_response_fields(extra: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(_spec(**extra))
    assert field in [p.field for p in e.value.problems]
