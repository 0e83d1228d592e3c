"""BOIN12 through HTTP: a document with responses gets the library's decision, efficacy and utility
per dose included; a BOIN12 simulation spec with response probabilities is accepted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from escalation import decision_to_json, parse_document
from tests.api.conftest import Api

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "boin12_example.json"


def test_boin12_decision_shows_efficacy_and_utility(api: Api) -> None:
    document: dict[str, Any] = json.loads(EXAMPLE.read_text())
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 200, r.text
    doc = parse_document(document)
    body = r.json()
    assert body == json.loads(json.dumps(decision_to_json(doc.design.decide(doc.data), doc)))
    efficacy = body["doses"][0]["efficacy"]
    assert efficacy["utility_mean"] == pytest.approx(44.0) and efficacy["admissible"] is True
    assert body["model"]["u_b"] == pytest.approx(70.5)
