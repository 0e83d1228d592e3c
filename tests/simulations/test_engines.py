"""Engines: the fast BOIN and CRM engines give the generic engine's trials, and the calendar's rules."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import escalation
from escalation import BOIN, TITEBOIN, StopAtN, select_isotonic, select_isotonic_batch
from simulations import (
    BOINEngine,
    Conduct,
    DltTime,
    GenericEngine,
    PatientBlock,
    TITEBOINEngine,
    TITECRMEngine,
    TrialOutcomes,
    choose_engine,
)

S1 = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7])
S2 = np.array([0.3, 0.4, 0.5, 0.6, 0.7, 0.8])

CASES = [
    ("default", BOIN(n_doses=6, target=0.3), Conduct(), S1),
    (
        "toxic-lost-weibull-nstop-extrasafe",
        BOIN(n_doses=6, target=0.3, n_stop=9, extra_safe=True),
        Conduct(suspended_arrivals="lost", dlt_time=DltTime(distribution="weibull")),
        S2,
    ),
    (
        "cohort2-start2-boundmtd-fast-accrual",
        BOIN(n_doses=5, target=0.25, cohort_size=2, max_patients=21, bound_mtd=True, start_level=2),
        Conduct(accrual_per_month=5),
        np.array([0.02, 0.05, 0.25, 0.5, 0.6]),
    ),
    (
        "lost-uniform",
        BOIN(n_doses=6, target=0.3, cutoff=0.9),
        Conduct(suspended_arrivals="lost"),
        S1,
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
def test_fast_boin_gives_the_generic_engine_s_trials(
    name: str, design: BOIN, conduct: Conduct, probs: np.ndarray
) -> None:
    """The proof that the fast engine implements the same design: identical trials on the same
    simulated patients (common random numbers), every outcome, every trial."""
    block = PatientBlock(
        seed=2026, scenario_index=0, block_index=0, n_trials=250, capacity=31, conduct=conduct
    )
    assert BOINEngine().supports(design, conduct)
    fast = BOINEngine().run(design, probs, block, conduct)
    slow = GenericEngine().run(design, probs, block, conduct)
    assert_same(fast, slow)
    # the cases do exercise what they are about
    if design.n_stop < 30 or design.extra_safe:
        assert fast.stopped_early.any()
    if conduct.suspended_arrivals == "lost":
        assert fast.lost.sum() > 0 and block.capacity > 31  # extended arrivals were used
    else:
        assert fast.delay_days.sum() > 0


def test_the_fast_engine_declines_what_it_does_not_implement() -> None:
    engine, c = BOINEngine(), Conduct()
    assert not engine.supports(BOIN(n_doses=4, target=0.3, stopping=StopAtN(12)), c)
    assert not engine.supports(BOIN(n_doses=4, target=0.3), Conduct(decision_timing="arrival"))
    tite = TITEBOIN(n_doses=4, target=0.3)
    assert not engine.supports(tite, c)
    assert choose_engine(tite, c).name == "fast-tite-boin"
    assert choose_engine(BOIN(n_doses=4, target=0.3), c).name == "fast-boin"


WEIBULL_LATE = DltTime(distribution="weibull", late_onset_share=0.5)
TITE_BOIN_CASES = [
    # TITEgBOIN's conduct: half of the DLTs late, arrivals lost while accrual is suspended
    (
        "titegboin-lost-weibull",
        TITEBOIN(n_doses=6, target=0.3),
        Conduct(suspended_arrivals="lost", dlt_time=WEIBULL_LATE),
        S1,
    ),
    (
        "wait-weibull-fast-accrual",
        TITEBOIN(n_doses=6, target=0.3),
        Conduct(dlt_time=WEIBULL_LATE, accrual_per_month=4),
        S1,
    ),
    (
        "toxic-lost-nstop-extrasafe",
        TITEBOIN(n_doses=6, target=0.3, n_stop=9, extra_safe=True),
        Conduct(suspended_arrivals="lost", accrual_per_month=6, dlt_time=WEIBULL_LATE),
        S2,
    ),
    (
        "cohort2-start2-boundmtd-maxpending-wait",
        TITEBOIN(
            n_doses=5,
            target=0.25,
            cohort_size=2,
            max_patients=21,
            start_level=2,
            bound_mtd=True,
            max_pending=0.34,
        ),
        Conduct(
            accrual_per_month=5, dlt_time=DltTime(distribution="weibull", late_onset_share=0.8)
        ),
        np.array([0.02, 0.05, 0.25, 0.5, 0.6]),
    ),
]


@pytest.mark.parametrize(
    ("name", "design", "conduct", "probs"), TITE_BOIN_CASES, ids=[c[0] for c in TITE_BOIN_CASES]
)
def test_fast_tite_boin_gives_the_generic_engine_s_trials(
    name: str, design: TITEBOIN, conduct: Conduct, probs: np.ndarray
) -> None:
    """Decisions at every arrival with pending patients, accrual suspended (patients lost or
    waiting), late-onset DLTs: the same trials as the generic engine, every outcome, every trial."""
    block = PatientBlock(
        seed=2027, scenario_index=0, block_index=0, n_trials=200, capacity=31, conduct=conduct
    )
    assert TITEBOINEngine().supports(design, conduct)
    fast = TITEBOINEngine().run(design, probs, block, conduct)
    assert_same(fast, GenericEngine().run(design, probs, block, conduct))
    # the cases do exercise what they are about
    if conduct.suspended_arrivals == "lost":
        assert fast.lost.sum() > 0
    else:
        assert fast.delay_days.sum() > 0  # suspended accrual delays the next cohort
    if design.n_stop < 30 or design.extra_safe:
        assert fast.stopped_early.any()


def test_the_fast_tite_boin_engine_declines_what_it_does_not_implement() -> None:
    engine, c = TITEBOINEngine(), Conduct()
    assert not engine.supports(TITEBOIN(n_doses=4, target=0.3, stopping=StopAtN(12)), c)
    assert not engine.supports(TITEBOIN(n_doses=4, target=0.3, stagger_days=7), c)
    assert not engine.supports(TITEBOIN(n_doses=4, target=0.3), Conduct(decision_timing="complete"))
    assert not engine.supports(BOIN(n_doses=4, target=0.3), c)


pair = st.tuples(st.integers(0, 12), st.integers(0, 12)).map(lambda t: (t[0], min(t[1], t[0])))
# one to six trials over the same doses
trials_counts = st.lists(pair, min_size=2, max_size=7).flatmap(
    lambda first: st.lists(
        st.lists(pair, min_size=len(first), max_size=len(first)), min_size=0, max_size=5
    ).map(lambda rest: [first, *rest])
)


@settings(max_examples=60, deadline=None)
@given(
    data=trials_counts,
    extra=st.booleans(),
    bound=st.booleans(),
    cutoff=st.sampled_from([0.95, 0.9]),
)
def test_batch_selection_is_select_isotonic(
    data: list[list[tuple[int, int]]], extra: bool, bound: bool, cutoff: float
) -> None:
    """Several trials in one batch (repeated ones too), each against the one-trial selection."""
    trials = [*data, data[0]]
    n = np.array([[a for a, _ in trial] for trial in trials])
    y = np.array([[b for _, b in trial] for trial in trials])
    options = {"target": 0.3, "cutoff": cutoff, "extra_safe": extra, "bound_mtd": bound}
    got = select_isotonic_batch(n, y, **options)  # type: ignore[arg-type]
    assert got.shape == (len(trials),)
    for t in range(len(trials)):
        expected = select_isotonic(n[t], y[t], **options).dose_index  # type: ignore[arg-type]
        assert got[t] == (-1 if expected is None else expected)


def test_batch_selection_on_every_trial_of_a_simulation() -> None:
    """10,000 simulated final counts (many pools, ties and eliminations), against R's rule."""
    conduct = Conduct()
    block = PatientBlock(
        seed=1, scenario_index=0, block_index=0, n_trials=10_000, capacity=31, conduct=conduct
    )
    for probs in (S1, S2, np.array([0.25, 0.3, 0.35, 0.4, 0.45, 0.5])):
        out = BOINEngine().run(BOIN(n_doses=6, target=0.3), probs, block, conduct)
        _, first = np.unique(
            np.concatenate([out.n_at_dose, out.dlt_at_dose], axis=1), axis=0, return_index=True
        )
        for t in first:
            sel = select_isotonic(out.n_at_dose[t], out.dlt_at_dose[t], target=0.3).dose_index
            assert out.selected_index[t] == (-1 if sel is None else sel), t


