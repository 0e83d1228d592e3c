"""The fast 3+3 engine: the generic engine's trials, and the exact operating characteristics.

The independent reference is exact: the probability of selecting each dose under 3+3 and the
expected number of patients per dose, by enumeration of the binomial outcomes of every cohort (a
recursion over the trial's states, written here from R escalation's ``three_plus_three`` and Korn
et al. 1994, not from the engine's code), itself checked against the closed form of Lin & Shih
(2001, Biostatistics 2:203; the traditional A+B design with A = B = 3) for the standard design.
The simulated selection percentages must lie within Monte Carlo error of it; a negative control
shows that the check can fail.
"""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from math import comb

import numpy as np
import pytest

from escalation import StopAtN, ThreePlusThree
from simulations import (
    Conduct,
    DltTime,
    GenericEngine,
    PatientBlock,
    ThreePlusThreeEngine,
    TrialOutcomes,
    choose_engine,
    run_simulation,
)

S1 = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
S2 = np.array([0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
S3 = np.array([0.02, 0.05, 0.1, 0.15, 0.25])

CASES = [
    ("standard", ThreePlusThree(n_doses=6), Conduct(), S1),
    ("deesc", ThreePlusThree(n_doses=6, allow_deescalation=True), Conduct(), S1),
    (
        "deesc-toxic-lost-weibull",
        ThreePlusThree(n_doses=6, allow_deescalation=True),
        Conduct(suspended_arrivals="lost", dlt_time=DltTime(distribution="weibull")),
        S2,
    ),
    (
        "start2-max12-fast-accrual",
        ThreePlusThree(n_doses=5, start_level=2, max_patients=12),
        Conduct(accrual_per_month=5),
        S3,
    ),
    (
        "deesc-safe-doses-top",
        ThreePlusThree(n_doses=5, allow_deescalation=True),
        Conduct(suspended_arrivals="lost"),
        S3,
    ),
]


def assert_same(a: TrialOutcomes, b: TrialOutcomes) -> None:
    for f in fields(TrialOutcomes):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:  # backfill counts, responses: not for every design
            assert x is None and y is None, f"{f.name}: one engine has it, the other not"
            continue
        bad = np.flatnonzero((x != y).reshape(len(x), -1).any(axis=1))
        assert not bad.size, f"{f.name} differs in trials {bad[:10].tolist()}"


@pytest.mark.parametrize(("name", "design", "conduct", "probs"), CASES, ids=[c[0] for c in CASES])
def test_fast_engine_gives_the_generic_engine_s_trials(
    name: str, design: ThreePlusThree, conduct: Conduct, probs: np.ndarray
) -> None:
    """Identical trials on the same simulated patients (common random numbers)."""
    block = PatientBlock(
        seed=2026, scenario_index=0, block_index=0, n_trials=200, capacity=31, conduct=conduct
    )
    engine = ThreePlusThreeEngine()
    assert engine.supports(design, conduct)
    fast = engine.run(design, probs, block, conduct)
    slow = GenericEngine().run(design, probs, block, conduct)
    assert_same(fast, slow)
    total = fast.n_at_dose.sum(axis=1)
    assert fast.stopped_early.any()
    if design.max_patients == 12:
        assert (~fast.stopped_early & (total == 12)).any()  # some trials end at max_patients
    if design.allow_deescalation:  # some trials went down again after 2 DLTs
        assert ((fast.dlt_at_dose >= 2) & (np.arange(probs.size) > 0)).any()
    if conduct.suspended_arrivals == "lost":
        assert fast.lost.sum() > 0
    else:
        assert fast.delay_days.sum() > 0


def test_the_fast_engine_declines_what_it_does_not_implement() -> None:
    engine, c = ThreePlusThreeEngine(), Conduct()
    assert choose_engine(ThreePlusThree(n_doses=4), c).name == "fast-3+3"
    assert not engine.supports(ThreePlusThree(n_doses=4, stagger_days=7), c)
    assert not engine.supports(ThreePlusThree(n_doses=4, stopping=StopAtN(9)), c)
    assert not engine.supports(ThreePlusThree(n_doses=4), Conduct(decision_timing="arrival"))
    assert choose_engine(ThreePlusThree(n_doses=4, stagger_days=7), c).name == "generic"


# ---- the exact operating characteristics ----------------------------------------------------
def _binom(k: int, p: float) -> float:
    return comb(3, k) * p**k * (1 - p) ** (3 - k)


def exact_3p3(probs: tuple[float, ...], deesc: bool) -> tuple[np.ndarray, np.ndarray]:
    """P(select none, dose 1, ..., dose D) and E[patients per dose], by enumeration of every
    cohort's binomial outcome from dose 1 (R escalation's rules, written out here)."""
    d_count = len(probs)

    def korn(n: tuple[int, ...], y: tuple[int, ...]) -> int:
        best = -1
        for i in range(d_count):
            if y[i] >= 2:
                break
            if n[i] >= 6 and y[i] <= 1:
                best = i
        return best

    def verdict(n: tuple[int, ...], y: tuple[int, ...], cur: int) -> tuple[bool, int]:
        """(stop, MTD) or (go on, next dose)."""
        nd, yd = n[cur], y[cur]
        if yd >= 2:
            if not deesc:
                return True, cur - 1
            if cur == 0:
                return True, -1
            if n[cur - 1] < 6:
                return False, cur - 1
            return True, korn(n, y)
        if nd == 3 and yd == 1:
            return False, cur
        # 0 in 3, or at most 1 in 6: escalate if possible
        if cur == d_count - 1 or n[cur + 1] >= 6 or y[cur + 1] >= 2:
            return True, cur
        return False, cur + 1

    @cache
    def after_cohort(
        n: tuple[int, ...], y: tuple[int, ...], cur: int
    ) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Selection probabilities and expected patients from a state where a cohort of 3 is
        about to be treated at ``cur`` (counts so far ``n``, ``y``)."""
        sel = np.zeros(d_count + 1)
        patients = np.zeros(d_count)
        patients[cur] += 3
        for k in range(4):
            w = _binom(k, probs[cur])
            n2 = (*n[:cur], n[cur] + 3, *n[cur + 1 :])
            y2 = (*y[:cur], y[cur] + k, *y[cur + 1 :])
            stop, where = verdict(n2, y2, cur)
            if stop:
                sel[where + 1] += w
            else:
                s, e = after_cohort(n2, y2, where)
                sel += w * np.array(s)
                patients += w * np.array(e)
        return tuple(sel), tuple(patients)

    zeros = (0,) * d_count
    sel, patients = after_cohort(zeros, zeros, 0)
    return np.array(sel), np.array(patients)


def lin_shih_standard(probs: tuple[float, ...]) -> np.ndarray:
    """Lin & Shih (2001), the traditional A+B design with A = B = 3 (the standard 3+3):
    P(escalate from j) = P0 + P1 * Q0 with P0 = P(0/3), P1 = P(1/3), Q0 = P(0/3 more);
    P(MTD = i) = (1 - q_{i+1}) prod_{j <= i} q_j, P(MTD = top) = prod q_j."""
    q = np.array([_binom(0, p) + _binom(1, p) * _binom(0, p) for p in probs])
    out = np.zeros(len(probs) + 1)
    reach = 1.0
    for i, qi in enumerate(q):
        out[i] = reach * (1 - qi)  # stop at dose i + 1 (1-based): MTD is the dose below
        reach *= qi
    out[len(probs)] = reach
    return out


def test_enumeration_is_lin_and_shih_s_closed_form() -> None:
    for probs in (tuple(S1), tuple(S2), tuple(S3)):
        sel, _ = exact_3p3(probs, deesc=False)
        assert sel == pytest.approx(lin_shih_standard(probs), abs=1e-12)
        assert sel.sum() == pytest.approx(1.0, abs=1e-12)
    sel, _ = exact_3p3(tuple(S1), deesc=True)
    assert sel.sum() == pytest.approx(1.0, abs=1e-12)


def _simulate(design: ThreePlusThree, probs: np.ndarray, n_trials: int) -> TrialOutcomes:
    conduct = Conduct()
    block = PatientBlock(
        seed=7, scenario_index=0, block_index=0, n_trials=n_trials, capacity=37, conduct=conduct
    )
    return ThreePlusThreeEngine().run(design, probs, block, conduct)


def _z_scores(out: TrialOutcomes, sel: np.ndarray, patients: np.ndarray) -> np.ndarray:
    n = out.n_trials
    got = np.bincount(out.selected_index + 1, minlength=sel.size) / n
    z_sel = (got - sel) / np.sqrt(np.maximum(sel * (1 - sel), 1e-12) / n)
    n_at = out.n_at_dose
    z_n = (n_at.mean(axis=0) - patients) / (n_at.std(axis=0, ddof=1) / np.sqrt(n) + 1e-12)
    return np.concatenate([z_sel, z_n])


@pytest.mark.parametrize("deesc", [False, True], ids=["standard", "deesc"])
@pytest.mark.parametrize("probs", [S1, S2, S3], ids=["S1", "S2", "S3"])
def test_simulated_selection_is_the_exact_one(deesc: bool, probs: np.ndarray) -> None:
    """20,000 simulated trials against the exact selection probabilities and expected patients per
    dose: every |z| < 4.5 (24 statistics per case, 144 in all)."""
    design = ThreePlusThree(n_doses=probs.size, allow_deescalation=deesc)
    out = _simulate(design, probs, 20_000)
    sel, patients = exact_3p3(tuple(float(p) for p in probs), deesc)
    z = _z_scores(out, sel, patients)
    assert np.abs(z).max() < 4.5, z.round(2)


def test_negative_control_the_check_sees_the_variant() -> None:
    """The same comparison against the other variant's exact values fails: the check can fail."""
    out = _simulate(ThreePlusThree(n_doses=6, allow_deescalation=True), S1, 20_000)
    sel, patients = exact_3p3(tuple(float(p) for p in S1), deesc=False)
    assert np.abs(_z_scores(out, sel, patients)).max() > 10


def test_a_spec_with_method_3p3_runs_on_the_fast_engine() -> None:
    out = run_simulation(
        {
            "designs": [
                {"name": "3+3", "method": "3+3"},
                {"name": "3+3 de-esc", "method": "3+3", "allow_deescalation": True},
            ],
            "scenarios": [{"name": "S3", "true_dlt_probs": S3.tolist()}],
            "trials": 4000,
            "seed": 11,
        }
    )
    for result, deesc in zip(out["results"], (False, True), strict=True):
        assert result["engine"] == "fast-3+3"
        sel, _ = exact_3p3(tuple(float(p) for p in S3), deesc)
        pct = np.array([result["none_pct"], *result["selection_pct"]]) / 100
        se = np.sqrt(sel * (1 - sel) / 4000) + 1e-12
        assert np.abs((pct - sel) / se).max() < 4.5
