"""The whole trial in simulations (issue 12, point 6): the expansion stage per indication after
escalation, its toxicity monitoring, the final selection on all the data.

The simulated probability that the monitoring rule stops an indication's cohort is checked against
the rule's exact operating characteristics (dynamic programming over (n, DLTs), themselves checked
against R's stoppingrule in tests/models), within Monte Carlo error: an independent second method.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest

from escalation import BOIN, ToxicityMonitor
from simulations import InvalidSpecError, run_simulation
from simulations.engines.base import TrialOutcomes
from simulations.expansion import ExpansionStage, IndicationStage, simulate_expansion
from simulations.patients import Conduct

MONITORING = {"p0": 0.2, "alpha": 0.1, "prior": [0.6, 2.4]}
SPEC: dict[str, Any] = {
    "design": {"method": "boin", "target": 0.3, "max_patients": 12},
    "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
    "trials": 200,
    "seed": 11,
    "expansion": {
        "max_per_indication": 10,
        "monitoring": MONITORING,
        "indications": [
            {"name": "SLE", "accrual_per_month": 1.0},
            {"name": "AAV", "accrual_per_month": 0.5, "true_dlt_probs": [0.1, 0.3, 0.5, 0.7]},
        ],
    },
}


def stage(timing: str, rates: tuple[float, float] = (1.0, 1.0)) -> ExpansionStage:
    return ExpansionStage(
        indications=(
            IndicationStage(name="SLE", accrual_per_month=rates[0], true_dlt_probs=(0.2,)),
            IndicationStage(name="AAV", accrual_per_month=rates[1], true_dlt_probs=(0.45,)),
        ),
        max_per_indication=10,
        p0=0.2,
        alpha=0.1,
        prior=(0.6, 2.4),
        dose_levels=None,
        timing=timing,  # type: ignore[arg-type]
    )


def escalated(n_trials: int) -> TrialOutcomes:
    """Escalations of one dose level that all selected it (6 patients, no DLT, 200 days)."""
    return TrialOutcomes(
        selected_index=np.zeros(n_trials, dtype=np.int64),
        n_at_dose=np.full((n_trials, 1), 6, dtype=np.int64),
        dlt_at_dose=np.zeros((n_trials, 1), dtype=np.int64),
        stopped_early=np.zeros(n_trials, dtype=np.bool_),
        duration_days=np.full(n_trials, 200, dtype=np.int64),
        delay_days=np.zeros(n_trials, dtype=np.int64),
        lost=np.zeros(n_trials, dtype=np.int64),
        last_index=np.zeros(n_trials, dtype=np.int64),
    )


def run_stage(the_stage: ExpansionStage, n_trials: int, seed: int = 3) -> Any:
    return simulate_expansion(
        the_stage,
        BOIN(n_doses=1, target=0.3),
        (0.2,),
        escalated(n_trials),
        Conduct(),
        seed=seed,
        scenario_index=0,
        block_index=0,
    )


@pytest.mark.slow
def test_stop_probability_agrees_with_the_exact_operating_characteristics() -> None:
    # timing "complete": patients one at a time, in order, as the dynamic programming assumes
    n_trials = 2000
    whole = run_stage(stage("complete"), n_trials)
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=10)
    for i, p in enumerate((0.2, 0.45)):
        oc = monitor.operating_characteristics(p)
        stop = whole.stop_toxicity[:, i].mean()
        se = math.sqrt(oc.stop_prob * (1 - oc.stop_prob) / n_trials)
        assert abs(stop - oc.stop_prob) < 4 * se, (p, stop, oc.stop_prob)
        n = whole.n_expansion[:, i]
        assert abs(n.mean() - oc.expected_n) < 4 * n.std() / math.sqrt(n_trials)
        y = whole.dlt_expansion[:, i]
        assert abs(y.mean() - oc.expected_events) < 4 * y.std() / math.sqrt(n_trials)
    # the two indications differ: the negative control (0.45 is not 0.2's stop probability)
    assert whole.stop_toxicity[:, 1].mean() > 3 * monitor.operating_characteristics(0.2).stop_prob


@pytest.mark.slow
def test_slow_accrual_on_arrival_behaves_as_sequential_and_fast_accrual_treats_more() -> None:
    n_trials = 800
    slow = run_stage(stage("arrival", rates=(0.02, 0.02)), n_trials)
    sequential = run_stage(stage("complete"), n_trials)
    # a mean gap of 1,500 days: almost never a patient pending when the next arrives
    for i in range(2):
        a, b = slow.stop_toxicity[:, i].mean(), sequential.stop_toxicity[:, i].mean()
        assert abs(a - b) < 4 * math.sqrt((a * (1 - a) + b * (1 - b)) / n_trials)
    fast = run_stage(stage("arrival", rates=(20.0, 20.0)), 300)
    # 20 a month arrive inside one another's windows: patients are treated before the rule stops
    assert fast.n_expansion[:, 1].mean() > sequential.n_expansion[:, 1].mean() + 1


def test_expansion_patients_and_duration_add_up() -> None:
    whole = run_stage(stage("arrival"), 200)
    assert (whole.n_expansion <= 10).all()
    assert (whole.n_all_at_dose[:, 0] == 6 + whole.n_expansion.sum(axis=1)).all()
    assert (whole.duration_days >= 200 + 30).all()
    assert whole.expanded.all()


def test_run_simulation_reports_the_whole_trial() -> None:
    out = run_simulation(SPEC)
    r = out["results"][0]
    assert r["expansion_pct"] == pytest.approx(100 - r["none_pct"])
    assert [row["indication"] for row in r["expansion_indications"]] == ["SLE", "AAV"]
    by_cohort = r["patients_by_cohort_mean"]
    assert by_cohort["escalation"] == r["n_mean"]
    assert r["n_total_mean"] == pytest.approx(by_cohort["escalation"] + by_cohort["expansion"])
    assert r["n_total_mean"] == pytest.approx(
        sum(row["patients_mean"] for row in r["expansion_indications"]) + r["n_mean"]
    )
    assert r["duration_total_mean_days"] > r["duration_mean_days"]
    assert sum(r["final_selection_pct"]) + r["final_none_pct"] == pytest.approx(100)
    # the expansion's DLTs move the final selection (AAV's rates are those of the next level up)
    assert r["final_selection_pct"] != r["selection_pct"]
    # AAV is more toxic: its cohorts stop more often
    sle, aav = r["expansion_indications"]
    assert aav["stop_toxicity_pct"] > sle["stop_toxicity_pct"]
    assert set(r["se"]["expansion_indications"][0]) == set(sle)
    assert out["spec"]["expansion"]["dose_levels"] == "selected"


def test_the_whole_trial_depends_on_the_seed_only_not_on_the_engine_or_parts() -> None:
    fast = run_simulation(SPEC)["results"][0]
    spec = copy.deepcopy(SPEC)
    spec["design"]["engine"] = "generic"  # trials simulated in parts of 100, one at a time
    generic = run_simulation(spec)["results"][0]
    assert generic["engine"] == "generic" and fast["engine"] == "fast-boin"
    for key in ("expansion_indications", "final_selection_pct", "duration_total_mean_days"):
        assert generic[key] == fast[key], key
    again = copy.deepcopy(SPEC)
    again["seed"] = 12
    assert (
        run_simulation(again)["results"][0]["expansion_indications"]
        != (fast["expansion_indications"])
    )


def test_expansion_at_given_levels() -> None:
    spec = copy.deepcopy(SPEC)
    spec["expansion"]["dose_levels"] = [1, 2]
    r = run_simulation(spec)["results"][0]
    # two cohorts per indication: up to 20 patients each
    assert max(row["patients_mean"] for row in r["expansion_indications"]) > 10


def test_the_spec_names_every_problem_of_the_expansion_block() -> None:
    spec = copy.deepcopy(SPEC)
    spec["expansion"] |= {"dose_levels": [0, 2, 2], "timing": "later", "extra": 1}
    spec["expansion"]["monitoring"] = {"p0": 1.5, "alpha": 0.1}
    spec["expansion"]["indications"][1]["true_dlt_probs"] = [0.1, 0.2]
    spec["expansion"]["indications"].append({"name": "SLE", "accrual_per_month": 1})
    with pytest.raises(InvalidSpecError) as e:
        run_simulation(spec)
    fields = {p.field for p in e.value.problems}
    assert fields == {
        "expansion.dose_levels[0]",
        "expansion.dose_levels[2]",
        "expansion.timing",
        "expansion.extra",
        "expansion.monitoring.prior",
        "expansion.indications[1].true_dlt_probs",
        "expansion.indications[2].name",
    }


@pytest.mark.slow
def test_futility_stop_probability_agrees_with_the_exact_bop2_operating_characteristics() -> None:
    from escalation import FutilityRule

    rule = FutilityRule(response_null=0.2, looks=(4, 7, 10), lambda_=0.9, gamma=1.0)
    futile_stage = ExpansionStage(
        indications=(
            IndicationStage(
                name="SLE", accrual_per_month=1.0, true_dlt_probs=(0.0,), true_response_probs=(0.2,)
            ),
            IndicationStage(
                name="AAV", accrual_per_month=3.0, true_dlt_probs=(0.0,), true_response_probs=(0.4,)
            ),
        ),
        max_per_indication=10,
        p0=0.2,
        alpha=0.1,
        prior=(0.6, 2.4),
        timing="complete",
        futility=rule,
    )
    n_trials = 1500
    whole = run_stage(futile_stage, n_trials, seed=5)
    assert not whole.stop_toxicity.any()  # no DLT at all
    for i, q in enumerate((0.2, 0.4)):
        oc = rule.operating_characteristics(q)
        futile = 1 - oc.go_prob
        se = math.sqrt(futile * (1 - futile) / n_trials)
        assert abs(whole.stop_futility[:, i].mean() - futile) < 4 * se, (q, futile)
        n = whole.n_expansion[:, i]
        assert abs(n.mean() - oc.expected_n) < 4 * n.std() / math.sqrt(n_trials)


def test_run_simulation_reports_futility_stops() -> None:
    spec = copy.deepcopy(SPEC)
    spec["expansion"]["futility"] = {"response_null": 0.2, "looks": [5], "lambda": 0.9, "gamma": 1}
    spec["expansion"]["indications"][0]["true_response_probs"] = [0.1, 0.1, 0.1, 0.1]
    spec["expansion"]["indications"][1]["true_response_probs"] = [0.5, 0.5, 0.5, 0.5]
    out = run_simulation(spec)
    sle, aav = out["results"][0]["expansion_indications"]
    assert sle["stop_futility_pct"] > 50 > aav["stop_futility_pct"]
    assert out["spec"]["expansion"]["futility"]["looks"] == [5, 10]
    del spec["expansion"]["indications"][1]["true_response_probs"]
    with pytest.raises(InvalidSpecError) as e:
        run_simulation(spec)
    assert [p.field for p in e.value.problems] == ["expansion.indications[1].true_response_probs"]


def test_the_simulation_s_futility_check_is_the_rule_s() -> None:
    from escalation import FutilityRule
    from simulations.expansion import _futile

    rule = FutilityRule(response_null=0.3, looks=(3, 6, 9), lambda_=0.8, gamma=0.5)
    rng = np.random.default_rng(1)
    for _ in range(300):
        responses = list(rng.random(int(rng.integers(0, 10))) < 0.3)
        assert _futile(rule, responses) == rule.check(responses).futile


def test_csv_and_html_report_show_the_whole_trial(tmp_path: Any) -> None:
    from simulations.report import csv_rows, write_report

    spec = copy.deepcopy(SPEC)
    spec["trials"] = 50
    spec["design"]["engine"] = "generic"
    spec["expansion"]["dose_levels"] = [2]
    results = run_simulation(spec)
    header, rows = csv_rows(results["results"])
    for key in ("expansion_pct", "final_correct_selection_pct", "stop_toxicity_pct_AAV"):
        assert key in header and rows[0][key] != ""
    assert "se_stop_toxicity_pct_SLE" in header and "stop_futility_pct_SLE" not in header
    page = write_report(results, tmp_path).read_text()
    assert "Toxicity stop %" in page and "Whole duration (days)" in page


def test_the_whole_trial_counts_backfill_patients_apart() -> None:
    """With a backfilling design, the patients by cohort type are escalation, backfill and
    expansion, and they add up to the whole trial's patients."""
    spec = copy.deepcopy(SPEC)
    spec["design"] = {
        "method": "boin",
        "target": 0.3,
        "max_patients": 12,
        "backfill": {"min_responses": 0, "max_per_dose": 6},
    }
    spec["trials"] = 60
    r = run_simulation(spec)["results"][0]
    by_cohort = r["patients_by_cohort_mean"]
    assert set(by_cohort) == {"escalation", "backfill", "expansion"}
    assert by_cohort["backfill"] > 0
    assert by_cohort["escalation"] == r["escalation_mean"]
    assert by_cohort["escalation"] + by_cohort["backfill"] == pytest.approx(r["n_mean"])
    assert r["n_total_mean"] == pytest.approx(sum(by_cohort.values()))
