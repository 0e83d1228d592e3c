"""Trials get a data version that the database itself raises on every change of their data.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

``trials.data_version`` goes up whenever a row of the trial changes (any column but the counter
itself) and whenever a patient row of the trial is inserted, updated or deleted. Triggers raise
it, so every change counts, whoever makes it: the service, a script, a hand-written UPDATE. Two
reads that see the same data version saw the same trial document, so a recommendation stored for
(trial, as of, data version) can be served again without reading and hashing the patients
(``api.fast_path``). Existing trials start at 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE = [
    """CREATE TRIGGER patients_insert_data_version AFTER INSERT ON patients
    BEGIN UPDATE trials SET data_version = data_version + 1 WHERE id = NEW.trial_id; END""",
    """CREATE TRIGGER patients_update_data_version AFTER UPDATE ON patients
    BEGIN
        UPDATE trials SET data_version = data_version + 1 WHERE id IN (OLD.trial_id, NEW.trial_id);
    END""",
    """CREATE TRIGGER patients_delete_data_version AFTER DELETE ON patients
    BEGIN UPDATE trials SET data_version = data_version + 1 WHERE id = OLD.trial_id; END""",
    # an UPDATE that sets the counter itself (the triggers above) is not counted twice; SQLite
    # does not fire a trigger from its own body (recursive_triggers is off)
    """CREATE TRIGGER trials_update_data_version AFTER UPDATE ON trials
    WHEN NEW.data_version IS OLD.data_version
    BEGIN UPDATE trials SET data_version = data_version + 1 WHERE id = NEW.id; END""",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS patients_insert_data_version",
    "DROP TRIGGER IF EXISTS patients_update_data_version",
    "DROP TRIGGER IF EXISTS patients_delete_data_version",
    "DROP TRIGGER IF EXISTS trials_update_data_version",
]

_POSTGRESQL = [
    """CREATE FUNCTION escalation_patients_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            UPDATE trials SET data_version = data_version + 1 WHERE id = OLD.trial_id;
        END IF;
        IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.trial_id <> OLD.trial_id) THEN
            UPDATE trials SET data_version = data_version + 1 WHERE id = NEW.trial_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER patients_data_version AFTER INSERT OR UPDATE OR DELETE ON patients
    FOR EACH ROW EXECUTE FUNCTION escalation_patients_data_version()""",
    # an UPDATE that sets the counter itself (the function above) is not counted twice
    """CREATE FUNCTION escalation_trials_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.data_version = OLD.data_version THEN
            NEW.data_version := OLD.data_version + 1;
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER trials_data_version BEFORE UPDATE ON trials
    FOR EACH ROW EXECUTE FUNCTION escalation_trials_data_version()""",
]
_POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS patients_data_version ON patients",
    "DROP TRIGGER IF EXISTS trials_data_version ON trials",
    "DROP FUNCTION IF EXISTS escalation_patients_data_version()",
    "DROP FUNCTION IF EXISTS escalation_trials_data_version()",
]


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column(
        "trials",
        sa.Column("data_version", sa.Integer(), nullable=False, server_default=sa.text("0")),
    )
    for statement in _SQLITE if _is_sqlite() else _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    for statement in _SQLITE_DROP if _is_sqlite() else _POSTGRESQL_DROP:
        op.execute(statement)
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("data_version")
