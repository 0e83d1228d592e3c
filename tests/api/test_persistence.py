"""Nothing is lost across a restart, and a database made by an older version upgrades in place."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

import pytest
from alembic import command
from sqlalchemy import Table, create_engine, insert, inspect, select, text, update
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.sql.expression import TableClause

from api.services import trials
from api.services.admin import create_key
from api.services.integrity import check
from api.storage import audit
from api.storage.audit import verify
from api.storage.db import Database, alembic_config
from api.storage.models import Base, PatientRecord, Recommendation, Trial, utcnow
from escalation import decision_to_json, parse_document
from tests.api.conftest import (
    PG_ADMIN_URL,
    ROLES,
    Api,
    PgSchema,
    make_trial,
    new_database_url,
    start_api,
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_everything_survives_a_restart(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    url = new_database_url(kind, tmp_path, pg_schemas)
    server, db = start_api(url)
    keys = {role: create_key(db, role=role, name=role, actor="test")[1] for role in ROLES}
    with server:
        api = Api(server=server, db=db, keys=keys)
        trial_id = make_trial(api, example)
        with api.client("data-system") as c:
            c.put(
                f"/v1/trials/{trial_id}/patients/P012",
                json={
                    "dose_level": 3,
                    "infused_on": "2026-07-15",
                    "dlt": True,
                    "dlt_on": "2026-07-25",
                },
            ).raise_for_status()
        rec = accept_recommendation(api, trial_id)
        before = snapshot(api, trial_id, rec["id"])
    db.dispose()

    server2, db2 = start_api(url)
    with server2:
        after = snapshot(Api(server=server2, db=db2, keys=keys), trial_id, rec["id"])
    with db2.read() as s:
        n, problem = verify(s)
    db2.dispose()
    assert after == before
    assert len(after["patients"]) == 12 and after["patients"][-1]["version"] == 2
    assert after["recommendation"]["decision"]["action"] == "de-escalate"
    assert len(after["decisions"]) == 1
    assert problem is None and n == len(after["audit"]) + 4  # + the 4 key creations


def accept_recommendation(api: Api, trial_id: int) -> dict[str, Any]:
    """The trial's recommendation as of 2026-08-20, accepted by the SRC."""
    with api.client("src") as c:
        rec: dict[str, Any] = c.get(
            f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"}
        ).json()
        c.post(
            f"/v1/trials/{trial_id}/decisions",
            json={"recommendation_id": rec["id"], "action": "accept"},
        ).raise_for_status()
    return rec


