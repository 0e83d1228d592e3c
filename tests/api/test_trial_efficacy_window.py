"""A stored trial keeps its efficacy window (schema revision 0008): set when the trial is created,
shown with it, in its trial document, its design hash and its audit trail; a trial without it
reads exactly as before (the document default, 90 days)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from api.services import recommendations as recs
from api.services import trials
from api.services.integrity import check
from api.storage.db import Database, alembic_config
from escalation import decision_to_json, parse_document
from tests.api.conftest import Api, PgSchema, new_database_url, protocol
from tests.api.test_boin12_api import EXAMPLE, _shifted
from tests.api.whole_trial import post_trial

WINDOW = 120


def _document() -> dict[str, Any]:
    """The BOIN12 example, dated before the server's today."""
    return _shifted(json.loads(EXAMPLE.read_text()), days=-120)


def _create(api: Api, document: dict[str, Any], **extra: Any) -> int:
    return post_trial(api, protocol(document) | extra, document["patients"])


def _library(document: dict[str, Any], window: int) -> dict[str, Any]:
    in_order = document | {"patients": sorted(document["patients"], key=lambda p: p["infused_on"])}
    doc = parse_document(
        {k: v for k, v in in_order.items() if k != "name"} | {"efficacy_window_days": window}
    )
    out: dict[str, Any] = json.loads(json.dumps(decision_to_json(doc.design.decide(doc.data), doc)))
    return out


def test_a_stored_trial_decides_with_its_efficacy_window(api: Api) -> None:
    document = _document()
    trial_id = _create(api, document, efficacy_window_days=WINDOW)
    with api.client("src") as c:
        shown = c.get(f"/v1/trials/{trial_id}").json()
        rec = c.get(
            f"/v1/trials/{trial_id}/recommendation", params={"as_of": document["as_of"]}
        ).json()
        reproduced = c.get(f"/v1/recommendations/{rec['id']}/reproduce").json()
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 100}).json()["items"]
    assert shown["efficacy_window_days"] == WINDOW
    assert rec["snapshot"]["efficacy_window_days"] == WINDOW
    assert rec["decision"] == _library(document, WINDOW)
    # the window matters here: the response the design waits for is due later than with 90 days
    assert rec["decision"]["wait_until"] != _library(document, 90)["wait_until"]
    assert reproduced["reproduced"] is True
    created = next(e for e in audit if e["action"] == "trial.create")
    assert created["after"]["efficacy_window_days"] == WINDOW
    with api.db.read() as s:
        assert not [p for p in check(s).problems if f"trial {trial_id} " in str(p)]


def test_a_trial_without_it_reads_as_before(api: Api) -> None:
    document = _document()
    trial_id = _create(api, document)
    with api.client("src") as c:
        shown = c.get(f"/v1/trials/{trial_id}").json()
        rec = c.get(
            f"/v1/trials/{trial_id}/recommendation", params={"as_of": document["as_of"]}
        ).json()
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 100}).json()["items"]
    assert shown["efficacy_window_days"] is None
    assert "efficacy_window_days" not in rec["snapshot"]
    assert rec["decision"] == _library(document, 90)
    created = next(e for e in audit if e["action"] == "trial.create")
    assert "efficacy_window_days" not in created["after"]
    snapshot = rec["snapshot"]
    assert recs.design_hash(snapshot) == recs.design_hash(snapshot | {"efficacy_window_days": None})
    assert recs.design_hash(snapshot) != recs.design_hash(snapshot | {"efficacy_window_days": 90})


@pytest.mark.parametrize("value", [0, 10_000, None, "90"], ids=str)
def test_a_bad_efficacy_window_is_a_422_naming_the_field(api: Api, value: Any) -> None:
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=protocol(_document()) | {"efficacy_window_days": value})
    assert r.status_code == 422, r.text
    assert "efficacy_window_days" in r.text


def test_no_downgrade_below_0008_while_a_trial_sets_its_efficacy_window(
    tmp_path: Path, pg_schemas: list[PgSchema]
) -> None:
    """Going back would drop the window, changing the trial's decisions: the downgrade refuses
    and nothing changes; without such a trial it goes through."""
    db = Database(new_database_url("sqlite", tmp_path, pg_schemas))
    db.migrate()
    try:
        body = protocol(_document())
        plain = trials.create_trial(db, body, actor="test")
        with db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
            command.upgrade(alembic_config(conn), "head")
        trials.create_trial(db, body | {"efficacy_window_days": WINDOW}, actor="test")
        with pytest.raises(RuntimeError, match="efficacy window"), db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0007")
        assert db.current_revision() == db.head_revision()
        with db.connect() as conn:
            got = conn.execute(
                text("SELECT efficacy_window_days FROM trials ORDER BY id")
            ).scalars()
            assert list(got) == [None, WINDOW]
        assert plain.efficacy_window_days is None
    finally:
        db.dispose()
