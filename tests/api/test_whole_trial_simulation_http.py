"""Whole-trial simulation specs over HTTP (issue 12, point 7): the service accepts what the harness
accepts -- it validates a posted spec with the harness's own validator (``simulations:parse_spec``),
and its OpenAPI schema states the same fields (checked here against the harness's key lists, so
that neither can gain a field alone). A whole-trial spec (backfill, uniform accrual, response
probabilities, an expansion stage with a scenario's own truth) posted over HTTP returns what
``run_simulation`` returns on the same spec; a bad one is 422 naming each field."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from api import bounds, schemas
from escalation import backfill as backfill_module
from simulations import expansion as expansion_module
from simulations import run_simulation
from simulations import spec as spec_module
from tests.api.conftest import Api
from tests.api.test_jobs import submit, wait_for

REPO = Path(__file__).resolve().parents[2]

WHOLE: dict[str, Any] = {
    "designs": [
        {
            "name": "BF-BOIN",
            "method": "boin",
            "target": 0.25,
            "max_patients": 18,
            "n_stop": 9,
            "backfill": {"max_per_dose": 12, "min_responses": 1, "assign": "highest"},
        },
        {"name": "BOIN", "method": "boin", "target": 0.25, "max_patients": 18},
    ],
    "scenarios": [
        {
            "name": "MTD at 3",
            "true_dlt_probs": [0.05, 0.1, 0.25, 0.45],
            "true_response_probs": [0.2, 0.3, 0.4, 0.45],
            "expansion": {"AAV": {"true_dlt_probs": [0.3, 0.4, 0.5, 0.6]}},
        }
    ],
    "accrual_per_month": 3,
    "accrual": "uniform",
    "dlt_time": {"distribution": "weibull", "late_onset_share": 0.5},
    "suspended_arrivals": "lost",
    "expansion": {
        "max_per_indication": 8,
        "monitoring": {"p0": 0.25, "alpha": 0.1, "prior": [0.5, 1.5]},
        "indications": [
            {"name": "SLE", "accrual_per_month": 1.0},
            {"name": "AAV", "accrual_per_month": 0.5},
        ],
    },
    "benchmark_ties": "higher",
    "unacceptable_ratio": 1.5,
    "trials": 30,
    "seed": 2024,
}


def properties(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


@pytest.mark.parametrize(
    ("model", "keys"),
    [
        (schemas.SimulationSpecIn, spec_module._KEYS),
        (schemas.ScenarioIn, spec_module._SCENARIO_KEYS),
        (schemas.ScenarioIndicationIn, spec_module._TRUTH_KEYS),
        (schemas.RandomScenarioBlockIn, spec_module._RANDOM_KEYS),
        (schemas.ExpansionStageIn, expansion_module._KEYS),
        (schemas.IndicationStageIn, expansion_module._INDICATION_KEYS),
        (bounds.ExpansionMonitoringIn, expansion_module._MONITORING_KEYS),
        (bounds.BackfillIn, backfill_module._KEYS),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else "",
)
def test_the_schema_states_the_harness_s_fields(model: type[BaseModel], keys: Any) -> None:
    assert properties(model) == set(keys)


def test_every_design_entry_has_the_backfill_option_where_the_design_has_it() -> None:
    from escalation import DESIGNS

    entries = schemas.SimulationSpecIn.model_json_schema()["$defs"]
    for method, cls in DESIGNS.items():
        name = "DesignEntry" + "".join(p.capitalize() for p in method.replace("+", "p").split("-"))
        has = "backfill" in cls.option_names()  # type: ignore[attr-defined]
        assert ("backfill" in entries[name]["properties"]) == has, method


@pytest.mark.parametrize(
    "path",
    sorted((REPO / "simulations" / "examples").glob("*.json")),
    ids=lambda p: p.name,
)
def test_the_example_specs_are_valid_for_the_schema_and_the_harness(path: Path) -> None:
    spec = json.loads(path.read_text())
    schemas.SimulationSpecIn.model_validate(spec)
    spec_module.parse_spec(spec)


def test_the_whole_trial_spec_is_valid_for_the_schema() -> None:
    schemas.SimulationSpecIn.model_validate(WHOLE)
    spec_module.parse_spec(WHOLE)


def test_a_whole_trial_simulation_over_http_returns_the_harness_s_results(api: Api) -> None:
    done = wait_for(api, submit(api, WHOLE)["id"])
    assert done["status"] == "succeeded", done["error"]
    direct = run_simulation(WHOLE)
    assert done["result"]["results"] == direct["results"]  # same seed, same numbers
    assert done["result"]["spec"] == direct["spec"]
    bf, boin = done["result"]["results"]
    assert [r["indication"] for r in bf["expansion_indications"]] == ["SLE", "AAV"]
    assert set(bf["patients_by_cohort_mean"]) == {"escalation", "backfill", "expansion"}
    assert set(boin["patients_by_cohort_mean"]) == {"escalation", "expansion"}
    assert done["result"]["spec"]["accrual"] == "uniform"
    assert done["result"]["spec"]["scenarios"][0]["expansion"] == WHOLE["scenarios"][0]["expansion"]


def test_a_bad_whole_trial_spec_is_422_naming_each_field(api: Api) -> None:
    spec = copy.deepcopy(WHOLE)
    spec["designs"][0]["backfill"]["max_per_dose"] = 0
    spec["designs"][0]["backfill"]["assign"] = "middle"
    spec["accrual"] = "steady"
    spec["expansion"]["indications"][0]["accrual_per_month"] = 0
    spec["expansion"]["monitoring"]["p0"] = 1.2
    spec["scenarios"][0]["expansion"]["IIM"] = {"true_dlt_probs": [0.1, 0.2, 0.3, 0.4]}
    with api.client("statistician") as c:
        r = c.post("/v1/simulations", json=spec)
        listed = c.get("/v1/simulations", params={"limit": 500}).json()["items"]
    assert r.status_code == 422, r.text
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields >= {
        "designs[0].backfill.max_per_dose",
        "designs[0].backfill.assign",
        "accrual",
        "expansion.indications[0].accrual_per_month",
        "expansion.monitoring.p0",
    }, fields
    # the indication check needs a valid stage: alone, it is named too
    alone = copy.deepcopy(WHOLE)
    alone["scenarios"][0]["expansion"]["IIM"] = {"true_dlt_probs": [0.1, 0.2, 0.3, 0.4]}
    with api.client("statistician") as c:
        r = c.post("/v1/simulations", json=alone)
        after = c.get("/v1/simulations", params={"limit": 500}).json()["items"]
    assert r.status_code == 422
    assert [p["field"] for p in r.json()["problems"]] == ["scenarios[0].expansion.IIM"]
    assert len(after) == len(listed)  # nothing queued
