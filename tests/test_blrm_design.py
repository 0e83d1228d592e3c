"""The BLRM design with overdose control: options, decision rules, selection, pending patients,
the engines, and the EWOC property over random data."""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escalation import Action, Patient, RuleKind, TrialData
from escalation.designs import blrm as blrm_design_module
from escalation.designs.blrm import BLRM
from escalation.errors import ConvergenceWarning, InvalidDesignError
from escalation.models.blrm import QUANTILE_LEVELS, BLRMPrior, blrm_posterior
from tests.strategies import trial_data
from tests.test_conformance import check_decision

AMOUNTS = (0.25e6, 0.5e6, 1.0e6, 2.0e6, 4.0e6)  # CAR+ T cells/kg


def make(amounts: tuple[float, ...] = AMOUNTS, **options: object) -> BLRM:
    return BLRM(n_doses=len(amounts), target=0.25, dose_amounts=amounts, **options)  # type: ignore[arg-type]


def counts(n: list[int], y: list[int], current: int) -> TrialData:
    return TrialData.from_counts(n, y, current_level=current)


def triggered(decision: object, label_start: str) -> bool:
    return any(r.triggered and r.label.startswith(label_start) for r in decision.rules)  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# options


def test_options_are_the_document_block_with_documented_defaults() -> None:
    design = make()
    names = BLRM.option_names()
    assert "dose_amounts" not in names and "prior" in names and "tite_weights" in names
    assert BLRM.uses_dose_amounts is True
    opts = design.options()
    assert opts["method"] == "blrm"
    assert opts["target_interval"] == [0.16, 0.33]
    assert opts["overdose_cutoff"] == 0.25 and opts["max_step"] == 2.0 and opts["min_at_mtd"] == 6
    assert opts["engine"] == "grid" and opts["tite_weights"] is False
    # default: the middle of the dose range on the log scale, sqrt(0.25e6 x 4e6)
    assert opts["reference_dose"] == pytest.approx(1.0e6, rel=1e-12)
    logit_target = math.log(0.25 / 0.75)
    assert opts["prior"] == {
        "mean": [pytest.approx(logit_target), 0.0],
        "sd": [1.5, 0.5],
        "corr": 0.0,
    }
    json.dumps(opts)
    rebuilt = BLRM(
        n_doses=5, dose_amounts=AMOUNTS, **{k: v for k, v in opts.items() if k != "method"}
    )
    assert rebuilt == design and hash(rebuilt) == hash(design)
    assert make(prior={"mean": [-1.0, 0.0], "sd": [2, 1]}) != design


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dose_amounts": ()}, "doses"),
        ({"dose_amounts": (1.0, 2.0)}, "design.dose_amounts"),
        ({"dose_amounts": (1.0, 3.0, 2.0, 4.0, 5.0)}, "doses"),
        ({"target": 0.4}, "design.target"),
        ({"target_interval": (0.3, 0.2)}, "design.target_interval"),
        ({"overdose_cutoff": 1.0}, "design.overdose_cutoff"),
        ({"max_step": 0.5}, "design.max_step"),
        ({"min_at_mtd": 0}, "design.min_at_mtd"),
        ({"prior": {"mean": [0, 0], "sd": [0, 1]}}, "design.prior.sd"),
        ({"reference_dose": -1.0}, "design.reference_dose"),
        ({"engine": "stan"}, "design.engine"),
        ({"seed": -1}, "design.seed"),
        ({"tite_weights": "adaptive"}, "design.tite_weights"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, object], field: str) -> None:
    kwargs: dict[str, object] = {"n_doses": 5, "target": 0.25, "dose_amounts": AMOUNTS}
    kwargs.update(options)
    with pytest.raises(InvalidDesignError) as err:
        BLRM(**kwargs)  # type: ignore[arg-type]
    assert field in [p.field for p in err.value.problems]


def test_every_bad_option_is_reported_at_once() -> None:
    with pytest.raises(InvalidDesignError) as err:
        make(overdose_cutoff=2.0, max_step=0.1, prior={"mean": [0, 0], "sd": [1, 1], "corr": 3})
    fields = {p.field for p in err.value.problems}
    assert {"design.overdose_cutoff", "design.max_step", "design.prior.corr"} <= fields


