"""The whole-trial document (cohorts, indications, expansion monitoring) through HTTP: the stateless
decision endpoint answers as the library does, expansion status included."""

from __future__ import annotations

import json
from pathlib import Path

from escalation import decision_to_json, parse_document
from tests.api.conftest import Api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "whole_trial_example.json"


def test_whole_trial_stateless_decision(api: Api) -> None:
    document = json.loads(EXAMPLE.read_text())
    doc = parse_document(document)
    expected = decision_to_json(doc.design.decide(doc.data), doc)
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 200, r.text
    assert r.json() == expected
    assert set(r.json()["expansion"]) == {"SLE", "AAV"}


def test_whole_trial_problems_over_http(api: Api) -> None:
    document = json.loads(EXAMPLE.read_text())
    document["patients"][20]["dose_level"] = 2  # an expansion patient off the expansion levels
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 422
    fields = {(p["field"], p.get("patient_id")) for p in r.json()["problems"]}
    assert ("patients[20].dose_level", document["patients"][20]["id"]) in fields
