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


def _shifted(document: dict[str, Any], *, days: int) -> dict[str, Any]:
    """The document with every date moved by ``days``."""
    import datetime as dt

    def move(text: str) -> str:
        return (dt.date.fromisoformat(text) + dt.timedelta(days=days)).isoformat()

    out = document | {"as_of": move(document["as_of"])}
    out["patients"] = [
        {k: move(v) if k.endswith("_on") and v is not None else v for k, v in p.items()}
        for p in document["patients"]
    ]
    return out


def test_a_stored_boin12_trial_with_posted_responses(api: Api) -> None:
    """Responses are posted with the patients, as DLTs are; the stored trial's recommendation is
    the library's, with efficacy and utility per dose, and it reproduces."""
    from tests.api.conftest import make_trial

    document = _shifted(json.loads(EXAMPLE.read_text()), days=-120)  # before the server's today
    document.pop("efficacy_window_days")  # created without it: the default, 90 days (see
    # tests/api/test_trial_efficacy_window.py for a trial that sets it)
    trial_id = make_trial(api, document)
    with api.client("src") as c:
        rec = c.get(
            f"/v1/trials/{trial_id}/recommendation", params={"as_of": document["as_of"]}
        ).json()
        reproduced = c.get(f"/v1/recommendations/{rec['id']}/reproduce").json()
    in_order = document | {"patients": sorted(document["patients"], key=lambda p: p["infused_on"])}
    doc = parse_document({k: v for k, v in in_order.items() if k != "name"})
    assert rec["decision"] == json.loads(
        json.dumps(decision_to_json(doc.design.decide(doc.data), doc))
    )
    assert rec["decision"]["action"] == "wait"  # P09's response is not yet due
    assert rec["decision"]["doses"][1]["efficacy"]["responses"] == 1
    assert reproduced["reproduced"] is True


def test_the_meeting_page_of_a_boin12_trial_shows_efficacy_and_utility(api: Api) -> None:
    from contextlib import closing

    from tests.api.conftest import make_trial
    from tests.api.test_ui import sign_in

    document = _shifted(json.loads(EXAMPLE.read_text()), days=-120)
    document.pop("efficacy_window_days")
    trial_id = make_trial(api, document)
    c, _ = sign_in(api, "src")
    with closing(c):
        r = c.get(f"/ui/trials/{trial_id}", params={"as_of": document["as_of"]})
    assert r.status_code == 200, r.text
    html = r.text
    assert 'id="efficacy"' in html and "Efficacy and utility" in html
    assert "<td>44.0</td>" in html  # dose level 1's posterior mean utility