# ---------------------------------------------------------------------------------------------
# decisions


def test_decision_is_the_eligible_dose_with_the_highest_target_probability() -> None:
    design = make()
    data = counts([3, 3, 6, 6, 0], [0, 0, 1, 1, 0], current=4)
    post = blrm_posterior(
        AMOUNTS,
        reference_dose=1.0e6,
        prior=BLRMPrior.centred_at_mtd(0.25),
        n_at_dose=[3, 3, 6, 6, 0],
        dlt_at_dose=[0, 0, 1, 1, 0],
    )
    eligible = np.flatnonzero(post.prob_overdose < 0.25)
    expected = int(eligible[np.argmax(post.prob_target[eligible])]) + 1
    decision = design.decide(data)
    assert decision.next_level == expected
    assert decision.admissible == tuple(int(i) + 1 for i in eligible)
    assert not triggered(decision, "NoSkipping") and not triggered(decision, "MaxAmountStep")
    for d, est in enumerate(decision.doses):
        assert est.estimate == pytest.approx(post.prob_tox_median[d], abs=1e-12)  # the median
        assert est.prob_tox_mean == pytest.approx(post.prob_tox_mean[d], abs=1e-12)
        assert est.prob_tox_interval == pytest.approx(tuple(post.prob_tox_interval[d]), abs=1e-12)
        assert est.prob_overdose == pytest.approx(post.prob_overdose[d], abs=1e-12)
    diag = decision.diagnostics
    assert diag["final"] is True
    assert diag["prob_target"] == pytest.approx(list(post.prob_target), abs=1e-12)
    assert diag["prob_underdose"] == pytest.approx(list(post.prob_underdose), abs=1e-12)


def test_decision_carries_what_a_plot_needs_as_json() -> None:
    decision = make().decide(counts([3, 3, 3, 0, 0], [0, 0, 1, 0, 0], current=3))
    diag = decision.diagnostics
    assert diag["quantile_levels"] == list(QUANTILE_LEVELS) == [0.025, 0.25, 0.5, 0.75, 0.975]
    quantiles = np.array(diag["quantiles"])
    assert quantiles.shape == (5, 5) and np.all(np.diff(quantiles, axis=1) > 0)
    total = np.add.reduce([diag["prob_underdose"], diag["prob_target"], diag["prob_overdose"]])
    np.testing.assert_allclose(total, 1.0, atol=1e-12)
    assert diag["dose_amounts"] == list(AMOUNTS) and diag["target_interval"] == [0.16, 0.33]
    assert decision.model is not None and set(decision.model) >= {"log_alpha_mean", "log_beta_mean"}
    json.dumps({"diagnostics": diag, "model": dict(decision.model)})


#: the former default prior (sd 2 at the highest dose), whose model asks for large steps: the
#: dose-change limits are tested with it
EAGER = {
    "prior": BLRMPrior.weakly_informative(0.25).as_dict(),
}


def test_no_skipping_of_untried_doses() -> None:
    design = make(max_step=100.0, reference_dose=AMOUNTS[-1], **EAGER)
    data = counts([3, 0, 0, 0, 0], [0, 0, 0, 0, 0], current=1)
    fit = design.fit(data)
    assert fit.proposed_index >= 2  # the model alone would skip dose level 2
    decision = design.decide(data)
    assert decision.action is Action.ESCALATE and decision.next_level == 2
    assert triggered(decision, "NoSkipping")


@pytest.mark.parametrize(("max_step", "expected"), [(2.0, 2), (4.0, 3)])
def test_max_step_limits_the_amount(max_step: float, expected: int) -> None:
    amounts = (1e6, 2e6, 8e6, 16e6)
    design = make(amounts, max_step=max_step, reference_dose=amounts[-1], **EAGER)
    data = counts([6, 6, 0, 0], [0, 0, 0, 0], current=2)
    assert design.fit(data).proposed_index >= 2  # the model asks for level 3 or above
    decision = design.decide(data)
    assert decision.next_level == expected
    assert triggered(decision, "MaxAmountStep") is (expected == 2)