def snapshot(api: Api, trial_id: int, rec_id: int) -> dict[str, Any]:
    """Everything the service holds about a trial, as read over HTTP."""
    with api.client("admin") as c:
        return {
            "trial": c.get(f"/v1/trials/{trial_id}").json(),
            "patients": c.get(f"/v1/trials/{trial_id}/patients").json()["items"],
            "recommendation": c.get(f"/v1/recommendations/{rec_id}").json(),
            "same_again": c.get(
                f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"}
            ).json()["id"],
            "decisions": c.get(f"/v1/trials/{trial_id}/decisions").json()["items"],
            "audit": c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 500}).json()["items"],
        }


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_older_schema_upgrades_in_place(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    url = new_database_url(kind, tmp_path, pg_schemas)
    old = Database(url, audit_key=b"")  # no MAC column before 0005
    old.migrate("0001")  # the first released schema: no simulation jobs yet
    assert old.current_revision() == "0001"
    assert not inspect(old.engine).has_table("simulation_jobs")
    _, key = create_key(old, role="admin", name="made by 0001", actor="test")
    trial_id = legacy_trial(old, example | {"name": "old", "patients": example["patients"][:1]})
    old.dispose()

    server, db = start_api(url)  # start-up migrates to the head
    with server:
        api = Api(server=server, db=db, keys={"admin": key})
        with api.client("admin") as c:
            assert c.get("/readyz").json()["schema_revision"] == db.head_revision() == "0008"
            assert c.get(f"/v1/trials/{trial_id}").json()["name"] == "old"
            assert c.get(f"/v1/trials/{trial_id}/patients").json()["items"][0]["id"] == "P001"
            job = c.post(
                "/v1/simulations",
                json={
                    "design": {"method": "boin", "target": 0.3},
                    "trials": 10,
                    "seed": 1,
                    "scenarios": [{"name": "S", "true_dlt_probs": [0.1, 0.3]}],
                },
            )
            assert job.status_code == 202, job.text
    with db.read() as s:
        n, problem = verify(s)  # key, trial, patient (0001) + the job's entries (0002)
    db.dispose()
    assert problem is None and n >= 4


#: the columns of trials and patients up to schema revision 0006
_LEGACY_COLUMNS = {
    "trials": (
        "name",
        "design",
        "doses",
        "dlt_window_days",
        "created_at",
        "created_by",
        "updated_at",
        "version",
    ),
    "patients": (
        "trial_id",
        "patient_id",
        "dose_level",
        "infused_on",
        "dlt",
        "dlt_on",
        "withdrawn_on",
        "created_at",
        "updated_at",
        "updated_by",
        "version",
    ),
}


def _legacy_table(model: type[Base]) -> TableClause:
    table = cast(Table, model.__table__)
    names = _LEGACY_COLUMNS[table.name]
    return sa_table(table.name, *(sa_column(c.name, c.type) for c in table.c if c.name in names))


def legacy_trial(db: Database, document: dict[str, Any], actor: str = "test") -> int:
    """A trial and its patients as the service wrote them before schema revision 0007 (the
    columns and audit entries of then): the models of today no longer fit an older schema."""
    doc = parse_document({k: document[k] for k in ("design", "doses", "dlt_window_days")})
    protocol = {
        "name": document.get("name"),
        "design": doc.design.options(),
        "doses": [
            {"level": d.level, "label": d.label} | ({"amount": d.amount} if d.amount else {})
            for d in doc.doses
        ],
        "dlt_window_days": doc.data.dlt_window_days,
    }
    now = utcnow()
    with db.write() as s:
        trial_id: int = s.execute(
            insert(_legacy_table(Trial)).returning(sa_column("id")),
            protocol | {"created_at": now, "created_by": actor, "updated_at": now, "version": 1},
        ).scalar_one()
        audit.append(
            s,
            actor=actor,
            action="trial.create",
            entity_type="trial",
            entity_id=trial_id,
            trial_id=trial_id,
            after=protocol,
        )
        for p in document["patients"]:
            assert set(p) <= {"id", "dose_level", "infused_on", "dlt", "dlt_on", "withdrawn_on"}
            dates = {
                k: dt.date.fromisoformat(p[k]) if p.get(k) else None
                for k in ("infused_on", "dlt_on", "withdrawn_on")
            }
            s.execute(
                insert(_legacy_table(PatientRecord)),
                {"trial_id": trial_id, "patient_id": p["id"], "dose_level": p["dose_level"]}
                | dates
                | {"dlt": p["dlt"], "created_at": now, "updated_at": now, "updated_by": actor}
                | {"version": 1},
            )
            audit.append(
                s,
                actor=actor,
                action="patient.create",
                entity_type="patient",
                entity_id=p["id"],
                trial_id=trial_id,
                after=p | {"version": 1},
            )
    return trial_id


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_records_of_0006_read_verify_and_decide_as_before_after_0007(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    """Patients and trials written before the whole trial's fields, and their audit entries,
    upgrade in place: the same recommendation as the library's, a clean tamper check, a record
    posted again unchanged; a response recorded afterwards is a new version, and with it in the
    database the downgrade below 0007 refuses (it would delete it)."""
    url = new_database_url(kind, tmp_path, pg_schemas)
    old = Database(url)
    old.migrate("0006")
    _, key = create_key(old, role="admin", name="made by 0006", actor="test")
    trial_id = legacy_trial(old, example)
    old.dispose()

    server, db = start_api(url)  # start-up migrates to the head
    try:
        keys = {
            "admin": key,
            "data-system": create_key(db, role="data-system", name="d", actor="t")[1],
        }
        with server:
            api = Api(server=server, db=db, keys=keys)
            with db.read() as s:
                report = check(s)
            assert report.intact and report.rows >= 14, [str(p) for p in report.problems]
            with api.client("admin") as c:
                rec = c.get(
                    f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]}
                ).json()
                patients = c.get(f"/v1/trials/{trial_id}/patients").json()["items"]
            document = {k: v for k, v in example.items() if k != "name"}
            doc = parse_document(document)
            assert rec["decision"] == decision_to_json(doc.design.decide(doc.data), doc)
            assert rec["snapshot"]["patients"] == example["patients"]
            assert {(p["cohort"], p["indication"], p["response"]) for p in patients} == {
                ("escalation", None, None)
            }
            p001 = {k: v for k, v in example["patients"][0].items() if k != "id"}
            with api.client("data-system") as c:
                url_p001 = f"/v1/trials/{trial_id}/patients/P001"
                assert c.put(url_p001, json=p001).json()["version"] == 1  # unchanged
                assessed = p001 | {"response": True, "response_on": "2026-04-01"}
                assert c.put(url_p001, json=assessed).json()["version"] == 2
        with db.read() as s:
            assert check(s).intact
        with pytest.raises(RuntimeError, match="would delete"), db.engine.begin() as conn:
            command.downgrade(alembic_config(conn), "0006")
        assert db.current_revision() == db.head_revision() == "0008"
    finally:
        db.dispose()