def test_designs_that_wait_delay_the_next_cohort_and_tite_designs_do_not() -> None:
    conduct = Conduct(accrual_per_month=4)
    block = PatientBlock(
        seed=4, scenario_index=0, block_index=0, n_trials=40, capacity=31, conduct=conduct
    )
    boin = GenericEngine().run(BOIN(n_doses=6, target=0.3), S1, block, conduct)
    assert np.all(boin.delay_days[boin.n_at_dose.sum(axis=1) > 3] > 0)
    tite = GenericEngine().run(TITEBOIN(n_doses=6, target=0.3), S1, block, conduct)
    # accrual is suspended only when more than half the patients at a dose are pending
    assert tite.duration_days.mean() < boin.duration_days.mean()


def test_the_duration_is_the_end_of_the_last_window() -> None:
    conduct = Conduct()
    block = PatientBlock(
        seed=8, scenario_index=0, block_index=0, n_trials=30, capacity=31, conduct=conduct
    )
    out = GenericEngine().run(BOIN(n_doses=6, target=0.3), S1, block, conduct)
    # 10 cohorts, each waiting for the previous one's windows: at least 9 full windows
    full = out.n_at_dose.sum(axis=1) == 30
    assert np.all(out.duration_days[full] >= 9 * 30 + 30)
    assert np.all(out.duration_days[full] >= block.arrival_day[full, 29] + 30)


