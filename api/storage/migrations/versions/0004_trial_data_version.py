"""Trials get a data version that the database itself raises on every change of what a
recommendation of theirs is made of, or served from.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

``trials.data_version`` rises whenever the trial's row changes (any column; an UPDATE that would
leave it equal or lower raises it by one instead) and whenever one of the trial's patient rows or
stored recommendations is inserted (patients only), updated or deleted, TRUNCATE included on
PostgreSQL. Triggers raise it, so the changes the service makes count and so do those of a script
or a hand-written UPDATE. A new trial, and every trial when this revision is applied, starts at
the clock in microseconds since 1970: a trial id used again after a deletion (SQLite reuses the
highest id), or a database downgraded and upgraded again, does not meet the values of an earlier
life. Two reads that see the same (trial id, data version) saw the same trial and the same stored
recommendations, so a recommendation found once for (trial, as of, data version) can be served
again after reading only the version (``api.fast_path``).

Not seen: changes made while triggers are off (PostgreSQL ``session_replication_role = replica``,
as ``pg_restore --disable-triggers`` sets it, or ``ALTER TABLE ... DISABLE TRIGGER``): restart the
service after such a restore.

The PostgreSQL functions run with the search_path they were created with (the schema the
migration ran in), whoever fires them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_NOW_US = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"


_RAISE = "UPDATE trials SET data_version = data_version + 1 WHERE id = {}.trial_id"
# what each trigger of a table with a trial_id raises: the trial of the row before and after
_SQLITE_ROW_BODIES = {
    "INSERT": f"{_RAISE.format('NEW')};",
    "UPDATE": f"{_RAISE.format('OLD')}; {_RAISE.format('NEW')} AND NEW.trial_id <> OLD.trial_id;",
    "DELETE": f"{_RAISE.format('OLD')};",
}
_SQLITE_ROW_TRIGGERS = [
    ("patients", "INSERT"),
    ("patients", "UPDATE"),
    ("patients", "DELETE"),
    ("recommendations", "UPDATE"),
    ("recommendations", "DELETE"),
]
_SQLITE = [
    f"""CREATE TRIGGER trials_insert_data_version AFTER INSERT ON trials
    BEGIN UPDATE trials SET data_version = {_SQLITE_NOW_US} WHERE id = NEW.id; END""",
    # SQLite does not fire a trigger from its own body (recursive_triggers is off); the WHEN
    # clause keeps the updates made by the triggers here from being counted twice anyway
    """CREATE TRIGGER trials_update_data_version AFTER UPDATE ON trials
    WHEN NEW.data_version <= OLD.data_version
    BEGIN UPDATE trials SET data_version = OLD.data_version + 1 WHERE id = NEW.id; END""",
] + [
    f"CREATE TRIGGER {table}_{op.lower()}_data_version AFTER {op} ON {table} "
    f"BEGIN {_SQLITE_ROW_BODIES[op]} END"
    for table, op in _SQLITE_ROW_TRIGGERS
]
_SQLITE_TRIGGERS = ["trials_insert_data_version", "trials_update_data_version"] + [
    f"{table}_{op.lower()}_data_version" for table, op in _SQLITE_ROW_TRIGGERS
]

_POSTGRESQL = [
    """CREATE FUNCTION escalation_trials_data_version() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.data_version := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
        ELSIF NEW.data_version <= OLD.data_version THEN
            NEW.data_version := OLD.data_version + 1;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER trials_data_version BEFORE INSERT OR UPDATE ON trials
    FOR EACH ROW EXECUTE FUNCTION escalation_trials_data_version()""",
    # for patients and recommendations alike: rows with a trial_id
    """CREATE FUNCTION escalation_rows_data_version() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            UPDATE trials SET data_version = data_version + 1 WHERE id = OLD.trial_id;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.trial_id <> OLD.trial_id) THEN
            UPDATE trials SET data_version = data_version + 1 WHERE id = NEW.trial_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION escalation_truncate_data_version() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        UPDATE trials SET data_version = data_version + 1;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER patients_data_version AFTER INSERT OR UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION escalation_rows_data_version()""",
    """CREATE TRIGGER recommendations_data_version AFTER UPDATE OR DELETE ON recommendations
    FOR EACH ROW EXECUTE FUNCTION escalation_rows_data_version()""",
    """CREATE TRIGGER patients_truncate_data_version AFTER TRUNCATE ON patients
    FOR EACH STATEMENT EXECUTE FUNCTION escalation_truncate_data_version()""",
    """CREATE TRIGGER recommendations_truncate_data_version AFTER TRUNCATE ON recommendations
    FOR EACH STATEMENT EXECUTE FUNCTION escalation_truncate_data_version()""",
]
_POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS trials_data_version ON trials",
    "DROP TRIGGER IF EXISTS patients_data_version ON patients",
    "DROP TRIGGER IF EXISTS recommendations_data_version ON recommendations",
    "DROP TRIGGER IF EXISTS patients_truncate_data_version ON patients",
    "DROP TRIGGER IF EXISTS recommendations_truncate_data_version ON recommendations",
    "DROP FUNCTION IF EXISTS escalation_trials_data_version()",
    "DROP FUNCTION IF EXISTS escalation_rows_data_version()",
    "DROP FUNCTION IF EXISTS escalation_truncate_data_version()",
]


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column(
        "trials",
        sa.Column("data_version", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    # before the triggers exist: existing trials start at the clock, as new ones will
    op.execute(
        sa.text("UPDATE trials SET data_version = :now").bindparams(now=time.time_ns() // 1000)
    )
    for statement in _SQLITE if _is_sqlite() else _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if _is_sqlite():
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        # not batch mode: rebuilding trials would break the patients' foreign keys
        op.execute("ALTER TABLE trials DROP COLUMN data_version")
    else:
        for statement in _POSTGRESQL_DROP:
            op.execute(statement)
        op.drop_column("trials", "data_version")
