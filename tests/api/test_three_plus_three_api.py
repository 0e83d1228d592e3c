"""3+3 through HTTP: a trial with ``{"method": "3+3"}`` (no target) gets the library's answers."""

from __future__ import annotations

import copy
from typing import Any

from escalation import decision_to_json, parse_document, selection_to_json
from tests.api.conftest import Api, make_trial


def test_three_plus_three_trial_over_http(api: Api, example: dict[str, Any]) -> None:
    example["design"] = {"method": "3+3", "allow_deescalation": True}
    trial_id = make_trial(api, example)
    document = copy.deepcopy(example)
    del document["name"]
    doc = parse_document(document)
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]})
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == decision_to_json(doc.design.decide(doc.data), doc)
    assert r.json()["decision"]["design"]["method"] == "3+3"
    with api.client("statistician") as c:
        r = c.get(f"/v1/trials/{trial_id}/final-selection", params={"as_of": example["as_of"]})
        assert r.status_code == 200, r.text
        assert r.json() == selection_to_json(doc.design.select(doc.data), doc)
        counts = {
            "design": {"method": "3+3"},
            "doses": [{"level": k, "label": f"L{k}"} for k in (1, 2, 3)],
            "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 6, "dlt": 2}],
            "current_level": 2,
        }
        r = c.post("/v1/decisions", json=counts)
    assert r.status_code == 200, r.text
    assert r.json()["action"] == "stop" and r.json()["final_selection"]["dose"] == 1