def test_lost_patients_are_counted_and_never_treated() -> None:
    conduct = Conduct(suspended_arrivals="lost", accrual_per_month=6)
    block = PatientBlock(
        seed=3, scenario_index=0, block_index=0, n_trials=50, capacity=31, conduct=conduct
    )
    out = GenericEngine().run(BOIN(n_doses=6, target=0.3), S1, block, conduct)
    assert out.lost.mean() > 10  # six a month, each cohort waits a month
    assert np.all(out.n_at_dose.sum(axis=1) <= 30)


SKELETON = (0.1225, 0.204, 0.3, 0.4018, 0.5013, 0.5928)
CRM_CASES = [
    ("dfcrm-crmsim", dict(target=0.3, skeleton=SKELETON, prior_sd=1.1576), Conduct(), S1),
    (
        "logistic-nstop-startup-maxstep-lost",
        dict(
            target=0.25,
            skeleton=SKELETON,
            model="logistic",
            n_stop=12,
            startup=True,
            max_step=1,
            coherence=False,
        ),
        Conduct(suspended_arrivals="lost"),
        S2,
    ),
    (
        "cohort2-start3",
        dict(target=0.2, skeleton=SKELETON[:5], cohort_size=2, max_patients=20, start_level=3),
        Conduct(dlt_time=DltTime(distribution="weibull", late_onset_share=0.7)),
        np.array([0.02, 0.05, 0.1, 0.2, 0.4]),
    ),
]


