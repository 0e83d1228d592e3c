"""Operating characteristics and their standard errors, against direct computations."""

from __future__ import annotations

import numpy as np

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
    oc = operating_characteristics(summarize_block(out, mtd_indices=(1,), benchmark=bench))
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
                outcomes(rng, 400), mtd_indices=(1,), benchmark=np.zeros(400, dtype=np.int64)
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
    one = summarize_block(whole, mtd_indices=(2,), benchmark=bench)
    two = summarize_block(a, mtd_indices=(2,), benchmark=bench[:500]) + summarize_block(
        b, mtd_indices=(2,), benchmark=bench[500:]
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
