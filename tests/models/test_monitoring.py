"""The beta-binomial toxicity monitoring rule against R's stoppingrule and against brute force.

R reference: ``tests/data/reference/stoppingrule_bb.json`` holds stoppingrule 0.6's
``calc.rule.bin(ns = 1:max_n, p0, alpha, type = "BB", param = c(a, b))`` and ``OC.rule.bin`` for ten
settings (the issue's example among them); its meta block has the R driver, the versions and the
date. Boundaries must match exactly and the operating characteristics to 1e-9 (both are exact
sums; they agree to ~1e-12). stoppingrule's threshold comes from a bisection whose boundary at each
step is the ceiling of a ``uniroot`` root (tolerance ~1e-4 in the DLT count), so its ``cval`` sits
within ~1e-6 of the exact threshold found here; the test holds it to 1e-6.

Independent of both: the probability of stopping, the expected DLTs and patients of a boundary by
enumerating all 2^12 DLT sequences of 12 patients, and the calibration's minimality checked on
that enumeration.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalation import InvalidDesignError, InvalidTrialDataError
from escalation.models.monitoring import (
    ToxicityMonitor,
    monitoring_boundary,
    monitoring_oc,
    monitoring_problems,
)
from tests.reference import load

CASES: list[dict[str, Any]] = load("stoppingrule_bb.json")["cases"]


def _monitor(case: dict[str, Any]) -> ToxicityMonitor:
    return ToxicityMonitor(
        p0=case["p0"], alpha=case["alpha"], prior=tuple(case["prior"]), max_n=case["max_n"]
    )


def _r_boundary(case: dict[str, Any]) -> list[int | None]:
    """stoppingrule's boundary, with a value above n (no count of DLTs reaches it) as None."""
    return [b if b <= n else None for n, b in enumerate(case["reject_bdry"], start=1)]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_boundary_matches_stoppingrule_exactly(case: dict[str, Any]) -> None:
    monitor = _monitor(case)
    assert list(monitor.stop_at_least) == _r_boundary(case)
    assert monitor.threshold == pytest.approx(case["cval"], abs=1e-6)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_operating_characteristics_match_stoppingrule(case: dict[str, Any]) -> None:
    monitor = _monitor(case)
    for ref in case["oc"]:
        oc = monitor.operating_characteristics(ref["p"])
        assert oc.stop_prob == pytest.approx(ref["reject_prob"], abs=1e-9), ref["p"]
        assert oc.expected_events == pytest.approx(ref["exp_events"], abs=1e-9), ref["p"]
        assert oc.expected_n == pytest.approx(ref["exp_enrolled_tau0"], abs=1e-9), ref["p"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_ties_do_not_stop(case: dict[str, Any]) -> None:
    """The threshold is the posterior probability of a cell that does not stop (strict '>');
    letting that cell stop (the threshold one ulp lower) breaks both alpha and R's boundary."""
    monitor = _monitor(case)
    highest_not_stopping = [
        (n, n if b is None else b - 1) for n, b in enumerate(monitor.stop_at_least, start=1)
    ]
    critical = [
        (n, y)
        for n, y in highest_not_stopping
        if monitor.posterior_prob(n=n, dlt=y) == monitor.threshold
    ]
    assert len(critical) == 1
    lower = monitoring_boundary(
        threshold=math.nextafter(monitor.threshold, 0.0),
        p0=monitor.p0,
        prior=monitor.prior,
        max_n=monitor.max_n,
    )
    assert list(lower) != _r_boundary(case)
    assert monitoring_oc(lower, monitor.p0).stop_prob > monitor.alpha


# ---- brute force over every DLT sequence ---------------------------------------------------------
def _enumerate(stop_at_least: tuple[int | None, ...], p: float) -> tuple[float, float, float]:
    """(Pr(stop), E(DLTs), E(patients)) summed over all 2^max_n sequences of DLT / no DLT."""
    max_n = len(stop_at_least)
    stop = events = patients = 0.0
    for seq in itertools.product((0, 1), repeat=max_n):
        weight = math.prod(p if x else 1.0 - p for x in seq)
        dlt = 0
        for n, x in enumerate(seq, start=1):
            dlt += x
            bound = stop_at_least[n - 1]
            if bound is not None and dlt >= bound:
                stop += weight
                break
        events += weight * dlt
        patients += weight * n
    return stop, events, patients


BRUTE = [
    pytest.param(0.15, 0.20, (0.3, 1.7), id="p0.15_a0.20_beta0.3-1.7"),
    pytest.param(0.2, 0.1, (0.6, 2.4), id="p0.20_a0.10_beta0.6-2.4"),
    pytest.param(0.3, 0.05, (1.0, 1.0), id="p0.30_a0.05_beta1-1"),
    pytest.param(0.1, 0.3, (0.5, 4.5), id="p0.10_a0.30_beta0.5-4.5"),
]


@pytest.mark.parametrize(("p0", "alpha", "prior"), BRUTE)
def test_dynamic_programming_equals_enumeration(
    p0: float, alpha: float, prior: tuple[float, float]
) -> None:
    monitor = ToxicityMonitor(p0=p0, alpha=alpha, prior=prior, max_n=12)
    for p in (0.0, 0.05, p0, 0.33, 0.6, 1.0):
        oc = monitor.operating_characteristics(p)
        stop, events, patients = _enumerate(monitor.stop_at_least, p)
        assert oc.stop_prob == pytest.approx(stop, abs=1e-12)
        assert oc.expected_events == pytest.approx(events, abs=1e-12)
        assert oc.expected_n == pytest.approx(patients, abs=1e-12)


@pytest.mark.parametrize(("p0", "alpha", "prior"), BRUTE)
def test_threshold_is_the_smallest_that_keeps_alpha(
    p0: float, alpha: float, prior: tuple[float, float]
) -> None:
    """Over every posterior probability of a cell (n, y), the calibrated threshold is the smallest
    whose boundary has Pr(stop | p0) <= alpha, each boundary's Pr(stop) by enumeration."""
    monitor = ToxicityMonitor(p0=p0, alpha=alpha, prior=prior, max_n=12)
    cells = sorted({monitor.posterior_prob(n=n, dlt=y) for n in range(1, 13) for y in range(n + 1)})
    keeping = [
        c
        for c in cells
        if _enumerate(monitoring_boundary(threshold=c, p0=p0, prior=prior, max_n=12), p0)[0]
        <= alpha
    ]
    assert monitor.threshold == min(keeping)
    assert _enumerate(monitor.stop_at_least, p0)[0] <= alpha


def test_boundary_is_the_posterior_rule() -> None:
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=30)
    for n in range(1, 31):
        for y in range(n + 1):
            assert monitor.stops(n=n, dlt=y) == (
                monitor.posterior_prob(n=n, dlt=y) > monitor.threshold
            )
    # the example in words: 3 DLTs in the first 3 or 4 patients stop, 2 do not
    assert monitor.stops(n=3, dlt=3) and monitor.stops(n=4, dlt=3)
    assert not monitor.stops(n=4, dlt=2)
    assert not monitor.stops(n=2, dlt=2)  # no stop is possible with two patients


