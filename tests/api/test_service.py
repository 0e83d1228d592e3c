"""The endpoints, through HTTP, against the same answers as direct library calls."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from escalation import decision_to_json, parse_document, selection_to_json
from tests.api.conftest import SERVER_TODAY, Api, make_trial, patient_body, protocol


def library_decision(document: dict[str, Any]) -> dict[str, Any]:
    doc = parse_document(document)
    return decision_to_json(doc.design.decide(doc.data), doc)


def test_healthz_needs_no_key(api: Api) -> None:
    with api.client() as c:
        assert c.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_and_schema(api: Api) -> None:
    with api.client("data-system") as c:
        body = c.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["database"] == ("sqlite" if api.db.is_sqlite else "postgresql")
    assert body["schema_revision"] == api.db.head_revision()


def test_stateless_decision_equals_cli_json(api: Api, example: dict[str, Any]) -> None:
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=example)
    assert r.status_code == 200, r.text
    assert r.json() == library_decision(example)
    assert r.json()["action"] == "stay" and r.json()["next_dose"] == 3


def test_stateless_decision_with_counts(api: Api) -> None:
    document = {
        "design": {"method": "boin", "target": 0.25},
        "doses": [{"level": k, "label": f"L{k}"} for k in (1, 2, 3)],
        "counts": [{"level": 1, "n": 3, "dlt": 0}, {"level": 2, "n": 6, "dlt": 3}],
        "current_level": 2,
    }
    with api.client("statistician") as c:
        r = c.post("/v1/decisions", json=document)
    assert r.status_code == 200 and r.json() == library_decision(document)


def test_invalid_document_gets_every_engine_problem(api: Api, example: dict[str, Any]) -> None:
    example["patients"][0]["dose_level"] = 9
    example["patients"][3]["dlt_on"] = "2026-03-01"
    example["design"]["target"] = 1.5
    example["patients"][1]["id"] = "P001"
    with pytest.raises(Exception) as engine_error:
        parse_document(example)
    expected = [p.as_dict() for p in engine_error.value.problems]  # type: ignore[attr-defined]
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=example)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_input"
    assert body["problems"] == expected
    assert len(expected) >= 4
    fields = {p["field"] for p in body["problems"]}
    assert {"patients[0].dose_level", "design.target"} <= fields
    assert {
        "field": "patients[0].dose_level",
        "patient_id": "P001",
        "message": "unknown dose level 9 (levels are 1 to 5)",
    } in body["problems"]


@pytest.mark.parametrize(
    ("content", "field"),
    [("{not json", "body"), ("[1, 2]", "body"), ('{"design": "\\u0000"}', "design")],
    ids=["malformed", "not-an-object", "nul-character"],
)
def test_malformed_bodies_are_422_naming_the_field(api: Api, content: str, field: str) -> None:
    with api.client("src") as c:
        r = c.post("/v1/decisions", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["field"] == field


def test_unknown_query_parameters_and_bad_dates_are_422(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example, with_patients=False)
    with api.client("src") as c:
        typo = c.get(f"/v1/trials/{trial_id}/recommendation", params={"asof": "2026-01-01"})
        assert typo.status_code == 422  # not silently "as of today"
        assert typo.json()["problems"][0]["field"] == "asof"
        assert "as_of" in typo.json()["problems"][0]["message"]
        for bad in ("0", "2026-02-30", "1066-10-14", "20260101"):
            r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": bad})
            assert r.status_code == 422, bad
            assert r.json()["problems"][0]["field"] == "as_of"


def test_trial_create_read_and_list(api: Api, example: dict[str, Any]) -> None:
    body = protocol(example, name="create-read")
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=body)
        assert r.status_code == 201, r.text
        trial = r.json()
        assert r.headers["Location"] == f"/v1/trials/{trial['id']}"
        assert r.headers["ETag"] == '"1"'
        got = c.get(f"/v1/trials/{trial['id']}")
        listed = c.get("/v1/trials", params={"limit": 500}).json()
    assert got.json() == trial
    assert trial["design"] == parse_document(example).design.options()  # defaults resolved
    assert trial["doses"] == example["doses"]
    assert (trial["n_patients"], trial["frozen"], trial["version"]) == (0, False, 1)
    assert trial["created_by"].startswith("key:") and "statistician" in trial["created_by"]
    assert trial["id"] in [t["id"] for t in listed["items"]]


def test_trial_protocol_is_validated_by_the_engine(api: Api, example: dict[str, Any]) -> None:
    body = protocol(example)
    body["design"]["target"] = 0
    body["doses"][1]["level"] = 7
    body["patients"] = []
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=body)
    assert r.status_code == 422
    fields = [p["field"] for p in r.json()["problems"]]
    assert "patients" in fields and "design.target" in fields
    assert any(f.startswith("doses[1]") for f in fields)


def test_trial_changes_need_if_match_and_freeze_with_first_patient(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example, with_patients=False)
    changed = protocol(example, name="changed")
    changed["design"]["target"] = 0.25
    with api.client("statistician") as c:
        assert c.put(f"/v1/trials/{trial_id}", json=changed).status_code == 428
        stale = c.put(f"/v1/trials/{trial_id}", json=changed, headers={"If-Match": '"7"'})
        assert stale.status_code == 409 and stale.json()["problems"][0]["field"] == "If-Match"
        ok = c.put(f"/v1/trials/{trial_id}", json=changed, headers={"If-Match": '"1"'})
        assert ok.status_code == 200, ok.text
        assert ok.json()["design"]["target"] == 0.25 and ok.headers["ETag"] == '"2"'
    with api.client("data-system") as c:
        p = example["patients"][0]
        assert (
            c.put(f"/v1/trials/{trial_id}/patients/{p['id']}", json=patient_body(p)).status_code
            == 201
        )
    with api.client("statistician") as c:
        frozen = c.put(
            f"/v1/trials/{trial_id}", json=protocol(example), headers={"If-Match": '"2"'}
        )
        assert frozen.status_code == 409
        assert "frozen" in frozen.json()["message"]
        assert c.get(f"/v1/trials/{trial_id}").json()["frozen"] is True


def test_patient_upsert_is_idempotent_and_versioned(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/patients/P007"
    record = patient_body(next(p for p in example["patients"] if p["id"] == "P007"))
    with api.client("data-system") as c:
        again = c.put(url, json=record)
        assert again.status_code == 200 and again.json()["version"] == 1
        assert c.put(url, json=record | {"id": "P007"}).json()["version"] == 1
        corrected = record | {"dlt": True, "dlt_on": "2026-05-20"}
        r = c.put(url, json=corrected)
        assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
        assert r.json()["dlt"] is True and r.json()["dlt_on"] == "2026-05-20"
        assert c.put(url, json=corrected).json()["version"] == 2  # repeating is harmless
        stale = c.put(url, json=record, headers={"If-Match": '"1"'})
        assert stale.status_code == 409
        back = c.put(url, json=record, headers={"If-Match": '"2"'})
        assert back.status_code == 200 and back.json()["version"] == 3
    with api.client("src") as c:
        patients = c.get(f"/v1/trials/{trial_id}/patients").json()["items"]
        assert len(patients) == len(example["patients"])
        assert [p["id"] for p in patients] == [p["id"] for p in example["patients"]]
        audit = c.get(f"/v1/trials/{trial_id}/audit").json()["items"]
    updates = [e for e in audit if e["entity_id"] == "P007"]
    assert [e["action"] for e in updates] == ["patient.create", "patient.update", "patient.update"]
    assert updates[1]["before"]["dlt"] is False and updates[1]["after"]["dlt"] is True
    assert updates[1]["before"]["version"] == 1 and updates[1]["after"]["version"] == 2
    assert all(e["actor"].endswith("test data-system") for e in updates)


def test_patient_record_is_validated_by_the_engine(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example, with_patients=False)
    bad = {"dose_level": 9, "infused_on": "2026-01-07", "dlt": True}
    with api.client("data-system") as c:
        r = c.put(f"/v1/trials/{trial_id}/patients/P001", json=bad)
        assert r.status_code == 422
        assert r.json()["problems"] == [
            {
                "field": "dose_level",
                "patient_id": "P001",
                "message": "unknown dose level 9 (levels are 1 to 5)",
            },
            {
                "field": "dlt_on",
                "patient_id": "P001",
                "message": "dlt is true but no DLT date is given",
            },
        ]
        unknown = c.put(f"/v1/trials/{trial_id}/patients/P001", json=bad | {"colour": "red"})
        assert unknown.status_code == 422
        assert unknown.json()["problems"][0]["field"] == "colour"
        mismatch = c.put(f"/v1/trials/{trial_id}/patients/P001", json={"id": "P002"} | bad)
        assert mismatch.status_code == 422 and mismatch.json()["problems"][0]["field"] == "id"
        missing = c.put(
            "/v1/trials/999999/patients/P001", json=patient_body(example["patients"][0])
        )
        assert missing.status_code == 404 and missing.json()["problems"][0]["field"] == "trial_id"


def test_recommendation_equals_library_decision_and_is_stored(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]})
        assert r.status_code == 200, r.text
        rec = r.json()
        again = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]})
        stored = c.get(f"/v1/recommendations/{rec['id']}").json()
        reproduced = c.get(f"/v1/recommendations/{rec['id']}/reproduce").json()
    # the same JSON as the CLI on the same data
    same_data = copy.deepcopy(example)
    del same_data["name"]
    assert rec["decision"] == library_decision(same_data)
    assert rec["decision"] == library_decision(rec["snapshot"])
    assert rec["snapshot"]["patients"] == sorted(
        example["patients"], key=lambda p: (p["infused_on"], p["id"])
    )
    assert len(rec["data_hash"]) == len(rec["design_hash"]) == len(rec["hash"]) == 64
    assert again.json()["id"] == rec["id"]  # same inputs: the stored one
    assert stored == rec
    assert reproduced == {
        "recommendation_id": rec["id"],
        "reproduced": True,
        "snapshot_intact": True,
        "same_decision": True,
        "stored_engine_version": rec["engine_version"],
        "current_engine_version": rec["engine_version"],
        "differences": [],
    }


def test_recommendation_as_of_an_earlier_date_sees_what_was_known(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    as_of = "2026-07-16"  # P010-P012 infused, P011's DLT (07-20) not yet known
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": as_of}).json()
        today = c.get(f"/v1/trials/{trial_id}/recommendation").json()
    known = copy.deepcopy(example)
    del known["name"]
    known["as_of"] = as_of
    p011 = next(p for p in known["patients"] if p["id"] == "P011")
    p011["dlt"] = False
    del p011["dlt_on"]
    assert rec["decision"] == library_decision(known)
    assert rec["decision"]["action"] == "wait"
    assert today["as_of"] == SERVER_TODAY.isoformat()


def test_reproduce_detects_a_tampered_snapshot(api: Api, example: dict[str, Any]) -> None:
    from sqlalchemy import update

    from api.storage.models import Recommendation

    trial_id = make_trial(api, example)
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"}).json()
        snapshot = copy.deepcopy(rec["snapshot"])
        snapshot["patients"][-1]["dlt"] = True
        snapshot["patients"][-1]["dlt_on"] = "2026-07-20"
        with api.db.write() as s:
            s.execute(
                update(Recommendation)
                .where(Recommendation.id == rec["id"])
                .values(snapshot=snapshot)
            )
        check = c.get(f"/v1/recommendations/{rec['id']}/reproduce").json()
    assert check["reproduced"] is False and check["snapshot_intact"] is False
    assert check["same_decision"] is False and "doses" in check["differences"]


def test_final_selection_equals_library_selection(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("statistician") as c:
        r = c.get(f"/v1/trials/{trial_id}/final-selection", params={"as_of": example["as_of"]})
    assert r.status_code == 200, r.text
    document = copy.deepcopy(example)
    del document["name"]
    doc = parse_document(document)
    assert r.json() == selection_to_json(doc.design.select(doc.data), doc)
    assert r.json()["dose"] == 3


def test_src_decisions_accept_override_and_conflicts(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/decisions"
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"}).json()
        accept = c.post(url, json={"recommendation_id": rec["id"], "action": "accept"})
        assert accept.status_code == 201, accept.text
        assert accept.json()["dose_level"] == 3 == accept.json()["recommended_dose"]
        assert accept.json()["decided_by"].endswith("test src")
        twice = c.post(url, json={"recommendation_id": rec["id"], "action": "accept"})
        assert (
            twice.status_code == 409 and twice.json()["problems"][0]["field"] == "recommendation_id"
        )

        rec2 = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-21"}).json()
        bad = c.post(
            url, json={"recommendation_id": rec2["id"], "action": "override", "dose_level": 3}
        )
        assert bad.status_code == 422
        assert {p["field"] for p in bad.json()["problems"]} == {"dose_level", "rationale"}
        wrong_accept = c.post(
            url, json={"recommendation_id": rec2["id"], "action": "accept", "dose_level": 4}
        )
        assert wrong_accept.status_code == 422
        unknown = c.post(url, json={"recommendation_id": 10**6, "action": "accept"})
        assert unknown.status_code == 422
        override = c.post(
            url,
            json={
                "recommendation_id": rec2["id"],
                "action": "override",
                "dose_level": 2,
                "rationale": "grade 3 CRS at level 3 under review",
            },
        )
        assert override.status_code == 201, override.text
        assert (override.json()["dose_level"], override.json()["recommended_dose"]) == (2, 3)

        rec3 = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-22"}).json()
    # the data change after rec3 was made: deciding on it is a conflict
    with api.client("data-system") as d:
        r = d.put(
            f"/v1/trials/{trial_id}/patients/P012",
            json={"dose_level": 3, "infused_on": "2026-07-15", "dlt": True, "dlt_on": "2026-07-30"},
        )
        assert r.status_code == 200
    with api.client("src") as c:
        stale = c.post(url, json={"recommendation_id": rec3["id"], "action": "accept"})
        assert stale.status_code == 409 and "changed" in stale.json()["message"]
        listed = c.get(url).json()["items"]
    assert [(d["action"], d["recommendation_id"]) for d in listed] == [
        ("accept", rec["id"]),
        ("override", rec2["id"]),
    ]


def test_lists_are_paginated(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        first = c.get(f"/v1/trials/{trial_id}/patients", params={"limit": 5}).json()
        second = c.get(
            f"/v1/trials/{trial_id}/patients", params={"limit": 5, "offset": first["next_offset"]}
        ).json()
        last = c.get(f"/v1/trials/{trial_id}/patients", params={"limit": 5, "offset": 10}).json()
        too_big = c.get(f"/v1/trials/{trial_id}/patients", params={"limit": 501})
    assert (len(first["items"]), first["next_offset"]) == (5, 5)
    assert (len(second["items"]), second["next_offset"]) == (5, 10)
    assert (len(last["items"]), last["next_offset"]) == (2, None)
    ids = [p["id"] for p in first["items"] + second["items"] + last["items"]]
    assert ids == [p["id"] for p in example["patients"]]
    assert too_big.status_code == 422 and too_big.json()["problems"][0]["field"] == "limit"


def test_unknown_resources_are_404_naming_the_field(api: Api) -> None:
    with api.client("admin") as c:
        for path, field in [
            ("/v1/trials/424242", "trial_id"),
            ("/v1/recommendations/424242", "recommendation_id"),
            ("/v1/simulations/424242", "job_id"),
            ("/v1/trials/424242/audit", "trial_id"),
        ]:
            r = c.get(path)
            assert r.status_code == 404, path
            assert r.json()["problems"][0]["field"] == field
        r = c.get("/v1/nowhere")
        assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_audit_trail_is_chained(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("admin") as c:
        entries = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 500}).json()["items"]
        everything = c.get("/v1/audit", params={"limit": 500}).json()
    assert entries[0]["action"] == "trial.create"
    assert [e["action"] for e in entries[1:]] == ["patient.create"] * len(example["patients"])
    assert entries[0]["after"]["design"]["target"] == 0.3
    assert all(len(e["hash"]) == 64 and len(e["prev_hash"]) == 64 for e in entries)
    seqs = [e["seq"] for e in everything["items"]]
    assert seqs == list(range(1, len(seqs) + 1)) or everything["next_offset"] is not None
    for before, after in zip(everything["items"], everything["items"][1:], strict=False):
        assert after["prev_hash"] == before["hash"]


def test_keys_over_http(api: Api) -> None:
    with api.client("admin") as c:
        r = c.post("/v1/keys", json={"role": "src", "name": "SRC chair"})
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["key"].startswith(created["key_prefix"])
        listed = c.get("/v1/keys", params={"limit": 500}).json()["items"]
        assert "key" not in listed[0] and created["id"] in [k["id"] for k in listed]
        assert c.post("/v1/keys", json={"role": "king", "name": "x"}).status_code == 422
    with api.client(key=created["key"]) as new:
        assert new.get("/v1/trials").status_code == 200
        with api.client("admin") as c:
            revoked = c.delete(f"/v1/keys/{created['id']}")
            assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
            assert c.delete(f"/v1/keys/{created['id']}").status_code == 409
        assert new.get("/v1/trials").status_code == 401