CRM_SAFETY_CASES = [
    # the default CRM: the safety stop on Pr(p_1 > target) > 0.90 with 3 patients at level 1
    (
        "default-safety-stop-toxic",
        dict(target=0.3, skeleton=SKELETON),
        Conduct(),
        np.array([0.45, 0.55, 0.65, 0.75, 0.8, 0.85]),
    ),
    # the prior alone puts Pr(p_d > 0.3) at 0.5 and above from level 3 on: overdose control acts
    # from the first outcome on, so the trial starts at level 3 as the protocol says
    (
        "safety-0.8-overdose-control-0.45-start3-lost",
        dict(
            target=0.3,
            skeleton=SKELETON,
            safety_stop_prob=0.8,
            overdose_control=0.45,
            start_level=3,
        ),
        Conduct(suspended_arrivals="lost"),
        np.array([0.2, 0.35, 0.45, 0.6, 0.7, 0.8]),
    ),
    (
        "overdose-control-logistic-nstop-startup-cohort2",
        dict(
            target=0.25,
            skeleton=SKELETON[:5],
            model="logistic",
            overdose_control=0.55,
            n_stop=8,
            startup=True,
            cohort_size=2,
            max_patients=24,
        ),
        Conduct(dlt_time=DltTime(distribution="weibull")),
        np.array([0.15, 0.3, 0.45, 0.6, 0.75]),
    ),
    # the prior alone puts Pr(p_1 > 0.3) at 0.315 > 0.25: the trial still starts at level 1
    # (overdose control acts from the first outcome on)
    (
        "overdose-control-0.25-starts-at-level-1",
        dict(target=0.3, skeleton=SKELETON, overdose_control=0.25),
        Conduct(),
        S1,
    ),
]


def _crm(probs: np.ndarray, options: dict[str, object]) -> escalation.CRM:
    return escalation.CRM(n_doses=probs.size, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "options", "conduct", "probs"), CRM_CASES, ids=[c[0] for c in CRM_CASES]
)
def test_fast_crm_gives_the_generic_engine_s_trials(
    name: str, options: dict[str, object], conduct: Conduct, probs: np.ndarray
) -> None:
    from simulations import CRMEngine

    design = _crm(probs, {"safety_stop_prob": None} | options)  # dfcrm's crmsim has no stop
    block = PatientBlock(
        seed=11, scenario_index=0, block_index=0, n_trials=60, capacity=31, conduct=conduct
    )
    assert CRMEngine().supports(design, conduct)
    assert_same(
        CRMEngine().run(design, probs, block, conduct),
        GenericEngine().run(design, probs, block, conduct),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "options", "conduct", "probs"),
    CRM_SAFETY_CASES,
    ids=[c[0] for c in CRM_SAFETY_CASES],
)
def test_fast_crm_with_safety_stop_and_overdose_control_gives_the_generic_engine_s_trials(
    name: str, options: dict[str, object], conduct: Conduct, probs: np.ndarray
) -> None:
    """The rules on the model's Pr(p_d > target): the batch's tail probabilities in the fast
    engine, the single decision's in the design."""
    from simulations import CRMEngine

    design = _crm(probs, options)
    block = PatientBlock(
        seed=23, scenario_index=0, block_index=0, n_trials=80, capacity=31, conduct=conduct
    )
    assert CRMEngine().supports(design, conduct)
    fast = CRMEngine().run(design, probs, block, conduct)
    assert_same(fast, GenericEngine().run(design, probs, block, conduct))
    # the cases do exercise the rules: without them, other trials
    without = _crm(probs, options | {"safety_stop_prob": None, "overdose_control": None})
    plain = CRMEngine().run(without, probs, block, conduct)
    changed = (fast.n_at_dose != plain.n_at_dose).any(axis=1) | (
        fast.selected_index != plain.selected_index
    )
    assert changed.any()
    if design.safety_stop_prob is not None:
        safety_stopped = fast.stopped_early & (fast.selected_index == -1)
        assert safety_stopped.any()


