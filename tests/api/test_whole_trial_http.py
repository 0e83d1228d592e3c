"""The whole-trial document (cohorts, indications, responses, expansion monitoring) through HTTP:
the stateless decision endpoint and the stored trial (patients posted one by one) answer as the
library does on the same document, expansion status included; the records, their audit entries
and the tamper check carry the new fields; invalid records are refused whole, naming the field
and the patient, and leave nothing written."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from api.services.integrity import check
from api.storage.audit import AuditProblem
from api.storage.models import AuditEntry, PatientRecord
from escalation import decision_to_json, parse_document, selection_to_json
from tests.api.conftest import Api, patient_body
from tests.api.whole_trial import EXAMPLE, make_whole_trial, whole_document, whole_protocol


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


# ---- the stored trial ---------------------------------------------------------------------------
@pytest.fixture
def whole() -> dict[str, Any]:
    return whole_document()


def _protocol(document: dict[str, Any]) -> dict[str, Any]:
    return whole_protocol(document)


def _make(api: Api, document: dict[str, Any]) -> int:
    return make_whole_trial(api, document)


def _library(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The engine's decision and final selection JSON on ``document``."""
    doc = parse_document({k: v for k, v in document.items() if k != "name"})
    return (
        decision_to_json(doc.design.decide(doc.data), doc),
        selection_to_json(doc.design.select(doc.data), doc),
    )


def test_a_stored_whole_trial_answers_as_the_library(api: Api, whole: dict[str, Any]) -> None:
    trial_id = _make(api, whole)
    as_of = {"as_of": whole["as_of"]}
    with api.client("src") as c:
        trial = c.get(f"/v1/trials/{trial_id}").json()
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params=as_of).json()
        reproduced = c.get(f"/v1/recommendations/{rec['id']}/reproduce").json()
        patients = c.get(f"/v1/trials/{trial_id}/patients", params=as_of).json()["items"]
    with api.client("statistician") as c:
        selection = c.get(f"/v1/trials/{trial_id}/final-selection", params=as_of).json()
    # the same document, its patients in the stored order (by infusion date)
    in_order = whole | {"patients": sorted(whole["patients"], key=lambda p: p["infused_on"])}
    decision, expected_selection = _library(in_order)
    assert trial["indications"] == ["SLE", "AAV", "SSc", "IIM"]
    assert trial["design"]["expansion"]["indications"] == ["SLE", "AAV"]
    assert rec["decision"] == decision
    assert set(rec["decision"]["expansion"]) == {"SLE", "AAV"}
    assert rec["snapshot"]["indications"] == whole["indications"]
    assert rec["snapshot"]["patients"] == in_order["patients"]
    assert reproduced["reproduced"] is True
    assert selection == expected_selection
    assert set(selection["indications"]) == set(whole["indications"])
    by_id = {p["id"]: p for p in patients}
    for p in whole["patients"]:
        got = by_id[p["id"]]
        assert got["cohort"] == p.get("cohort", "escalation")
        assert got["indication"] == p.get("indication")
        assert got["response"] == p.get("response")
        assert got["response_on"] == p.get("response_on")


def test_a_response_assessed_after_the_data_cut_is_not_yet_known(
    api: Api, whole: dict[str, Any]
) -> None:
    trial_id = _make(api, whole)
    as_of = "2026-08-01"  # before P012's and P013's responses were assessed
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": as_of}).json()
    known = copy.deepcopy(whole) | {"as_of": as_of}
    known["patients"] = sorted(
        (p for p in known["patients"] if p["infused_on"] <= as_of), key=lambda p: p["infused_on"]
    )
    for p in known["patients"]:
        for key, value in list(p.items()):
            if key in ("dlt_on", "withdrawn_on") and value > as_of:
                del p[key]
                if key == "dlt_on":
                    p["dlt"] = False
        if p.get("response_on", "") > as_of:
            del p["response"], p["response_on"]
    assert {p["id"] for p in whole["patients"] if p.get("response_on", "") > as_of} >= {
        "P012",
        "P013",
    }
    assert rec["decision"] == _library(known)[0]
    snapshot = {p["id"]: p for p in rec["snapshot"]["patients"]}
    assert "response" not in snapshot["P012"] and snapshot["P012"]["indication"] == "SLE"