def test_a_single_patient_never_stops_at_alpha_below_its_dlt_probability() -> None:
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=1)
    assert monitor.stop_at_least == (None,)
    allowed = ToxicityMonitor(p0=0.2, alpha=0.25, prior=(0.6, 2.4), max_n=1)
    assert allowed.stop_at_least == (1,)
    assert allowed.operating_characteristics(0.2).stop_prob == pytest.approx(0.2, abs=1e-15)


def test_monitor_is_frozen_and_cached_calibration_is_consistent() -> None:
    first = ToxicityMonitor(p0=0.2, alpha=0.1, prior=[0.6, 2.4], max_n=30)  # type: ignore[arg-type]
    again = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=30)
    assert first == again and first.prior == (0.6, 2.4)
    with pytest.raises(AttributeError):
        first.threshold = 0.5  # type: ignore[misc]


# ---- validation ------------------------------------------------------------------------------------
def test_every_bad_setting_is_named() -> None:
    with pytest.raises(InvalidDesignError) as err:
        ToxicityMonitor(p0=0.0, alpha=1.5, prior=(0.0, math.nan), max_n=1001)
    assert [p.field for p in err.value.problems] == ["p0", "alpha", "prior[0]", "prior[1]", "max_n"]
    assert "got 1001" in str(err.value)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"p0": True}, "x.p0"),
        ({"alpha": "0.1"}, "x.alpha"),
        ({"prior": (1.0,)}, "x.prior"),
        ({"prior": "ab"}, "x.prior"),
        ({"prior": (1.0, -2.0)}, "x.prior[1]"),
        ({"max_n": 30.0}, "x.max_n"),
        ({"max_n": 0}, "x.max_n"),
    ],
)
def test_problems_name_the_field(settings: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"p0": 0.2, "alpha": 0.1, "prior": (0.6, 2.4), "max_n": 30}
    assert monitoring_problems(**base, where="x") == []
    problems = monitoring_problems(**(base | settings), where="x")
    assert [p.field for p in problems] == [field]