def test_default_crm_runs_on_the_fast_engine() -> None:
    design = escalation.CRM(n_doses=6, target=0.3, skeleton=SKELETON)
    assert design.safety_stop_prob is not None
    assert choose_engine(design, Conduct()).name == "fast-crm"
    controlled = escalation.CRM(n_doses=6, target=0.3, skeleton=SKELETON, overdose_control=0.25)
    assert choose_engine(controlled, Conduct()).name == "fast-crm"


def test_the_fast_crm_engine_declines_what_it_does_not_implement() -> None:
    from simulations import CRMEngine

    engine, c = CRMEngine(), Conduct()
    extra_rule = escalation.CRM(n_doses=6, target=0.3, skeleton=SKELETON, stopping=StopAtN(12))
    assert not engine.supports(extra_rule, c)
    assert choose_engine(extra_rule, c).name == "generic"
    tite = escalation.TITECRM(n_doses=6, target=0.3, skeleton=SKELETON)
    assert not engine.supports(tite, c)
    design = escalation.CRM(n_doses=6, target=0.3, skeleton=SKELETON)
    assert not engine.supports(design, Conduct(decision_timing="arrival"))


TITE_CRM_CASES = [
    # the default TITE-CRM (safety stop on): half of the DLTs late, TITEgBOIN's conduct
    (
        "default-lost-weibull",
        dict(target=0.3, skeleton=SKELETON),
        Conduct(suspended_arrivals="lost", dlt_time=WEIBULL_LATE),
        S1,
    ),
    # toxic: the safety stop acts on the weighted posterior
    (
        "default-toxic-fast-accrual",
        dict(target=0.3, skeleton=SKELETON),
        Conduct(dlt_time=WEIBULL_LATE, accrual_per_month=4),
        np.array([0.45, 0.55, 0.65, 0.75, 0.8, 0.85]),
    ),
    (
        "logistic-nstop-startup-maxstep-mincomplete2",
        dict(
            target=0.25,
            skeleton=SKELETON,
            model="logistic",
            n_stop=12,
            startup=True,
            max_step=1,
            coherence=False,
            escalation_min_complete=2,
        ),
        Conduct(accrual_per_month=6, dlt_time=WEIBULL_LATE),
        S2,
    ),
    (
        "overdose-control-cohort2-start2-safety0.8",
        dict(
            target=0.25,
            skeleton=SKELETON[:5],
            model="logistic",
            overdose_control=0.55,
            n_stop=8,
            cohort_size=2,
            max_patients=24,
            safety_stop_prob=0.8,
            start_level=2,
        ),
        Conduct(accrual_per_month=5),
        np.array([0.15, 0.3, 0.45, 0.6, 0.75]),
    ),
]


@pytest.mark.parametrize(
    ("name", "options", "conduct", "probs"), TITE_CRM_CASES, ids=[c[0] for c in TITE_CRM_CASES]
)
def test_fast_tite_crm_gives_the_generic_engine_s_trials(
    name: str, options: dict[str, object], conduct: Conduct, probs: np.ndarray
) -> None:
    """Weighted posteriors at every arrival (pending patients by their follow-up), late-onset DLTs,
    the safety stop and overdose control on the weighted posterior: the same trials."""
    design = escalation.TITECRM(n_doses=probs.size, **options)  # type: ignore[arg-type]
    block = PatientBlock(
        seed=29, scenario_index=0, block_index=0, n_trials=100, capacity=31, conduct=conduct
    )
    assert TITECRMEngine().supports(design, conduct)
    fast = TITECRMEngine().run(design, probs, block, conduct)
    assert_same(fast, GenericEngine().run(design, probs, block, conduct))
    if design.safety_stop_prob is not None and probs[0] > design.target:
        assert (fast.stopped_early & (fast.selected_index == -1)).any()
    if design.n_stop is not None:
        assert fast.stopped_early.any()