def test_the_trail_records_the_whole_trial_fields_and_verifies(
    api: Api, whole: dict[str, Any]
) -> None:
    trial_id = _make(api, whole)
    with api.client("src") as c:
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 100}).json()["items"]
    created = {e["entity_id"]: e["after"] for e in audit if e["action"] == "patient.create"}
    assert created["S02"] == {
        "id": "S02",
        "dose_level": 3,
        "infused_on": "2026-07-20",
        "dlt": True,
        "dlt_on": "2026-07-28",
        "cohort": "expansion",
        "indication": "SLE",
        "version": 1,
    }
    assert created["P016"]["cohort"] == "backfill" and created["P016"]["response"] is True
    assert created["P001"]["response_on"] == "2026-02-24"
    assert "cohort" not in created["P001"]  # escalation: recorded as before the new fields
    trial_entry = next(e for e in audit if e["action"] == "trial.create")
    assert trial_entry["after"]["indications"] == whole["indications"]
    with api.db.read() as s:
        assert _problems_of(check(s).problems, trial_id) == []


def _problems_of(problems: Sequence[AuditProblem], trial_id: int) -> list[str]:
    """The problems of the tamper check that concern this trial's rows (the session's database is
    shared with the tamper tests, which change other trials' rows on purpose)."""
    texts = [str(p) for p in problems]
    return [t for t in texts if f"of trial {trial_id} " in t or f"trial {trial_id} differs" in t]


def test_a_stored_field_changed_outside_the_service_is_caught(
    api: Api, whole: dict[str, Any]
) -> None:
    from sqlalchemy import update

    trial_id = _make(api, whole)
    try:
        with api.db.write() as s:
            s.execute(
                update(PatientRecord)
                .where(PatientRecord.trial_id == trial_id, PatientRecord.patient_id == "A01")
                .values(indication="SLE")
            )
        with api.db.read() as s:
            problems = _problems_of(check(s).problems, trial_id)
        assert len(problems) == 1
        assert f"patient A01 of trial {trial_id} differs" in problems[0]
        assert "(indication)" in problems[0]
    finally:
        with api.db.write() as s:  # the session-wide database verifies clean for later tests
            s.execute(
                update(PatientRecord)
                .where(PatientRecord.trial_id == trial_id, PatientRecord.patient_id == "A01")
                .values(indication="AAV")
            )


def test_whole_trial_records_are_idempotent_and_versioned(api: Api, whole: dict[str, Any]) -> None:
    trial_id = _make(api, whole)
    url = f"/v1/trials/{trial_id}/patients/P014"
    record = patient_body(next(p for p in whole["patients"] if p["id"] == "P014"))
    assert "response" not in record
    with api.client("data-system") as c:
        again = c.put(url, json=record)
        assert again.status_code == 200 and again.json()["version"] == 1
        assessed = record | {"response": True, "response_on": "2026-08-25"}
        r = c.put(url, json=assessed)
        assert r.status_code == 200 and r.json()["version"] == 2, r.text
        assert (r.json()["response"], r.json()["response_on"]) == (True, "2026-08-25")
        assert c.put(url, json=assessed).json()["version"] == 2  # repeating is harmless
    with api.client("src") as c:
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 100}).json()["items"]
    update = next(e for e in audit if e["action"] == "patient.update")
    assert "response" not in update["before"] and update["after"]["response"] is True
    assert update["after"]["response_on"] == "2026-08-25"


def _n_rows(api: Api, trial_id: int) -> tuple[int, int]:
    with api.db.read() as s:
        patients = s.scalar(
            select(func.count())
            .select_from(PatientRecord)
            .where(PatientRecord.trial_id == trial_id)
        )
        entries = s.scalar(select(func.count()).select_from(AuditEntry))
    return int(patients or 0), int(entries or 0)


_BASE = {"dose_level": 3, "infused_on": "2026-08-20", "dlt": False}


@pytest.mark.parametrize(
    ("record", "field", "words"),
    [
        (_BASE | {"indication": "GPA"}, "indication", "unknown indication 'GPA'"),
        (_BASE | {"cohort": "dose-optimisation"}, "cohort", "unknown cohort"),
        (_BASE | {"response_on": "2026-08-25"}, "response_on", "response is unknown"),
        (
            _BASE | {"response": True, "response_on": "2026-08-10"},
            "response_on",
            "before the infusion",
        ),
        (_BASE | {"response": True, "response_on": "2026-09-30"}, "response_on", "after today"),
        (_BASE | {"response": "yes"}, "response", "expected true, false"),
        (_BASE | {"cohort": "expansion"}, "indication", "needs an indication"),
        (
            _BASE | {"cohort": "expansion", "indication": "SSc"},
            "indication",
            "has no expansion cohort",
        ),
        (
            _BASE | {"dose_level": 2, "cohort": "expansion", "indication": "SLE"},
            "dose_level",
            "not an expansion dose level",
        ),
    ],
    ids=[
        "unknown-indication",
        "unknown-cohort",
        "response_on-without-response",
        "response-before-infusion",
        "response-after-today",
        "response-not-boolean",
        "expansion-without-indication",
        "indication-without-expansion-cohort",
        "expansion-off-its-levels",
    ],
)
def test_invalid_records_are_refused_naming_field_and_patient(
    api: Api, whole: dict[str, Any], record: dict[str, Any], field: str, words: str
) -> None:
    trial_id = _make(api, whole)
    before = _n_rows(api, trial_id)
    with api.client("data-system") as c:
        r = c.put(f"/v1/trials/{trial_id}/patients/X01", json=record)
        changed = c.put(f"/v1/trials/{trial_id}/patients/S01", json=record | {"id": "S01"})
    for response, pid in ((r, "X01"), (changed, "S01")):
        assert response.status_code == 422, response.text
        problems = response.json()["problems"]
        assert any(
            p["field"] == field and p["patient_id"] == pid and words in p["message"]
            for p in problems
        ), problems
    assert _n_rows(api, trial_id) == before  # nothing written, nothing audited


