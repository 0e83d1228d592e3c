"""A scenario's own truth in the expansion stage (issue 12, point 6): a scenario may override an
indication's true DLT and response probabilities; the stage's values stay the default.

The override is checked against the stage-level value it replaces: a spec whose scenario overrides
an indication gives, trial for trial (same seed, common random numbers), what the spec with that
value written in the stage gives; the other scenarios and indications are untouched.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from escalation import BOIN, ToxicityMonitor
from simulations import InvalidSpecError, run_simulation
from simulations.expansion import ExpansionStage, IndicationStage
from simulations.scenarios import IndicationTruth, Scenario
from simulations.spec import SimulationSpec, parse_spec
from tests.simulations.test_expansion import SPEC as BASE_SPEC

TOXIC = [0.5, 0.6, 0.7, 0.8]
#: test_expansion's whole-trial spec with a second scenario
SPEC: dict[str, Any] = copy.deepcopy(BASE_SPEC) | {
    "scenarios": [
        {"name": "S1", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]},
        {"name": "S2", "true_dlt_probs": [0.1, 0.3, 0.45, 0.6]},
    ],
}


def rows(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["scenario"]: r for r in out["results"]}


def test_a_scenario_s_truth_replaces_the_stage_s_for_that_scenario_only() -> None:
    base = rows(run_simulation(SPEC))
    spec = copy.deepcopy(SPEC)
    spec["scenarios"][0]["expansion"] = {"SLE": {"true_dlt_probs": TOXIC}}
    over = rows(run_simulation(spec))
    # the same spec with the value in the stage, for S1 alone: trial for trial the same
    in_stage = copy.deepcopy(SPEC)
    in_stage["scenarios"] = in_stage["scenarios"][:1]
    in_stage["expansion"]["indications"][0]["true_dlt_probs"] = TOXIC
    reference = rows(run_simulation(in_stage))["S1"]
    for key in ("expansion_indications", "final_selection_pct", "duration_total_mean_days"):
        assert over["S1"][key] == reference[key], key
        assert over["S2"][key] == base["S2"][key], key  # another scenario: untouched
    sle, aav = over["S1"]["expansion_indications"]
    assert aav == base["S1"]["expansion_indications"][1]  # another indication: untouched
    assert sle["stop_toxicity_pct"] > base["S1"]["expansion_indications"][0]["stop_toxicity_pct"]


def test_an_overridden_indication_stops_as_the_rule_s_exact_characteristics_say() -> None:
    """Expansion at level 1 with a true DLT rate of 0.45 there (the scenario's truth, not the
    stage's 0.05): the share of cohorts stopped is the rule's exact stop probability at 0.45 (the
    ``complete`` timing: outcomes one at a time, as the dynamic programme assumes)."""
    spec = copy.deepcopy(SPEC)
    spec["scenarios"] = [
        {
            "name": "S1",
            "true_dlt_probs": [0.05, 0.15, 0.3, 0.5],
            "expansion": {"SLE": {"true_dlt_probs": [0.45, 0.5, 0.6, 0.7]}},
        }
    ]
    spec["expansion"] |= {"dose_levels": [1], "timing": "complete"}
    spec["expansion"]["indications"] = [
        {"name": "SLE", "accrual_per_month": 1.0, "true_dlt_probs": [0.05, 0.1, 0.2, 0.3]}
    ]
    spec["trials"] = 800
    r = run_simulation(spec)["results"][0]
    expanded = r["expansion_pct"] / 100
    monitor = ToxicityMonitor(p0=0.2, alpha=0.1, prior=(0.6, 2.4), max_n=10)
    oc = monitor.operating_characteristics(0.45)
    expected = 100 * expanded * oc.stop_prob  # percent of all trials
    n = spec["trials"]
    se = 100 * math.sqrt(expected / 100 * (1 - expected / 100) / n)
    assert abs(r["expansion_indications"][0]["stop_toxicity_pct"] - expected) < 4 * se


def test_response_truths_in_every_scenario_satisfy_a_futility_rule() -> None:
    spec = copy.deepcopy(SPEC)
    spec["expansion"]["futility"] = {"response_null": 0.2, "looks": [5], "lambda": 0.9, "gamma": 1}
    spec["expansion"]["indications"][1]["true_response_probs"] = [0.5, 0.5, 0.5, 0.5]
    for scenario, q in zip(spec["scenarios"], (0.05, 0.6), strict=True):
        scenario["expansion"] = {"SLE": {"true_response_probs": [q] * 4}}
    out = rows(run_simulation(spec))
    low = out["S1"]["expansion_indications"][0]["stop_futility_pct"]
    high = out["S2"]["expansion_indications"][0]["stop_futility_pct"]
    assert low > 50 > high
    # the futility rule needs the responses of SLE in every scenario (or in the stage)
    del spec["scenarios"][1]["expansion"]
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert [p.field for p in e.value.problems] == ["expansion.indications[0].true_response_probs"]


def test_every_problem_of_a_scenario_s_truth_is_named() -> None:
    spec = copy.deepcopy(SPEC)
    spec["scenarios"][0]["expansion"] = {
        "SSc": {"true_dlt_probs": [0.1, 0.2, 0.3, 0.4]},
        "SLE": {"true_dlt_probs": [0.1, 0.2], "true_response_probs": [0.1, 1.5, 0, 0], "x": 1},
        "AAV": [0.1],
    }
    spec["scenarios"][1]["expansion"] = []  # an empty object {} would take the stage's values
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    assert {p.field for p in e.value.problems} == {
        "scenarios[0].expansion.SSc",
        "scenarios[0].expansion.SLE.true_dlt_probs",
        "scenarios[0].expansion.SLE.true_response_probs[1]",
        "scenarios[0].expansion.SLE.x",
        "scenarios[0].expansion.AAV",
        "scenarios[1].expansion",
    }
    # a truth for an expansion stage the spec does not have
    no_stage = copy.deepcopy(SPEC)
    del no_stage["expansion"]
    no_stage["scenarios"][0]["expansion"] = {"SLE": {"true_dlt_probs": TOXIC}}
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(no_stage)
    assert [p.field for p in e.value.problems] == ["scenarios[0].expansion"]


def test_the_scenario_s_truth_round_trips_through_the_spec_json() -> None:
    spec = copy.deepcopy(SPEC)
    spec["scenarios"][0]["expansion"] = {"SLE": {"true_dlt_probs": TOXIC}}
    parsed = parse_spec(spec)
    echoed = parsed.as_json()
    assert echoed["scenarios"][0]["expansion"] == {"SLE": {"true_dlt_probs": TOXIC}}
    assert "expansion" not in echoed["scenarios"][1]
    assert parse_spec(echoed).scenarios == parsed.scenarios
    stage = parsed.expansion
    assert stage is not None
    s1 = stage.for_scenario(parsed.scenarios[0])
    assert s1.indications[0].true_dlt_probs == tuple(TOXIC)
    assert s1.indications[1] == stage.indications[1]
    assert stage.for_scenario(parsed.scenarios[1]) is stage


def test_from_objects_checks_a_scenario_s_truth() -> None:
    stage = ExpansionStage(
        indications=(IndicationStage(name="SLE", accrual_per_month=1.0),),
        max_per_indication=10,
        p0=0.2,
        alpha=0.1,
        prior=(0.6, 2.4),
    )
    scenario = Scenario(
        name="S1",
        true_dlt_probs=(0.1, 0.3),
        expansion=(("AAV", IndicationTruth(true_dlt_probs=(0.1, 0.2, 0.3))),),
    )
    design = {"BOIN": BOIN(n_doses=2, target=0.3)}
    with pytest.raises(InvalidSpecError) as e:
        SimulationSpec.from_objects(
            designs=design, scenarios=[scenario], trials=10, seed=1, expansion=stage
        )
    assert {p.field for p in e.value.problems} == {
        "scenarios[0].expansion.AAV",
        "scenarios[0].expansion.AAV.true_dlt_probs",
    }
    with pytest.raises(InvalidSpecError) as e:
        SimulationSpec.from_objects(designs=design, scenarios=[scenario], trials=10, seed=1)
    assert [p.field for p in e.value.problems] == ["scenarios[0].expansion"]


def test_an_invalid_scenario_does_not_add_a_futility_problem_of_its_own() -> None:
    """With a futility rule and SLE's responses in every scenario, one invalid scenario is named
    alone: the stage is not also asked for SLE's responses (whether that scenario gives them is
    unknown)."""
    spec = copy.deepcopy(SPEC)
    spec["expansion"]["futility"] = {"response_null": 0.2, "looks": [5], "lambda": 0.9, "gamma": 1}
    spec["expansion"]["indications"][1]["true_response_probs"] = [0.5, 0.5, 0.5, 0.5]
    for scenario in spec["scenarios"]:
        scenario["expansion"] = {"SLE": {"true_response_probs": [0.3] * 4}}
    spec["scenarios"][0]["true_dlt_probs"] = [0.05, 1.5, 0.3, 0.5]
    with pytest.raises(InvalidSpecError) as e:
        parse_spec(spec)
    fields = [p.field for p in e.value.problems]
    assert "expansion.indications[0].true_response_probs" not in fields
    assert any(f.startswith("scenarios[0].true_dlt_probs") for f in fields)