def test_the_fast_tite_crm_engine_declines_what_it_does_not_implement() -> None:
    engine, c = TITECRMEngine(), Conduct()
    design = escalation.TITECRM(n_doses=6, target=0.3, skeleton=SKELETON)
    assert engine.supports(design, c)
    assert choose_engine(design, c).name == "fast-tite-crm"
    adaptive = escalation.TITECRM(n_doses=6, target=0.3, skeleton=SKELETON, weights="adaptive")
    assert not engine.supports(adaptive, c)
    assert choose_engine(adaptive, c).name == "generic"
    extra = escalation.TITECRM(n_doses=6, target=0.3, skeleton=SKELETON, stopping=StopAtN(12))
    assert not engine.supports(extra, c)
    assert not engine.supports(design, Conduct(decision_timing="complete"))
    assert not engine.supports(escalation.CRM(n_doses=6, target=0.3, skeleton=SKELETON), c)


AMOUNTS = (0.125e6, 0.25e6, 0.5e6, 1e6, 2e6, 4e6)
BLRM_CASES = [
    # the scenario: Weibull DLT times, half of them late; arrivals lost while suspended
    (
        "default-weibull-lost",
        dict(target=0.3),
        Conduct(suspended_arrivals="lost", dlt_time=DltTime(distribution="weibull")),
        S1,
    ),
    # toxic doses: overdose control stops trials; start at level 2, tight escalation
    (
        "toxic-start2-step1.5-cutoff0.3-min9",
        dict(target=0.25, start_level=2, max_step=1.5, overdose_cutoff=0.3, min_at_mtd=9),
        Conduct(),
        np.array([0.2, 0.35, 0.5, 0.6, 0.7, 0.8]),
    ),
    (
        "cohort2-weak-prior-top-reference",
        dict(
            target=0.25,
            cohort_size=2,
            max_patients=20,
            prior={"mean": [-1.0986122886681098, 0.0], "sd": [2.0, 1.0], "corr": 0.0},
            reference_dose=4e6,
        ),
        Conduct(accrual_per_month=4),
        np.array([0.02, 0.05, 0.1, 0.2, 0.35, 0.5]),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "options", "conduct", "probs"), BLRM_CASES, ids=[c[0] for c in BLRM_CASES]
)
def test_fast_blrm_gives_the_generic_engine_s_trials(
    name: str, options: dict[str, object], conduct: Conduct, probs: np.ndarray
) -> None:
    """Posteriors shared by trials in the same state, computed many states at once: the same
    trials as the design's own decisions on the same patients."""
    from simulations import BLRMEngine

    design = escalation.BLRM(n_doses=6, dose_amounts=AMOUNTS, **options)  # type: ignore[arg-type]
    block = PatientBlock(
        seed=2027, scenario_index=0, block_index=0, n_trials=80, capacity=31, conduct=conduct
    )
    engine = BLRMEngine()
    assert engine.supports(design, conduct)
    fast = engine.run(design, probs, block, conduct)
    assert_same(fast, GenericEngine().run(design, probs, block, conduct))
    assert engine.last_states < 80 * 11  # trials in the same state share a posterior
    if name.startswith("toxic"):
        assert fast.stopped_early.any() and (fast.selected_index == -1).any()


def test_the_fast_blrm_engine_declines_what_it_does_not_implement() -> None:
    from simulations import BLRMEngine

    engine, c = BLRMEngine(), Conduct()
    blrm = escalation.BLRM
    assert choose_engine(blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS), c).name == "fast-blrm"
    for design in (
        blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS, tite_weights=True),
        blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS, engine="mcmc"),
        blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS, stopping=StopAtN(12)),
        blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS, stagger_days=7),
    ):
        assert not engine.supports(design, c)
        assert choose_engine(design, c).name == "generic"
    assert not engine.supports(
        blrm(n_doses=6, target=0.3, dose_amounts=AMOUNTS), Conduct(decision_timing="arrival")
    )