def test_stop_when_no_dose_is_eligible() -> None:
    design = make()
    decision = design.decide(counts([3, 0, 0, 0, 0], [3, 0, 0, 0, 0], current=1))
    assert decision.action is Action.STOP and decision.next_level is None
    assert decision.eliminated == (1, 2, 3, 4, 5)
    assert triggered(decision, "OverdoseControl")
    assert decision.selection is not None and decision.selection.dose_level is None
    assert "no tolerable dose" in decision.selection.reason


def test_overdose_control_excludes_doses_and_de_escalates() -> None:
    design = make()
    decision = design.decide(counts([3, 3, 3, 0, 0], [0, 0, 2, 0, 0], current=3))
    over = [d.prob_overdose for d in decision.doses]
    assert decision.action is Action.DEESCALATE
    assert all(over[lvl - 1] >= 0.25 for lvl in decision.eliminated)
    assert all(over[lvl - 1] < 0.25 for lvl in decision.admissible)
    assert 3 in decision.eliminated


def test_the_prior_alone_decides_the_first_dose_within_the_limits() -> None:
    design = make(start_level=2)
    decision = design.decide(TrialData(n_doses=5))
    assert decision.action is Action.STAY and decision.next_level == 2  # start, not skip ahead
    assert decision.reason.startswith("Start at dose level 2")


def test_max_patients_stops_the_trial() -> None:
    design = make(max_patients=12)
    decision = design.decide(counts([3, 3, 6, 0, 0], [0, 0, 1, 0, 0], current=3))
    assert decision.action is Action.STOP
    assert decision.selection is not None and decision.selection.dose_level == 3


# ---------------------------------------------------------------------------------------------
# final selection


def test_selection_needs_min_at_mtd_patients() -> None:
    data = counts([3, 3, 3, 3, 0], [0, 0, 0, 1, 0], current=4)
    assert make().select(data).dose_level is None  # nobody has 6 patients
    selection = make(min_at_mtd=3).select(data)
    post = make().posterior(data)
    eligible = np.flatnonzero(post.prob_overdose < 0.25)
    best = int(eligible[np.argmax(post.prob_target[eligible])]) + 1
    assert selection.dose_level == best
    assert selection.estimates == pytest.approx(tuple(post.prob_tox_median), abs=1e-12)
    assert not selection.provisional


def test_selection_among_doses_with_enough_patients() -> None:
    data = counts([6, 6, 3, 0, 0], [0, 1, 0, 0, 0], current=3)
    post = make().posterior(data)
    n = np.array([6, 6, 3, 0, 0])
    ok = np.flatnonzero((post.prob_overdose < 0.25) & (n >= 6))
    expected = int(ok[np.argmax(post.prob_target[ok])]) + 1
    selection = make().select(data)
    assert selection.dose_level == expected
    assert selection.rules and selection.rules[0].kind is RuleKind.SELECTION


# ---------------------------------------------------------------------------------------------
# pending patients


