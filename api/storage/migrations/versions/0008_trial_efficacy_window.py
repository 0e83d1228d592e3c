"""Trials carry their efficacy window.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``trials.efficacy_window_days``: the days after the infusion by which a patient's response is
known (BOIN12, TITE-BOIN12: DESIGN.md section 3), NULL when the trial does not set it, which means
the trial document's default (90 days), as a document without the field does. Existing rows read
exactly as before: a trial without the window gives the same trial document, the same design hash
and the same audit entries.

The downgrade refuses while a trial sets its efficacy window: going back would change the
decisions of that trial's stored protocol, which the audit trail records.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("trials", sa.Column("efficacy_window_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    n_trials = bind.execute(
        sa.text("SELECT count(*) FROM trials WHERE efficacy_window_days IS NOT NULL")
    ).scalar_one()
    if n_trials:
        raise RuntimeError(
            f"{n_trials} trial(s) set their efficacy window: downgrading below 0008 would delete it"
        )
    # not batch mode: rebuilding the table would break its foreign keys and triggers
    op.execute("ALTER TABLE trials DROP COLUMN efficacy_window_days")
