"""SRC decisions can be superseded, a risky override is flagged, and people sign in to pages.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

A decision made in error is never edited nor deleted: a new decision names it (``supersedes_id``)
with a reason (``supersede_reason``); a decision is superseded at most once (unique). The new
decision may answer the same recommendation, so ``recommendation_id`` is no longer unique (the
service keeps one *current* decision per recommendation). ``risk_flags`` records what an override
the committee confirmed explicitly does: skip an untried dose, enter an eliminated dose.

``ui_sessions`` holds the browser sessions of the committee's pages (``api.ui``): the SHA-256 of
the session cookie, the key it was opened with, its CSRF token and when it expires or ended.

SQLite cannot drop the unnamed unique constraint in place: the table is rebuilt (no other table
refers to it). The downgrade refuses while a decision supersedes another: going back would have
to delete one of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
_OLD_COLUMNS = (
    "id, trial_id, recommendation_id, action, dose_level, rationale, decided_at, decided_by"
)


def _sqlite_rebuild(*, unique_recommendation: bool, new_columns: bool) -> None:
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("trial_id", sa.Integer(), sa.ForeignKey("trials.id"), nullable=False),
        sa.Column(
            "recommendation_id",
            sa.Integer(),
            sa.ForeignKey("recommendations.id"),
            nullable=False,
            unique=unique_recommendation,
        ),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("dose_level", sa.Integer(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("decided_by", sa.String(300), nullable=False),
    ]
    if new_columns:
        columns += [
            sa.Column("risk_flags", sa.JSON(), nullable=True),
            sa.Column(
                "supersedes_id",
                sa.Integer(),
                sa.ForeignKey("src_decisions.id"),
                nullable=True,
                unique=True,
            ),
            sa.Column("supersede_reason", sa.Text(), nullable=True),
        ]
    op.create_table("src_decisions_new", *columns)
    op.execute(
        f"INSERT INTO src_decisions_new ({_OLD_COLUMNS}) SELECT {_OLD_COLUMNS} FROM src_decisions"
    )
    op.drop_index("ix_src_decisions_trial_id", table_name="src_decisions")
    op.drop_table("src_decisions")
    op.rename_table("src_decisions_new", "src_decisions")
    op.create_index("ix_src_decisions_trial_id", "src_decisions", ["trial_id"])


def upgrade() -> None:
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("key_id", sa.Integer(), sa.ForeignKey("api_keys.id"), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(unique_recommendation=False, new_columns=True)
    else:
        op.drop_constraint("src_decisions_recommendation_id_key", "src_decisions", type_="unique")
        op.add_column("src_decisions", sa.Column("risk_flags", sa.JSON(), nullable=True))
        op.add_column(
            "src_decisions",
            sa.Column(
                "supersedes_id", sa.Integer(), sa.ForeignKey("src_decisions.id"), nullable=True
            ),
        )
        op.create_unique_constraint(
            "src_decisions_supersedes_id_key", "src_decisions", ["supersedes_id"]
        )
        op.add_column("src_decisions", sa.Column("supersede_reason", sa.Text(), nullable=True))
    op.create_index("ix_src_decisions_recommendation_id", "src_decisions", ["recommendation_id"])


def downgrade() -> None:
    n = (
        op.get_bind()
        .execute(sa.text("SELECT count(*) FROM src_decisions WHERE supersedes_id IS NOT NULL"))
        .scalar_one()
    )
    if n:
        raise RuntimeError(
            f"{n} SRC decision(s) supersede others: downgrading below 0006 would have to delete "
            "decisions, and none are ever deleted"
        )
    op.drop_index("ix_src_decisions_recommendation_id", table_name="src_decisions")
    op.drop_table("ui_sessions")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_rebuild(unique_recommendation=True, new_columns=False)
    else:
        op.drop_column("src_decisions", "supersede_reason")
        op.drop_constraint("src_decisions_supersedes_id_key", "src_decisions", type_="unique")
        op.drop_column("src_decisions", "supersedes_id")
        op.drop_column("src_decisions", "risk_flags")
        op.create_unique_constraint(
            "src_decisions_recommendation_id_key", "src_decisions", ["recommendation_id"]
        )
