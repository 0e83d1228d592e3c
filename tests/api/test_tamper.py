"""Tamper evidence for the data itself (issue 15, section 2): every row-tamper and chain-tamper
case of ``tests/api/tampering.py`` is caught by the verification that ``escalation audit verify``
runs, on SQLite and on PostgreSQL. Before the replay, the MACs and the anchor, none of the eight
row cases and none of the five chain cases was caught.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api.services.integrity import check
from api.storage import audit
from api.storage.db import Database
from tests.api.conftest import PgSchema, new_database_url
from tests.api.tampering import CHAIN_CASES, ROW_CASES, prepare

KINDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=KINDS)
def audited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Database, tuple[int, str]]:
    """One prepared database per kind, and its head as recorded after preparing it."""
    from tests.api.conftest import postgres_unreachable

    schemas: list[PgSchema] = []
    if request.param == "postgresql" and (why := postgres_unreachable()):
        pytest.skip(why)
    url = new_database_url(request.param, tmp_path_factory.mktemp("tamper"), schemas)
    db = Database(url)
    db.migrate()
    prepare(db)
    with db.read() as s:
        anchor_at = audit.head(s)
    yield db, anchor_at
    db.dispose()
    for schema in schemas:
        schema.drop()


def test_the_prepared_database_verifies_clean(audited: tuple[Database, tuple[int, str]]) -> None:
    db, anchor_at = audited
    with db.read() as s:
        report = check(s, anchor_at=anchor_at)
    assert report.intact, report.problems
    assert report.entries == anchor_at[0] and report.rows >= 10


@pytest.mark.parametrize("case", sorted(ROW_CASES))
def test_a_data_row_changed_in_the_database_is_caught(
    audited: tuple[Database, tuple[int, str]], case: str
) -> None:
    db, anchor_at = audited
    with db.read() as s:  # tampered and checked in one transaction, rolled back at the end
        expected = ROW_CASES[case](s)
        s.flush()
        report = check(s, anchor_at=anchor_at)
    assert not report.intact
    messages = [str(p) for p in report.problems]
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("case", sorted(CHAIN_CASES))
def test_the_chain_rewritten_in_the_database_is_caught(
    audited: tuple[Database, tuple[int, str]], case: str
) -> None:
    db, anchor_at = audited
    with db.read() as s:
        expected = CHAIN_CASES[case](s)
        s.flush()
        report = check(s, anchor_at=anchor_at)
    assert not report.intact
    messages = [str(p) for p in report.problems]
    assert any(expected in m for m in messages), messages


def test_without_the_key_a_rehashed_chain_would_pass(
    audited: tuple[Database, tuple[int, str]],
) -> None:
    """The negative control: the re-hashed chain passes a check that has no key, no anchor and no
    replay, as it did before; the MAC is what catches it."""
    db, _ = audited
    with db.read() as s:
        CHAIN_CASES["rehashed-after-edit"](s)
        s.flush()
        _, problem = audit.walk(s, macs=False)
        with_key = check(s)
    assert problem is None
    assert not with_key.intact


def test_the_audit_table_refuses_update_and_delete(
    audited: tuple[Database, tuple[int, str]],
) -> None:
    db, _ = audited
    for statement in (
        "UPDATE audit_entries SET actor = 'someone else' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 1",
        "UPDATE audit_head SET last_seq = 1 WHERE id = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"), db.read() as s:
            s.execute(text(statement))
    if not db.is_sqlite:
        with pytest.raises(DBAPIError, match="append-only"), db.read() as s:
            s.execute(text("TRUNCATE audit_entries"))


def test_the_audit_key_file_is_made_private_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(audit.KEY_ENV, raising=False)
    path = tmp_path / "var" / "audit.key"
    monkeypatch.setenv(audit.KEY_FILE_ENV, str(path))
    with pytest.raises(audit.AuditKeyError, match="no audit key"):
        audit.load_key(create=False)
    key = audit.load_key()
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(key) == 64 and audit.load_key(create=False) == key


def test_migration_0005_keeps_older_entries_unkeyed(tmp_path: Path) -> None:
    """A database upgraded from 0004: its entries have no MAC and verify as before; entries
    written after the upgrade carry one."""
    from api.services.admin import create_key

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    db.migrate("0004")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_entries (seq, at, actor, action, trial_id, entity_type, "
                "entity_id, before, after, prev_hash, hash) VALUES (1, '2026-01-01T00:00:00', "
                "'test', 'simulation.create', NULL, 'simulation', '1', NULL, NULL, :p, :h)"
            ),
            {
                "p": audit.GENESIS_HASH,
                "h": audit.entry_hash(
                    {
                        "seq": 1,
                        "at": "2026-01-01T00:00:00",
                        "actor": "test",
                        "action": "simulation.create",
                        "trial_id": None,
                        "entity_type": "simulation",
                        "entity_id": "1",
                        "before": None,
                        "after": None,
                        "prev_hash": audit.GENESIS_HASH,
                    }
                ),
            },
        )
        h = conn.execute(text("SELECT hash FROM audit_entries WHERE seq = 1")).scalar_one()
        conn.execute(text("UPDATE audit_head SET last_seq = 1, last_hash = :h"), {"h": h})
    db.migrate()
    create_key(db, role="src", name="after the upgrade", actor="test")
    with db.read() as s:
        report = check(s)
        macs = s.execute(text("SELECT seq, mac FROM audit_entries ORDER BY seq")).all()
    assert report.intact, report.problems
    assert macs[0].mac is None and macs[1].mac is not None
    db.dispose()
