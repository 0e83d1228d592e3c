"""The audit trail is keyed (a MAC per entry) and append-only.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

``audit_entries.mac`` holds HMAC-SHA256 of the entry's hash under the audit key, a secret kept
outside the database (``api.storage.audit.load_key``); entries already present when this revision
is applied have none, and ``audit_head.keyed_from`` names the first entry that must carry one.

Triggers refuse every UPDATE and DELETE of an audit entry (and TRUNCATE on PostgreSQL), and any
move of the chain head backwards. On PostgreSQL, UPDATE, DELETE and TRUNCATE on the audit table
are also revoked from PUBLIC; a role that owns the tables keeps its rights (an owner can disable
triggers): run the service under a role that does not own them (README, "Tamper evidence").
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "the audit trail is append-only"
_SQLITE = [
    f"""CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
    BEGIN SELECT RAISE(ABORT, '{_REFUSE}: no UPDATE'); END""",
    f"""CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
    BEGIN SELECT RAISE(ABORT, '{_REFUSE}: no DELETE'); END""",
    f"""CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    WHEN NEW.last_seq < OLD.last_seq OR NEW.keyed_from <> OLD.keyed_from
    BEGIN SELECT RAISE(ABORT, '{_REFUSE}: the head never moves back'); END""",
    f"""CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    BEGIN SELECT RAISE(ABORT, '{_REFUSE}: no DELETE of the head'); END""",
]
_SQLITE_TRIGGERS = [
    "audit_entries_no_update",
    "audit_entries_no_delete",
    "audit_head_forward_only",
    "audit_head_no_delete",
]
_POSTGRESQL = [
    f"""CREATE FUNCTION escalation_audit_append_only() RETURNS trigger LANGUAGE plpgsql
    SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_TABLE_NAME = 'audit_head' AND TG_OP = 'UPDATE' THEN
            IF NEW.last_seq >= OLD.last_seq AND NEW.keyed_from = OLD.keyed_from THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION '{_REFUSE}: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END $$""",
    """CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION escalation_audit_append_only()""",
    """CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION escalation_audit_append_only()""",
    """CREATE TRIGGER audit_head_forward_only BEFORE UPDATE OR DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION escalation_audit_append_only()""",
    """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION escalation_audit_append_only()""",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM PUBLIC",
]
_POSTGRESQL_DROP = [
    "DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries",
    "DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries",
    "DROP TRIGGER IF EXISTS audit_head_forward_only ON audit_head",
    "DROP TRIGGER IF EXISTS audit_head_no_truncate ON audit_head",
    "DROP FUNCTION IF EXISTS escalation_audit_append_only()",
]


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.add_column("audit_entries", sa.Column("mac", sa.String(64), nullable=True))
    op.add_column(
        "audit_head",
        sa.Column("keyed_from", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    op.execute("UPDATE audit_head SET keyed_from = last_seq + 1")
    for statement in _SQLITE if _is_sqlite() else _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if _is_sqlite():
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("ALTER TABLE audit_head DROP COLUMN keyed_from")
        op.execute("ALTER TABLE audit_entries DROP COLUMN mac")
    else:
        for statement in _POSTGRESQL_DROP:
            op.execute(statement)
        op.drop_column("audit_head", "keyed_from")
        op.drop_column("audit_entries", "mac")
