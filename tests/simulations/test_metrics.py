"""Operating characteristics and their standard errors, against direct computations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from simulations import benchmark_selection, operating_characteristics
from simulations.engines import TrialOutcomes
from simulations.metrics import summarize_block


def outcomes(rng: np.random.Generator, trials: int) -> TrialOutcomes:
    n = rng.integers(0, 10, size=(trials, 4))
    y = rng.binomial(n, 0.3)
    return TrialOutcomes(
        selected_index=rng.integers(-1, 4, size=trials),
        n_at_dose=n,
        dlt_at_dose=y,
        stopped_early=rng.random(trials) < 0.2,
        duration_days=rng.integers(100, 700, size=trials),
        delay_days=rng.integers(0, 50, size=trials),
        lost=rng.integers(0, 5, size=trials),
    )


def test_statistics_and_standard_errors_match_direct_computation() -> None:
    rng = np.random.default_rng(0)
    out = outcomes(rng, 3000)
    bench = rng.integers(0, 4, size=3000)
    oc = operating_characteristics(
        summarize_block(out, mtd_indices=(1,), benchmark=bench, target=0.3, max_patients=30)
    )
    sel = out.selected_index
    for k in range(4):
        p = np.mean(sel == k)
        assert np.isclose(oc["selection_pct"][k], 100 * p)
        assert np.isclose(oc["se"]["selection_pct"][k], 100 * np.sqrt(p * (1 - p) / 3000))
    assert np.isclose(oc["none_pct"], 100 * np.mean(sel < 0))
    assert np.isclose(oc["correct_selection_pct"], 100 * np.mean(sel == 1))
    np.testing.assert_allclose(oc["patients_mean"], out.n_at_dose.mean(axis=0))
    np.testing.assert_allclose(
        oc["se"]["patients_mean"], out.n_at_dose.std(axis=0, ddof=1) / np.sqrt(3000)
    )
    assert np.isclose(oc["duration_mean_days"], out.duration_days.mean())
    assert np.isclose(oc["se"]["duration_mean_days"], out.duration_days.std(ddof=1) / np.sqrt(3000))
    total = out.n_at_dose.sum(axis=1)
    above = out.n_at_dose[:, 2:].sum(axis=1)
    assert np.isclose(oc["above_mtd_pct"], 100 * above.sum() / total.sum())
    rate = out.dlt_at_dose.sum() / total.sum()
    assert np.isclose(oc["dlt_rate_pct"], 100 * rate)
    assert np.isclose(oc["early_stop_pct"], 100 * out.stopped_early.mean())
    assert np.isclose(oc["benchmark_correct_pct"], 100 * np.mean(bench == 1))


def test_ratio_standard_error_is_the_spread_of_replicated_ratios() -> None:
    """The delta-method s.e. of the overall DLT rate agrees with its spread over replications."""
    rng = np.random.default_rng(1)
    rates, ses = [], []
    for _ in range(300):
        oc = operating_characteristics(
            summarize_block(
                outcomes(rng, 400),
                mtd_indices=(1,),
                benchmark=np.zeros(400, dtype=np.int64),
                target=0.3,
                max_patients=30,
            )
        )
        rates.append(oc["dlt_rate_pct"])
        ses.append(oc["se"]["dlt_rate_pct"])
    assert abs(np.std(rates) / np.mean(ses) - 1) < 0.15


def test_block_sums_add_exactly() -> None:
    rng = np.random.default_rng(2)
    a, b = outcomes(rng, 500), outcomes(rng, 700)
    bench = np.zeros(1200, dtype=np.int64)
    whole = TrialOutcomes(
        **{
            f: np.concatenate([getattr(a, f), getattr(b, f)])
            for f in (
                "selected_index",
                "n_at_dose",
                "dlt_at_dose",
                "stopped_early",
                "duration_days",
                "delay_days",
                "lost",
            )
        }
    )
    kw: dict[str, Any] = {"mtd_indices": (2,), "target": 0.3, "max_patients": 30}
    one = summarize_block(whole, benchmark=bench, **kw)
    two = summarize_block(a, benchmark=bench[:500], **kw) + summarize_block(
        b, benchmark=bench[500:], **kw
    )
    assert operating_characteristics(one) == operating_characteristics(two)


def test_benchmark_is_the_complete_information_estimate() -> None:
    """O'Quigley et al. (2002): every patient's outcome at every dose from the tolerance."""
    rng = np.random.default_rng(3)
    u = rng.random((500, 40))
    probs = np.array([0.3, 0.05, 0.5, 0.2])  # not sorted on purpose
    got = benchmark_selection(u, probs, 0.25, 30)
    for t in range(500):
        k = np.array([(u[t, :30] < p).sum() for p in probs])
        # BOIN's tie-break: the estimate plus i * 1e-10, the closest to the target
        score = k / 30 + np.arange(4) * 1e-10
        assert got[t] == int(np.argmin(np.abs(score - 0.25))), (t, k)


def test_benchmark_breaks_ties_towards_the_target() -> None:
    """All doses safe: the two top levels often tie below the target; the higher is chosen."""
    u = np.full((1, 30), 0.5)
    u[0, :3] = 0.01  # three patients with a DLT at every dose, none between 0.08 and 0.10
    assert benchmark_selection(u, np.array([0.02, 0.04, 0.06, 0.08, 0.10]), 0.3, 30)[0] == 4
    # above the target the lowest of tied levels
    u = np.full((1, 30), 0.99)
    u[0, :15] = 0.01
    assert benchmark_selection(u, np.array([0.2, 0.6, 0.7]), 0.3, 30)[0] == 0


def hand_made(
    n: list[list[int]], y: list[list[int]], selected: list[int], stopped: list[bool]
) -> TrialOutcomes:
    t = len(n)
    return TrialOutcomes(
        selected_index=np.array(selected, dtype=np.int64),
        n_at_dose=np.array(n, dtype=np.int64),
        dlt_at_dose=np.array(y, dtype=np.int64),
        stopped_early=np.array(stopped),
        duration_days=np.full(t, 100, dtype=np.int64),
        delay_days=np.zeros(t, dtype=np.int64),
        lost=np.zeros(t, dtype=np.int64),
    )


def test_no_dose_is_correct_when_every_dose_is_too_toxic() -> None:
    """True MTD none (mtd_indices empty): selecting level 1 is wrong, selecting none is right,
    and every patient counts as treated above the MTD."""
    out = hand_made(
        [[3, 0, 0], [6, 3, 0], [3, 0, 0], [9, 0, 0]],
        [[2, 0, 0], [2, 2, 0], [3, 0, 0], [4, 0, 0]],
        selected=[-1, 0, -1, 0],
        stopped=[True, False, True, False],
    )
    bench = np.array([-1, -1, 0, -1])
    oc = operating_characteristics(
        summarize_block(out, mtd_indices=(), benchmark=bench, target=0.3, max_patients=9)
    )
    assert oc["correct_selection_pct"] == 50.0  # the two trials that selected no dose
    assert oc["none_pct"] == 50.0
    assert oc["benchmark_correct_pct"] == 75.0 and oc["benchmark_none_pct"] == 75.0
    assert oc["benchmark_selection_pct"] == [25.0, 0.0, 0.0]
    assert oc["above_mtd_pct"] == 100.0
    assert oc["poor_allocation_pct"] is None  # there is no MTD to allocate patients to


def test_safety_stops_and_n_stop_stops_are_reported_apart() -> None:
    """A trial ended before max_patients with no dose selected is a safety stop; one ended with
    a dose selected (n_stop reached) is not; one that ran to the end is neither."""
    out = hand_made(
        [[3, 0], [6, 12], [15, 15], [3, 9]],
        [[3, 0], [1, 3], [1, 4], [0, 2]],
        selected=[-1, 1, 1, 1],
        stopped=[True, True, False, True],
    )
    oc = operating_characteristics(
        summarize_block(
            out, mtd_indices=(1,), benchmark=np.ones(4, np.int64), target=0.3, max_patients=30
        )
    )
    assert oc["stop_safety_pct"] == 25.0
    assert oc["stop_n_stop_pct"] == 50.0
    assert oc["early_stop_pct"] == 75.0


def test_risks_of_overdosing_poor_allocation_and_high_toxicity_by_hand() -> None:
    """R BOIN get.oc: overdose60 = % of trials with more than 0.6 x npts (the maximum sample
    size, here 30) patients above the MTD; poor allocation: fewer than 6 at the MTD; high
    toxicity: DLTs / patients above the target."""
    # MTD at index 1 (level 2); patients above it: levels 3 and 4
    n = [
        [3, 3, 18, 1],  # 19 above: > 18 (60% of 30) -> overdose60, not 80; 3 at MTD -> poor
        [3, 3, 12, 6],  # 18 above: not > 18 -> no overdose60 (strict, as R's ">")
        [0, 0, 12, 13],  # 25 above: > 24 -> overdose60 and overdose80
        [3, 27, 0, 0],  # 27 at the MTD: fine
        [3, 6, 0, 0],  # 6 at the MTD: not poor (fewer than 6 is)
    ]
    y = [
        [0, 1, 6, 1],  # 8 / 25 = 0.32 > 0.3 -> high toxicity
        [0, 0, 3, 3],  # 6 / 24 = 0.25
        [0, 0, 4, 5],  # 9 / 25 = 0.36 -> high toxicity
        [0, 9, 0, 0],  # 9 / 30 = 0.30: not above
        [0, 1, 0, 0],
    ]
    out = hand_made(n, y, selected=[1, 1, 2, 1, 1], stopped=[False] * 5)
    oc = operating_characteristics(
        summarize_block(
            out, mtd_indices=(1,), benchmark=np.ones(5, np.int64), target=0.3, max_patients=30
        )
    )
    assert oc["overdose60_pct"] == 40.0  # trials 1 and 3
    assert oc["overdose80_pct"] == 20.0  # trial 3
    assert oc["poor_allocation_pct"] == 60.0  # trials 1, 2 (3 at the MTD) and 3 (none)
    assert oc["high_toxicity_pct"] == 40.0  # trials 1 and 3
    assert np.isclose(oc["se"]["overdose60_pct"], 100 * np.sqrt(0.4 * 0.6 / 5))


def test_two_mtd_levels_count_patients_at_both() -> None:
    out = hand_made([[0, 3, 3, 0]], [[0, 1, 1, 0]], selected=[2], stopped=[False])
    oc = operating_characteristics(
        summarize_block(
            out, mtd_indices=(1, 2), benchmark=np.ones(1, np.int64), target=0.3, max_patients=6
        )
    )
    assert oc["poor_allocation_pct"] == 0.0 and oc["correct_selection_pct"] == 100.0


def test_benchmark_selects_no_dose_when_every_estimate_is_too_toxic() -> None:
    """The benchmark follows the rule that defines the true MTD: no dose when every estimated
    DLT rate (share of the N patients with a DLT there) is above phi2."""
    u = np.linspace(0.005, 0.995, 30)[None, :]  # one patient every 1/30
    probs = np.array([0.5, 0.6, 0.7])
    assert benchmark_selection(u, probs, 0.3, 30, unacceptable=0.42)[0] == -1
    assert benchmark_selection(u, probs, 0.3, 30)[0] == 0  # without the rule: level 1
    # an estimate of 12 / 30 = 0.4 at level 1 is acceptable
    assert benchmark_selection(u, np.array([0.4, 0.6]), 0.3, 30, unacceptable=0.42)[0] == 0


@pytest.mark.parametrize(("ties", "expected"), [("lower", 1), ("higher", 2)])
def test_benchmark_tie_rule_is_an_option(ties: str, expected: int) -> None:
    """Estimates 6/30 = 0.2 and 12/30 = 0.4 around a target of 0.3 are equally close: "lower"
    selects the level below the target, "higher" the level above."""
    u = np.linspace(0.005, 0.995, 30)[None, :]
    probs = np.array([0.1, 0.2, 0.4, 0.6])
    assert benchmark_selection(u, probs, 0.3, 30, ties=ties)[0] == expected  # type: ignore[arg-type]
    # the same rule among levels with the same estimate: below the target the highest, above it
    # the lowest, whichever option
    same_below = np.array([0.1, 0.101, 0.6])  # 3 and 3 of 30: the higher
    same_above = np.array([0.05, 0.45, 0.46])  # 2, 14 and 14 of 30: the lower of the two 14s
    assert benchmark_selection(u, same_below, 0.3, 30, ties=ties)[0] == 1  # type: ignore[arg-type]
    assert benchmark_selection(u, same_above, 0.3, 30, ties=ties)[0] == 1  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ties"):
        benchmark_selection(u, probs, 0.3, 30, ties="middle")  # type: ignore[arg-type]
