"""Times to response inside the efficacy window (the conduct's ``response_time``): the draws,
the spec, which engine simulates them, and what they change in a trial."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pytest

from escalation import BOIN12
from simulations import Conduct, DltTime, PatientBlock, run_simulation
from simulations.engines import choose_engine
from simulations.errors import InvalidSpecError
from simulations.spec import parse_spec

Q = [0.2, 0.4, 0.6, 0.6, 0.6]
P = [0.05, 0.1, 0.2, 0.35, 0.5]


def block(conduct: Conduct, n_trials: int = 50, capacity: int = 40) -> PatientBlock:
    return PatientBlock(
        seed=11,
        scenario_index=0,
        block_index=0,
        n_trials=n_trials,
        capacity=capacity,
        conduct=conduct,
        true_response_probs=Q,
    )


def test_response_times_leave_every_other_draw_unchanged() -> None:
    """The response onsets are drawn last: the patients' tolerances, DLT onsets, arrivals and
    response quantiles are those of the same block without response times."""
    plain = block(Conduct())
    timed = block(Conduct(response_time=DltTime(distribution="weibull")))
    for name in ("tolerance", "onset", "arrival_time", "response"):
        np.testing.assert_array_equal(getattr(plain, name), getattr(timed, name))
    assert timed.response_onset.shape == timed.response.shape


@pytest.mark.parametrize("share", [0.3, 0.5, 0.8])
def test_weibull_response_days_put_the_late_share_in_the_window_s_second_half(
    share: float,
) -> None:
    """Given a response, P(day > W/2) = late_onset_share, within 4 Monte Carlo standard errors;
    every day within 1..W."""
    window = 90
    b = block(
        Conduct(
            efficacy_window_days=window,
            response_time=DltTime(distribution="weibull", late_onset_share=share),
        ),
        n_trials=500,
    )
    days = np.array(
        [b.response_offset_days(t, k, 0.6) for t in range(b.n_trials) for k in range(b.capacity)]
    )
    assert days.min() >= 1 and days.max() <= window
    late = np.mean(days > window / 2)
    assert abs(late - share) < 4 * math.sqrt(share * (1 - share) / days.size)


def test_uniform_response_days_and_the_default_window_end() -> None:
    b = block(Conduct(efficacy_window_days=60, response_time=DltTime()), n_trials=400)
    days = np.array(
        [b.response_offset_days(t, k, 0.3) for t in range(b.n_trials) for k in range(b.capacity)]
    )
    assert abs(days.mean() - 30.5) < 4 * math.sqrt((60**2 - 1) / 12 / days.size)
    assert block(Conduct(efficacy_window_days=60)).response_offset_days(0, 0, 0.3) == 60


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "design": {"method": "boin12", "target": 0.35, "efficacy_target": 0.25},
        "scenarios": [{"name": "S", "true_dlt_probs": P, "true_response_probs": Q}],
        "trials": 10,
        "seed": 1,
    } | changes


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"distribution": "gamma"}, "response_time.distribution"),
        ({"distribution": "uniform", "late_onset_share": 0.3}, "response_time.late_onset_share"),
        ({"distribution": "weibull", "late_onset_share": 1.0}, "response_time.late_onset_share"),
        ({"distribution": "weibull", "shape": 2}, "response_time.shape"),
        (3, "response_time"),
    ],
    ids=str,
)
def test_spec_problems_name_the_field(value: Any, field: str) -> None:
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(spec(response_time=value))
    assert field in {p.field for p in err.value.problems}


def test_spec_reads_and_reports_the_response_time() -> None:
    parsed = parse_spec(spec(response_time={"distribution": "weibull", "late_onset_share": 0.7}))
    assert parsed.conduct.response_time == DltTime(distribution="weibull", late_onset_share=0.7)
    assert parse_spec(spec()).conduct.response_time is None
    assert parse_spec(spec(response_time={"distribution": "uniform"})).conduct.response_time == (
        DltTime()
    )


def test_the_fast_boin12_engine_refuses_response_times(caplog: pytest.LogCaptureFixture) -> None:
    design = BOIN12(n_doses=5, target=0.35, efficacy_target=0.25)
    assert choose_engine(design, Conduct()).name == "fast-boin12"
    with caplog.at_level(logging.WARNING):
        engine = choose_engine(design, Conduct(response_time=DltTime()))
    assert engine.name == "generic"
    assert "response_time" in caplog.text


def test_for_boin12_response_times_change_when_not_what() -> None:
    """BOIN12 decides on complete data: responses known earlier move the decisions earlier in
    the calendar (shorter trials) but not what is decided, trial for trial the same patients,
    doses and selections as the fast engine without response times."""
    base = spec(trials=200, design=spec()["design"] | {"max_patients": 30})
    plain = run_simulation(base)["results"][0]
    timed = run_simulation(base | {"response_time": {"distribution": "uniform"}})["results"][0]
    assert (plain["engine"], timed["engine"]) == ("fast-boin12", "generic")
    assert timed["selection_pct"] == plain["selection_pct"]
    assert timed["patients_mean"] == plain["patients_mean"]
    assert timed["responses_mean"] == plain["responses_mean"]
    assert timed["duration_mean_days"] < plain["duration_mean_days"]


@pytest.mark.slow
def test_tite_boin12_suspends_less_when_responses_come_inside_the_window() -> None:
    """TITE-BOIN12's suspension waits for half the current dose's responses: with responses on
    days drawn inside the 90-day window rather than at its end, trials are shorter."""
    base = spec(
        trials=120,
        design={"method": "tite-boin12", "target": 0.35, "efficacy_target": 0.25},
        accrual_per_month=3,
    )
    plain = run_simulation(base)["results"][0]
    timed = run_simulation(base | {"response_time": {"distribution": "uniform"}})["results"][0]
    assert plain["engine"] == timed["engine"] == "generic"
    gap = plain["duration_mean_days"] - timed["duration_mean_days"]
    se = math.hypot(plain["se"]["duration_mean_days"], timed["se"]["duration_mean_days"])
    assert gap > 4 * se


def test_a_response_time_without_a_design_that_decides_on_responses_is_named() -> None:
    """BF-BOIN opens backfill on a response known at the end of the DLT window; a response time
    would be silently ignored there, so the spec refuses it."""
    from simulations.spec import parse_spec

    spec = {
        "design": {"method": "boin", "target": 0.3, "backfill": {}},
        "scenarios": [
            {
                "name": "S",
                "true_dlt_probs": [0.05, 0.15, 0.3],
                "true_response_probs": [0.2, 0.3, 0.4],
            }
        ],
        "response_time": {"distribution": "weibull", "late_onset_share": 0.9},
        "trials": 5,
    }
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(spec)
    assert "response_time" in {p.field for p in err.value.problems}
