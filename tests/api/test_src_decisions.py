"""The committee's decisions: a risky override needs an explicit confirmation and is flagged; a
decision made in error is superseded by a new one naming it, both kept and audited."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from api.services import recommendations as recs
from api.services import trials
from api.storage.db import Database, alembic_config
from tests.api.conftest import (
    Api,
    PgSchema,
    make_trial,
    new_database_url,
    patient_body,
    protocol,
)


def _rec(api: Api, trial_id: int, as_of: str) -> dict[str, Any]:
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def test_an_override_skipping_an_untried_dose_needs_confirmation(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    rec = _rec(api, trial_id, "2026-08-20")  # stay at 3; 4 and 5 untried
    url = f"/v1/trials/{trial_id}/decisions"
    body = {
        "recommendation_id": rec["id"],
        "action": "override",
        "dose_level": 5,
        "rationale": "the sponsor insists",
    }
    with api.client("src") as c:
        refused = c.post(url, json=body)
        assert refused.status_code == 422, refused.text
        problems = refused.json()["problems"]
        assert [p["field"] for p in problems] == ["confirm_risk"]
        assert "skips untried dose level 4" in problems[0]["message"]
        assert c.get(url).json()["items"] == []  # nothing written
        done = c.post(url, json=body | {"confirm_risk": True})
        assert done.status_code == 201, done.text
        assert done.json()["risk_flags"] == ["skips untried dose level 4 (highest level tried: 3)"]
        audit = c.get(f"/v1/trials/{trial_id}/audit").json()["items"]
    entry = next(e for e in audit if e["action"] == "decision.create")
    assert entry["after"]["risk_flags"] == done.json()["risk_flags"]


def test_an_override_into_an_eliminated_dose_needs_confirmation(
    api: Api, example: dict[str, Any]
) -> None:
    document = copy.deepcopy(example)
    # three DLTs in three at level 3: level 3 and above are eliminated
    for p in document["patients"]:
        if p["dose_level"] == 3:
            p["dlt"], p["dlt_on"] = True, p["infused_on"][:8] + "28"
    trial_id = make_trial(api, document)
    rec = _rec(api, trial_id, "2026-08-20")
    assert 3 in rec["decision"]["eliminated"]
    url = f"/v1/trials/{trial_id}/decisions"
    body = {
        "recommendation_id": rec["id"],
        "action": "override",
        "dose_level": 3,
        "rationale": "DLTs judged unrelated by the SRC",
    }
    with api.client("src") as c:
        refused = c.post(url, json=body | {"confirm_risk": False})
        assert refused.status_code == 422
        assert [p["field"] for p in refused.json()["problems"]] == ["confirm_risk"]
        done = c.post(url, json=body | {"confirm_risk": True})
    assert done.status_code == 201, done.text
    assert done.json()["risk_flags"] == [
        "enters dose level 3, which the design eliminated as too toxic"
    ]


def test_a_safe_override_needs_no_confirmation(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    rec = _rec(api, trial_id, "2026-08-20")
    with api.client("src") as c:
        r = c.post(
            f"/v1/trials/{trial_id}/decisions",
            json={
                "recommendation_id": rec["id"],
                "action": "override",
                "dose_level": 4,
                "rationale": "escalate one level",
            },
        )
    assert r.status_code == 201, r.text
    assert r.json()["risk_flags"] == []


def test_a_mistaken_decision_is_superseded_both_kept_and_audited(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    rec = _rec(api, trial_id, "2026-08-20")
    url = f"/v1/trials/{trial_id}/decisions"
    with api.client("src") as c:
        first = c.post(url, json={"recommendation_id": rec["id"], "action": "accept"}).json()
        again = c.post(
            url,
            json={
                "recommendation_id": rec["id"],
                "action": "override",
                "dose_level": 2,
                "rationale": "x",
            },
        )
        assert again.status_code == 409 and f"supersedes={first['id']}" in again.json()["message"]
        no_reason = c.post(
            url,
            json={
                "recommendation_id": rec["id"],
                "action": "override",
                "dose_level": 2,
                "rationale": "CRS grade 3 reported late",
                "supersedes": first["id"],
            },
        )
        assert no_reason.status_code == 422
        assert [p["field"] for p in no_reason.json()["problems"]] == ["supersede_reason"]
        unknown = c.post(
            url,
            json={
                "recommendation_id": rec["id"],
                "action": "accept",
                "supersedes": 10**6,
                "supersede_reason": "typo",
            },
        )
        assert unknown.status_code == 422 and unknown.json()["problems"][0]["field"] == "supersedes"
        second = c.post(
            url,
            json={
                "recommendation_id": rec["id"],
                "action": "override",
                "dose_level": 2,
                "rationale": "CRS grade 3 reported late",
                "supersedes": first["id"],
                "supersede_reason": "accepted by mistake: the late CRS report was not yet read",
            },
        )
        assert second.status_code == 201, second.text
        assert second.json()["supersedes"] == first["id"]
        twice = c.post(
            url,
            json={
                "recommendation_id": rec["id"],
                "action": "accept",
                "supersedes": first["id"],
                "supersede_reason": "again",
            },
        )
        assert twice.status_code == 409 and twice.json()["problems"][0]["field"] == "supersedes"
        listed = c.get(url).json()["items"]
        audit = c.get(f"/v1/trials/{trial_id}/audit").json()["items"]
    assert [(d["id"], d["superseded_by"], d["supersedes"]) for d in listed] == [
        (first["id"], second.json()["id"], None),
        (second.json()["id"], None, first["id"]),
    ]
    actions = [(e["action"], e["entity_id"]) for e in audit if e["entity_type"] == "decision"]
    assert actions == [
        ("decision.create", str(first["id"])),
        ("decision.supersede", str(second.json()["id"])),
    ]
    supersede = next(e for e in audit if e["action"] == "decision.supersede")
    assert supersede["before"] == {"decision_id": first["id"]}
    assert supersede["after"]["supersede_reason"].startswith("accepted by mistake")


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_no_downgrade_below_0006_while_a_decision_supersedes_another(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    """Going back would have to delete a decision: the downgrade refuses, nothing changes."""
    db = Database(new_database_url(kind, tmp_path, pg_schemas))
    db.migrate()
    try:
        trial = trials.create_trial(db, protocol(example), actor="test")
        for p in example["patients"]:
            trials.upsert_patient(db, trial.id, p["id"], patient_body(p), if_match=None, actor="t")
        found = recs.lookup(db, trial.id, dt.date(2026, 8, 20))
        rid = recs.create(db, trial.id, dt.date(2026, 8, 20), found, actor="test").id
        first = recs.record_decision(
            db,
            trial.id,
            recommendation_id=rid,
            action="accept",
            dose_level=None,
            rationale="",
            actor="test",
        )
        recs.record_decision(
            db,
            trial.id,
            recommendation_id=rid,
            action="override",
            dose_level=2,
            rationale="late CRS report",
            actor="test",
            supersedes=first["id"],
            supersede_reason="accepted in error",
        )
        with pytest.raises(RuntimeError, match="supersede others"), db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0005")
        assert db.current_revision() == db.head_revision()
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM src_decisions")).scalar_one() == 2
    finally:
        db.dispose()


def test_stopping_overrides_a_wait_but_not_a_stop(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    wait = _rec(api, trial_id, "2026-08-10")  # P012 still inside its window: BOIN waits
    assert wait["decision"]["action"] == "wait"
    url = f"/v1/trials/{trial_id}/decisions"
    with api.client("src") as c:
        stop = c.post(
            url,
            json={
                "recommendation_id": wait["id"],
                "action": "override",
                "dose_level": None,
                "rationale": "the sponsor ends the trial",
            },
        )
    assert stop.status_code == 201, stop.text
    assert (stop.json()["dose_level"], stop.json()["recommended_dose"]) == (None, None)
    document = copy.deepcopy(example)
    for p in document["patients"]:  # every dose too toxic: BOIN stops
        p["dlt"], p["dlt_on"] = True, p["infused_on"][:8] + "28"
    stopped = make_trial(api, document)
    rec = _rec(api, stopped, "2026-08-20")
    assert rec["decision"]["action"] == "stop"
    with api.client("src") as c:
        again = c.post(
            f"/v1/trials/{stopped}/decisions",
            json={
                "recommendation_id": rec["id"],
                "action": "override",
                "dose_level": None,
                "rationale": "stop",
            },
        )
    assert again.status_code == 422 and again.json()["problems"][0]["field"] == "dose_level"
