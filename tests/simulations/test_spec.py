"""The simulation specification: defaults, and every invalid field named."""

from __future__ import annotations

from typing import Any

import pytest

from simulations import InvalidSpecError, parse_spec


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "design": {"method": "boin", "target": 0.3},
        "scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 0.2, 0.3, 0.5]}],
        "trials": 100,
        "seed": 1,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def fields_of(value: Any) -> set[str]:
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(value)
    return {p.field for p in err.value.problems}


def test_defaults_are_the_issue_s() -> None:
    s = parse_spec(spec())
    c = s.conduct
    assert (c.accrual_per_month, c.dlt_window_days, c.suspended_arrivals) == (2.0, 30, "wait")
    assert c.dlt_time.distribution == "uniform"
    assert s.designs[0].name == "boin"  # a single design is named by its method
    assert s.as_json()["designs"][0]["cutoff"] == 0.95  # the echo has every default


def test_a_seed_is_drawn_and_recorded_when_absent() -> None:
    a, b = parse_spec(spec(seed=None)), parse_spec(spec(seed=None))
    assert a.seed != b.seed
    assert a.as_json()["seed"] == a.seed


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"scenarios": [{"name": "S1", "true_dlt_probs": [0.1, 1.2]}]},
            "scenarios[0].true_dlt_probs[1]",
        ),
        (
            {"scenarios": [{"name": "S1", "true_dlt_probs": [-0.1, 0.2]}]},
            "scenarios[0].true_dlt_probs[0]",
        ),
        ({"scenarios": []}, "scenarios"),
        ({"scenarios": None}, "scenarios"),
        ({"trials": 0}, "trials"),
        ({"trials": 2.5}, "trials"),
        ({"design": {"method": "nope", "target": 0.3}}, "design.method"),
        ({"design": {"method": "boin", "target": 1.3}}, "design.target"),
        ({"design": None}, "designs"),
        ({"accrual_per_month": 0}, "accrual_per_month"),
        (
            {"dlt_time": {"distribution": "weibull", "late_onset_share": 1.0}},
            "dlt_time.late_onset_share",
        ),
        ({"dlt_time": {"distribution": "gamma"}}, "dlt_time.distribution"),
        ({"suspended_arrivals": "queue"}, "suspended_arrivals"),
        ({"decision_timing": "never"}, "decision_timing"),
        ({"dlt_window_days": 0}, "dlt_window_days"),
        ({"seed": -1}, "seed"),
        ({"colour": "red"}, "colour"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_each_problem_names_its_field(changes: dict[str, Any], field: str) -> None:
    value = spec(**{k: v for k, v in changes.items() if v is not None})
    for k, v in changes.items():
        if v is None:
            value.pop(k, None)
    assert field in fields_of(value)


def test_every_problem_is_reported_at_once() -> None:
    got = fields_of(
        spec(trials=0, scenarios=[{"name": "S1", "true_dlt_probs": [2.0]}], accrual_per_month=-1)
    )
    assert {"trials", "scenarios[0].true_dlt_probs[0]", "accrual_per_month"} <= got


def test_designs_need_unique_names_and_design_errors_name_the_entry() -> None:
    two = {"name": "A", "method": "boin", "target": 0.3}
    assert "designs[1].name" in fields_of(spec(design=None, designs=[two, dict(two)]))
    assert "designs[1].phi2" in fields_of(
        spec(
            design=None, designs=[two, {"name": "B", "method": "boin", "target": 0.3, "phi2": 0.2}]
        )
    )


def test_design_and_designs_together_are_rejected() -> None:
    assert "designs" in fields_of(spec(designs=[{"name": "A", "method": "boin", "target": 0.3}]))


def test_a_forced_engine_must_support_the_design() -> None:
    assert "design.engine" in fields_of(
        spec(
            design={"method": "boin", "target": 0.3, "engine": "fast-boin"},
            decision_timing="arrival",
        )
    )
    assert "design.engine" in fields_of(
        spec(design={"method": "boin", "target": 0.3, "engine": "warp"})
    )


def test_random_scenarios_are_generated_from_the_seed() -> None:
    random = {"random": {"generator": "pseudo-uniform", "count": 5, "target": 0.3, "levels": 4}}
    a, b = parse_spec(spec(scenarios=random)), parse_spec(spec(scenarios=random))
    assert [s.true_dlt_probs for s in a.scenarios] == [s.true_dlt_probs for s in b.scenarios]
    c = parse_spec(spec(scenarios=random, seed=2))
    assert [s.true_dlt_probs for s in a.scenarios] != [s.true_dlt_probs for s in c.scenarios]
    assert a.as_json()["scenarios"] == random


@pytest.mark.parametrize(
    ("block", "field"),
    [
        (
            {"generator": "flat", "count": 5, "target": 0.3, "levels": 4},
            "scenarios.random.generator",
        ),
        (
            {"generator": "pseudo-uniform", "count": 0, "target": 0.3, "levels": 4},
            "scenarios.random.count",
        ),
        (
            {"generator": "pseudo-uniform", "count": 5, "target": 1.3, "levels": 4},
            "scenarios.random.target",
        ),
        (
            {"generator": "pseudo-uniform", "count": 5, "target": 0.3, "levels": 0},
            "scenarios.random.levels",
        ),
        (
            {"generator": "pseudo-uniform", "count": 5, "target": 0.3, "levels": 4, "gap": 0.1},
            "scenarios.random.gap",
        ),
        (
            {"generator": "probit-gap", "count": 5, "target": 0.3, "levels": 4, "gap": 2},
            "scenarios.random.gap",
        ),
        (
            {"generator": "liu-yuan", "count": 5, "target": 0.3, "levels": 4, "gap": 0.1},
            "scenarios.random.gap",
        ),
        (
            {"generator": "liu-yuan", "count": 5, "target": 0.3, "levels": 4, "mu": -1},
            "scenarios.random.mu",
        ),
        (
            {"generator": "probit-gap", "count": 5, "target": 0.3, "levels": 4, "mu": 0.5},
            "scenarios.random.mu",
        ),
    ],
)
def test_random_scenario_problems_name_their_field(block: dict[str, Any], field: str) -> None:
    assert field in fields_of(spec(scenarios={"random": block}))


def test_blrm_simulates_with_dose_amounts() -> None:
    """BLRM models the dose amounts: the spec gives them, and the design is simulated."""
    from simulations import run_simulation

    spec = {
        "designs": [{"name": "BLRM", "method": "blrm", "target": 0.25, "max_patients": 9}],
        "dose_amounts": [0.25e6, 0.5e6, 1e6, 2e6],
        "scenarios": [{"name": "s", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
        "trials": 6,
        "seed": 3,
    }
    first, second = run_simulation(spec), run_simulation(spec)
    (row,) = first["results"]
    assert row["design"] == "BLRM"
    assert sum(row["selection_pct"]) + row["none_pct"] == pytest.approx(100)
    assert first["results"] == second["results"]  # the seed decides everything


@pytest.mark.parametrize(
    ("amounts", "message"),
    [([1, 2], "scenario"), ([2, 1, 3, 4], "increasing"), (None, "doses[0].amount")],
)
def test_dose_amounts_are_validated(amounts: object, message: str) -> None:
    spec: dict[str, Any] = {
        "design": {"method": "blrm", "target": 0.25},
        "scenarios": [{"true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
        "trials": 5,
    }
    if amounts is not None:
        spec["dose_amounts"] = amounts
    with pytest.raises(InvalidSpecError) as err:
        parse_spec(spec)
    assert any(message in f"{p.field} {p.message}" for p in err.value.problems)


def test_liu_yuan_takes_mu_and_the_spec_keeps_it() -> None:
    block = {"generator": "liu-yuan", "count": 50, "target": 0.3, "levels": 5}
    easy = parse_spec(spec(scenarios={"random": block}))
    hard = parse_spec(spec(scenarios={"random": block | {"mu": 0.38}}))
    assert hard.as_json()["scenarios"]["random"]["mu"] == 0.38
    assert easy.scenarios != hard.scenarios


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"benchmark_ties": "middle"}, "benchmark_ties"),
        ({"unacceptable_ratio": 0.5}, "unacceptable_ratio"),
        ({"unacceptable_ratio": "1.4"}, "unacceptable_ratio"),
    ],
)
def test_benchmark_options_are_checked(changes: dict[str, Any], field: str) -> None:
    assert field in fields_of(spec(**changes))


def test_benchmark_options_default_and_round_trip() -> None:
    parsed = parse_spec(spec())
    assert (parsed.benchmark_ties, parsed.unacceptable_ratio) == ("lower", 1.4)
    again = parse_spec(spec(benchmark_ties="higher", unacceptable_ratio=1.5)).as_json()
    assert (again["benchmark_ties"], again["unacceptable_ratio"]) == ("higher", 1.5)
