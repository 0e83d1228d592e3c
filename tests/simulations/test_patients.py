"""Simulated patients: tolerances, DLT times, arrivals and deterministic block extension."""

from __future__ import annotations

import numpy as np
import pytest

from simulations import Conduct, DltTime, PatientBlock


def test_weibull_times_put_the_late_onset_share_in_the_second_half() -> None:
    """P(T <= W/2 | DLT) = 1 - share; checked within 4 Monte Carlo standard errors."""
    rng = np.random.default_rng(1)
    v = rng.random(200_000)
    for p in (0.05, 0.3, 0.7):
        for share in (0.3, 0.5, 0.8):
            frac = DltTime(distribution="weibull", late_onset_share=share).fraction(v, p)
            assert np.all((frac > 0) & (frac <= 1))
            late = np.mean(frac > 0.5)
            assert abs(late - share) < 4 * np.sqrt(share * (1 - share) / v.size)


def test_weibull_matches_titegboin_closed_form() -> None:
    """TITEgBOIN: shape k = log(log(1-p)/log(1-p/2))/log 2; given T <= W, T = F^-1(v p)."""
    p, v = 0.3, np.linspace(0.01, 0.99, 50)
    k = np.log(np.log(1 - p) / np.log(1 - p / 2)) / np.log(2)
    lam = -np.log(1 - p)  # scale with W = 1
    expected = (-np.log(1 - v * p) / lam) ** (1 / k)
    got = DltTime(distribution="weibull", late_onset_share=0.5).fraction(v, p)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_dlt_days_are_inside_the_window() -> None:
    days = DltTime().offset_days(np.array([1e-9, 0.5, 1.0]), 0.3, 30)
    assert days.tolist() == [1, 15, 30]


def test_arrivals_are_poisson_at_the_accrual_rate() -> None:
    block = PatientBlock(
        seed=3,
        scenario_index=0,
        block_index=0,
        n_trials=4000,
        capacity=30,
        conduct=Conduct(accrual_per_month=2),
    )
    assert np.all(block.arrival_time[:, 0] == 0)
    gaps = np.diff(block.arrival_time, axis=1).ravel()
    assert abs(gaps.mean() - 15.0) < 4 * 15.0 / np.sqrt(gaps.size)
    assert np.all(block.arrival_day == np.floor(block.arrival_time))
    assert abs(block.tolerance.mean() - 0.5) < 4 * np.sqrt(1 / 12 / block.tolerance.size)


@pytest.mark.parametrize("requests", [[40], [33, 40], [35, 90, 40]])
def test_extension_gives_the_same_patients_whoever_asks(requests: list[int]) -> None:
    """Extra arrivals come in fixed chunks: the patients do not depend on who asked for how many."""

    def make() -> PatientBlock:
        return PatientBlock(
            seed=5, scenario_index=1, block_index=2, n_trials=10, capacity=31, conduct=Conduct()
        )

    ref = make()
    ref.ensure(200)
    block = make()
    for r in requests:
        block.ensure(r)
    k = block.capacity
    assert k >= max(requests)
    np.testing.assert_array_equal(block.tolerance, ref.tolerance[:, :k])
    np.testing.assert_array_equal(block.arrival_time, ref.arrival_time[:, :k])


def test_blocks_differ_by_scenario_and_block() -> None:
    def tol(s: int, b: int) -> np.ndarray:
        return PatientBlock(
            seed=9, scenario_index=s, block_index=b, n_trials=5, capacity=5, conduct=Conduct()
        ).tolerance

    assert not np.array_equal(tol(0, 0), tol(0, 1))
    assert not np.array_equal(tol(0, 0), tol(1, 0))
    np.testing.assert_array_equal(tol(1, 1), tol(1, 1))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"accrual_per_month": 0}, "accrual_per_month"),
        ({"dlt_window_days": 0}, "dlt_window_days"),
        ({"suspended_arrivals": "queue"}, "suspended_arrivals"),
        ({"decision_timing": "later"}, "decision_timing"),
    ],
)
def test_a_conduct_built_in_python_is_validated(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Conduct(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="late_onset_share"):
        DltTime(distribution="weibull", late_onset_share=1.5)