def test_a_full_expansion_cohort_refuses_one_more_patient(api: Api, whole: dict[str, Any]) -> None:
    document = copy.deepcopy(whole)
    document["design"]["expansion"]["max_per_indication"] = 7  # SLE has S01-S07
    trial_id = _make(api, document)
    before = _n_rows(api, trial_id)
    s08 = _BASE | {"cohort": "expansion", "indication": "SLE"}
    with api.client("data-system") as c:
        r = c.put(f"/v1/trials/{trial_id}/patients/S08", json=s08)
        aav = c.put(f"/v1/trials/{trial_id}/patients/A07", json=s08 | {"indication": "AAV"})
    assert r.status_code == 422, r.text
    assert r.json()["problems"] == [
        {
            "field": "cohort",
            "patient_id": "S08",
            "message": "the SLE expansion cohort at dose level 3 already has "
            "max_per_indication = 7 patients",
        }
    ]
    assert aav.status_code == 201, aav.text  # AAV has six
    assert _n_rows(api, trial_id)[0] == before[0] + 1


def test_trials_are_created_with_indications_and_expansion(api: Api, whole: dict[str, Any]) -> None:
    body = _protocol(whole)
    with api.client("statistician") as c:
        bad = c.post("/v1/trials", json=body | {"indications": ["SLE", "SLE"]})
        missing = c.post("/v1/trials", json=body | {"indications": ["SLE", "SSc"]})
        plain = c.post("/v1/trials", json={k: v for k, v in body.items() if k != "indications"})
        null = c.post("/v1/trials", json=body | {"indications": None})
    assert bad.status_code == 422
    assert any(p["field"] == "indications[1]" for p in bad.json()["problems"]), bad.text
    assert missing.status_code == 422
    assert any(
        p["field"] == "design.expansion.indications[1]" and "AAV" in p["message"]
        for p in missing.json()["problems"]
    ), missing.text
    assert plain.status_code == null.status_code == 201, (plain.text, null.text)
    assert plain.json()["indications"] is None and null.json()["indications"] is None
    assert plain.json()["design"]["expansion"]["indications"] == ["SLE", "AAV"]
    with api.client("data-system") as c:  # the expansion's indications are the trial's
        r = c.put(
            f"/v1/trials/{plain.json()['id']}/patients/S01",
            json=_BASE | {"cohort": "expansion", "indication": "SLE"},
        )
    assert r.status_code == 201, r.text


def test_the_whole_trial_example_loads_as_a_demo(tmp_path: Path) -> None:
    """`escalation serve --demo examples/whole_trial_example.json`: the trial with its indications
    and all 30 patients, once (loading again changes nothing), shown as of the document's date;
    its stored recommendation is the library's."""
    import datetime as dt

    from api.demo import demo_as_of, load_demo_trial
    from api.services import recommendations as recs
    from api.storage.db import Database

    db = Database(f"sqlite:///{tmp_path / 'demo.db'}")
    db.migrate()
    try:
        document = json.loads(EXAMPLE.read_text())
        assert load_demo_trial(db, EXAMPLE, actor="test") == (1, len(document["patients"]))
        assert load_demo_trial(db, EXAMPLE, actor="test") == (1, 0)
        as_of = demo_as_of(EXAMPLE)
        assert as_of == document["as_of"]
        found = recs.lookup(db, 1, dt.date.fromisoformat(as_of))
        rec = json.loads(recs.create(db, 1, dt.date.fromisoformat(as_of), found, actor="t").body)
    finally:
        db.dispose()
    in_order = document | {"patients": sorted(document["patients"], key=lambda p: p["infused_on"])}
    assert rec["snapshot"]["indications"] == document["indications"]
    assert rec["decision"] == _library(in_order)[0]