def _pending_data() -> TrialData:
    complete = [Patient(patient_id=f"C{i}", dose_level=1 + i // 3, infused_day=0) for i in range(6)]
    pending = [
        Patient(patient_id="P1", dose_level=2, infused_day=70),  # 20 of 30 days
        Patient(patient_id="P2", dose_level=2, infused_day=85),  # 5 of 30 days
        Patient(patient_id="W1", dose_level=2, infused_day=40, withdrawn_day=52),  # 12 days
        Patient(patient_id="D1", dose_level=2, infused_day=80, dlt=True, dlt_day=84),
    ]
    return TrialData(n_doses=5, patients=(*complete, *pending), as_of_day=90)


def test_without_tite_pending_patients_make_the_decision_wait() -> None:
    data = _pending_data()
    decision = make().decide(data)
    assert decision.action is Action.WAIT and decision.wait_until_day == 85 + 30
    expected = blrm_posterior(
        AMOUNTS,
        reference_dose=1.0e6,
        prior=BLRMPrior.centred_at_mtd(0.25),
        n_at_dose=[3, 4, 0, 0, 0],  # complete patients only: the DLT counts, pending do not
        dlt_at_dose=[0, 1, 0, 0, 0],
    )
    assert decision.diagnostics["prob_overdose"] == pytest.approx(list(expected.prob_overdose))


@pytest.mark.parametrize("tite", [True, "linear"])
def test_tite_weights_pending_and_withdrawn_follow_up(tite: object) -> None:
    data = _pending_data()
    decision = make(tite_weights=tite).decide(data)
    assert decision.action is not Action.WAIT
    expected = blrm_posterior(
        AMOUNTS,
        reference_dose=1.0e6,
        prior=BLRMPrior.centred_at_mtd(0.25),
        n_at_dose=[3, 4, 0, 0, 0],
        dlt_at_dose=[0, 1, 0, 0, 0],
        partial_dose=[1, 1, 1],
        partial_weight=[20 / 30, 5 / 30, 12 / 30],  # TITE-CRM's linear weights
    )
    assert decision.diagnostics["prob_overdose"] == pytest.approx(list(expected.prob_overdose))
    waiting = make().decide(data).diagnostics["prob_overdose"]
    # three more patients without a DLT so far: less overdose probability at every dose
    assert all(a < b for a, b in zip(decision.diagnostics["prob_overdose"], waiting, strict=True))


# ---------------------------------------------------------------------------------------------
# properties over random data


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=trial_data(),
    cutoff=st.sampled_from([0.1, 0.25, 0.4]),
    tite=st.booleans(),
    max_step=st.sampled_from([1.5, 2.0, 10.0]),
)
def test_no_recommended_dose_has_overdose_probability_at_or_above_the_cutoff(
    data: TrialData, cutoff: float, tite: bool, max_step: float
) -> None:
    amounts = tuple(0.25e6 * 2.0**i for i in range(data.n_doses))
    design = make(amounts, overdose_cutoff=cutoff, tite_weights=tite, max_step=max_step)
    decision = design.decide(data)
    check_decision(decision, data)
    over = design.posterior(data).prob_overdose
    if decision.next_level is not None:
        # overdose control acts from the first known outcome on (before it, the protocol's start)
        if data.summary.n_complete.sum() > 0:
            assert over[decision.next_level - 1] < cutoff
        tried = np.flatnonzero(data.summary.n_treated > 0)
        if tried.size:
            assert amounts[decision.next_level - 1] <= max_step * amounts[int(tried[-1])] * (
                1 + 1e-12
            )
    selection = design.select(data)
    if selection.dose_level is not None:
        assert over[selection.dose_level - 1] < cutoff
    assert (
        make(amounts, overdose_cutoff=cutoff, tite_weights=tite, max_step=max_step).decide(data)
        == decision
    )  # deterministic


# ---------------------------------------------------------------------------------------------
# the MCMC engine behind the design


def test_mcmc_engine_decision_reports_its_diagnostics() -> None:
    data = counts([3, 3, 3, 0, 0], [0, 0, 1, 0, 0], current=3)
    decision = make(engine="mcmc", seed=7).decide(data)
    grid = make().decide(data)
    diag = decision.diagnostics
    assert diag["final"] is True and diag["engine"] == "mcmc"
    post = diag["posterior"]
    assert post["chains"] == 4 and post["draws"] == 1000 and post["seed"] == 7
    assert set(post["rhat"]) == {"log_alpha", "log_beta"}
    assert max(post["rhat"].values()) <= 1.01 and post["divergences"] == 0
    assert min(post["ess_bulk"].values()) >= 400 and min(post["ess_tail"].values()) >= 400
    np.testing.assert_allclose(diag["prob_overdose"], grid.diagnostics["prob_overdose"], atol=0.05)
    assert "not final" not in decision.reason


def test_failed_mcmc_diagnostics_mark_the_decision_not_final(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    short = functools.partial(blrm_posterior, draws=25, tune=25)
    monkeypatch.setattr(blrm_design_module, "blrm_posterior", short)
    design = make(engine="mcmc", seed=2)
    data = counts([3, 3, 0, 0, 0], [0, 0, 0, 0, 0], current=2)
    with pytest.warns(ConvergenceWarning):
        decision = design.decide(data)
    assert decision.diagnostics["final"] is False
    assert "not final" in decision.reason
    with pytest.warns(ConvergenceWarning):
        selection = design.select(data)
    assert selection.provisional and "not final" in selection.reason


def test_design_is_a_frozen_value() -> None:
    design = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        design.engine = "mcmc"  # type: ignore[misc]
