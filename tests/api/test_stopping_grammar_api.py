"""The stopping-rule expression over HTTP: a trial's design block with ``stopping`` gets the
library's answers, stored and shown resolved; a bad rule is a 422 naming its field path."""

from __future__ import annotations

import copy
from typing import Any

from escalation import decision_to_json, parse_document
from tests.api.conftest import Api, make_trial

STOPPING = {
    "any": [
        {"max_patients": 18, "label": "sample size"},
        {"all": [{"n_at_dose": 6, "dose": "recommended"}, {"demand_n_at_dose": 9, "dose": "any"}]},
        {"too_toxic": {"level": 1, "threshold": 0.35, "confidence": 0.8}},
    ]
}


def test_a_trial_with_a_stopping_expression_over_http(api: Api, example: dict[str, Any]) -> None:
    example["design"] = {
        "method": "boin",
        "target": 0.3,
        "no_skipping_down": True,
        "stopping": STOPPING,
    }
    trial_id = make_trial(api, example)
    document = copy.deepcopy(example)
    del document["name"]
    doc = parse_document(document)
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == decision_to_json(doc.design.decide(doc.data), doc)
    shown = r.json()["decision"]["design"]["stopping"]
    assert shown == {
        "any": [
            {"max_patients": 30},
            *STOPPING["any"][:1],
            {
                "all": [
                    {"n_at_dose": 6, "dose": "recommended"},
                    {"demand_n_at_dose": 9, "dose": "any"},
                ]
            },
            {"too_toxic": {"level": 1, "threshold": 0.35, "confidence": 0.8}},
        ]
    }
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 200, r.text
    assert r.json() == decision_to_json(doc.design.decide(doc.data), doc) | {
        "engine_version": r.json()["engine_version"]
    }


def test_a_bad_rule_over_http_names_its_path(api: Api, example: dict[str, Any]) -> None:
    document = copy.deepcopy(example)
    del document["name"]
    document["design"] = {
        "method": "crm",
        "target": 0.3,
        "skeleton": [0.1, 0.2, 0.3, 0.4, 0.5],
        "stopping": {"all": [{"max_patients": 12}, {"n_at_dose": 0}]},
    }
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 422, r.text
    assert [p["field"] for p in r.json()["problems"]] == ["design.stopping.all[1].n_at_dose"]


def test_the_openapi_schema_states_the_expression() -> None:
    from api.config import Settings
    from api.main import create_app
    from escalation import MAX_STOPPING_DEPTH
    from tests.api.conftest import server_today

    schemas = create_app(Settings(database_url="sqlite://", today=server_today)).openapi()[
        "components"
    ]["schemas"]
    assert "stopping" in schemas["DesignCrm"]["properties"]
    assert f"AllRuleIn{MAX_STOPPING_DEPTH}" in schemas and "AllRuleIn0" not in schemas
    assert schemas["TooToxicIn"]["required"] == ["level", "confidence"]