def test_counts_and_rates_are_checked() -> None:
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=10)
    with pytest.raises(InvalidTrialDataError, match="n: must be a whole number from 1 to 10"):
        monitor.stops(n=11, dlt=0)
    with pytest.raises(InvalidTrialDataError, match="dlt: must be a whole number from 0 to n = 3"):
        monitor.stops(n=3, dlt=4)
    assert 0 < monitor.posterior_prob(n=50, dlt=10) < 1  # beyond max_n is a valid question
    with pytest.raises(InvalidDesignError, match=r"p: must be in \[0, 1\]"):
        monitor.operating_characteristics(1.2)
    assert np.isfinite(monitor.operating_characteristics(0.0).expected_n)


def test_check_says_why() -> None:
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=30)
    verdict = monitor.check(n=4, dlt=3)
    assert verdict.stop and verdict.stop_at_least == 3
    assert verdict.posterior_prob == monitor.posterior_prob(n=4, dlt=3) > monitor.threshold
    assert verdict.reason.startswith("3 DLTs in 4 evaluable patients: Pr(DLT rate > 0.2) = 0.9634")
    calm = monitor.check(n=2, dlt=2)
    assert not calm.stop and calm.stop_at_least is None
    assert "no number of DLTs stops at 2 patients" in calm.reason
    start = monitor.check(n=0, dlt=0)
    assert not start.stop and start.reason == "no evaluable patients yet"
    with pytest.raises(InvalidTrialDataError, match="n: must be a whole number from 0 to 30"):
        monitor.check(n=31, dlt=0)
    with pytest.raises(InvalidTrialDataError, match="dlt"):
        monitor.check(n=0, dlt=1)


@settings(max_examples=40, deadline=None)
@given(
    p0=st.floats(0.02, 0.6),
    alpha=st.floats(0.01, 0.4),
    a=st.floats(0.05, 5.0),
    b=st.floats(0.05, 10.0),
    max_n=st.integers(1, 40),
)
def test_calibrated_rule_properties(
    p0: float, alpha: float, a: float, b: float, max_n: int
) -> None:
    """alpha holds at p0; the boundary never falls as patients accrue and rises by at most one DLT
    a patient; the stop probability rises with the true rate."""
    monitor = ToxicityMonitor(p0=p0, alpha=alpha, prior=(a, b), max_n=max_n)
    assert monitor.operating_characteristics(p0).stop_prob <= alpha + 1e-12
    bounds = [n + 1 if v is None else v for n, v in enumerate(monitor.stop_at_least, start=1)]
    assert all(0 <= later - earlier <= 1 for earlier, later in itertools.pairwise(bounds))
    probs = [monitor.operating_characteristics(p).stop_prob for p in (0.0, p0 / 2, p0, 0.7, 1.0)]
    assert all(x <= y + 1e-12 for x, y in itertools.pairwise(probs))


def test_a_boundary_given_by_hand_is_checked() -> None:
    with pytest.raises(InvalidDesignError) as err:
        monitoring_oc([None, 3, 2], 0.5)
    assert [p.field for p in err.value.problems] == ["stop_at_least[1]"]
    assert monitoring_oc([0], 0.3).stop_prob == 1.0  # zero DLTs stop: always stops
