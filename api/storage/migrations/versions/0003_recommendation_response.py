"""Recommendations keep the response body they were served with, so a stored one is sent as is.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Rows made before this revision have no body (NULL): the service builds theirs from the columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(sa.Column("response_json", sa.Text(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # not batch mode: rebuilding recommendations would break the SRC decisions' foreign keys
        op.execute("ALTER TABLE recommendations DROP COLUMN response_json")
    else:
        op.drop_column("recommendations", "response_json")