def test_a_recommendation_without_its_stored_body_is_served_the_same(
    api: Api, example: dict[str, Any]
) -> None:
    """Rows made before schema 0003 have no stored body: theirs is rendered from the columns, byte
    for byte as it would have been stored."""
    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/recommendation"
    with api.client("src") as c:
        first = c.get(url, params={"as_of": example["as_of"]})
        rid = first.json()["id"]
        with api.db.write() as s:
            s.execute(
                update(Recommendation).where(Recommendation.id == rid).values(response_json=None)
            )
        again = c.get(url, params={"as_of": example["as_of"]})
        by_id = c.get(f"/v1/recommendations/{rid}")
    with api.db.read() as s:
        assert (
            s.scalar(select(Recommendation.response_json).where(Recommendation.id == rid)) is None
        )
    assert first.status_code == again.status_code == by_id.status_code == 200
    assert again.content == first.content == by_id.content
    assert again.headers["location"] == f"/v1/recommendations/{rid}"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_downgrade_and_upgrade_again_keep_everything(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    """Down to 0002 and up again (each downgrade undone by its upgrade), with a decision on a
    recommendation in the database: nothing is lost and the data version starts anew at the
    clock, above anything it was before."""
    url = new_database_url(kind, tmp_path, pg_schemas)
    server, db = start_api(url)
    keys = {role: create_key(db, role=role, name=role, actor="test")[1] for role in ROLES}
    with server:
        api = Api(server=server, db=db, keys=keys)
        trial_id = make_trial(api, example)
        rec = accept_recommendation(api, trial_id)
        before = snapshot(api, trial_id, rec["id"])
    with db.connect() as conn:
        version = conn.execute(
            text("SELECT data_version FROM trials WHERE id = :t"), {"t": trial_id}
        ).scalar_one()
    with db.engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")
    assert db.current_revision() == "0002"
    assert "data_version" not in {c["name"] for c in inspect(db.engine).get_columns("trials")}
    db.dispose()

    server2, db2 = start_api(url)  # start-up migrates to the head again
    with server2:
        after = snapshot(Api(server=server2, db=db2, keys=keys), trial_id, rec["id"])
    with db2.connect() as conn:
        again = conn.execute(
            text("SELECT data_version FROM trials WHERE id = :t"), {"t": trial_id}
        ).scalar_one()
    with db2.read() as s:
        _, problem = verify(s)
    db2.dispose()
    assert after == before and after["same_again"] == rec["id"]
    assert again > version
    assert problem is None


def postgres_with_trials(
    tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> tuple[Database, list[int]]:
    """A fresh PostgreSQL database (its own schema) with two trials of one patient each."""
    db = Database(new_database_url("postgresql", tmp_path, pg_schemas))
    db.migrate()
    ids = []
    for _ in range(2):
        body = {k: example[k] for k in ("design", "doses", "dlt_window_days")}
        trial = trials.create_trial(db, body, actor="test")
        p = example["patients"][0]
        body = {k: v for k, v in p.items() if k != "id"}
        trials.upsert_patient(db, trial.id, p["id"], body, if_match=None, actor="test")
        ids.append(trial.id)
    return db, ids


def test_truncating_raises_every_data_version(
    tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    """PostgreSQL: TRUNCATE fires no row trigger; a statement trigger raises every trial."""
    db, ids = postgres_with_trials(tmp_path, pg_schemas, example)
    query = text("SELECT id, data_version FROM trials ORDER BY id")
    try:
        with db.connect() as conn:
            before: dict[int, int] = {t: v for t, v in conn.execute(query)}
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE patients"))
        with db.connect() as conn:
            after: dict[int, int] = {t: v for t, v in conn.execute(query)}
    finally:
        db.dispose()
    assert after == {t: before[t] + 1 for t in ids}


def test_a_session_on_another_search_path_raises_the_data_version(
    tmp_path: Path, pg_schemas: list[PgSchema], example: dict[str, Any]
) -> None:
    """PostgreSQL: a session whose search_path does not lead to the service's schema (a console
    on the default path, naming the schema) still raises the data version of the trial it
    changes: the trigger functions keep the search_path they were made with."""
    db, ids = postgres_with_trials(tmp_path, pg_schemas, example)
    query = text("SELECT data_version FROM trials WHERE id = :t")
    try:
        with db.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            before = conn.execute(query, {"t": ids[0]}).scalar_one()
        console = create_engine(PG_ADMIN_URL)
        try:
            with console.begin() as conn:
                assert conn.execute(text("SELECT current_schema()")).scalar_one() != schema
                conn.execute(
                    text(f'UPDATE "{schema}".patients SET dlt = NOT dlt WHERE trial_id = :t'),
                    {"t": ids[0]},
                )
        finally:
            console.dispose()
        with db.connect() as conn:
            assert conn.execute(query, {"t": ids[0]}).scalar_one() == before + 1
    finally:
        db.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_head_revision_has_the_models_columns(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema]
) -> None:
    """The migrations own the schema; the models must name the same columns, with the same
    nullability, in every table (models.py says so)."""
    db = Database(new_database_url(kind, tmp_path, pg_schemas))
    try:
        db.migrate()
        found = inspect(db.engine)
        for table in Base.metadata.sorted_tables:
            migrated = {c["name"]: c["nullable"] for c in found.get_columns(table.name)}
            modelled = {c.name: bool(c.nullable) for c in table.columns}
            assert migrated == modelled, table.name
    finally:
        db.dispose()
