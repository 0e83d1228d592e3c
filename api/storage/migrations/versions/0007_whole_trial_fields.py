"""Patients carry their cohort, indication and response; trials their indications.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

The whole trial (dose exploration, backfill and expansion per indication; DESIGN.md section 7):
``patients.cohort`` (``escalation``, ``backfill`` or ``expansion``; NOT NULL, ``escalation`` for
every existing row, as a trial document without the field means), ``patients.indication``,
``patients.response`` (NULL while unknown) and ``patients.response_on``; ``trials.indications``
(a JSON list of names, NULL: the trial declares none). Existing rows read exactly as before: an
escalation patient without indication or response is the record it was, and its audit entries
(which never named these fields) still agree with it.

The downgrade refuses while a patient or a trial holds any of these facts: going back would
delete clinical data that the audit trail records.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PATIENT_COLUMNS = ("response_on", "response", "indication", "cohort")


def upgrade() -> None:
    op.add_column("trials", sa.Column("indications", sa.JSON(), nullable=True))
    op.add_column(
        "patients",
        sa.Column("cohort", sa.String(16), nullable=False, server_default=sa.text("'escalation'")),
    )
    op.add_column("patients", sa.Column("indication", sa.Text(), nullable=True))
    op.add_column("patients", sa.Column("response", sa.Boolean(), nullable=True))
    op.add_column("patients", sa.Column("response_on", sa.Date(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    n_patients = bind.execute(
        sa.text(
            "SELECT count(*) FROM patients WHERE cohort <> 'escalation' OR indication IS NOT NULL "
            "OR response IS NOT NULL OR response_on IS NOT NULL"
        )
    ).scalar_one()
    n_trials = bind.execute(
        sa.text("SELECT count(*) FROM trials WHERE indications IS NOT NULL")
    ).scalar_one()
    if n_patients or n_trials:
        raise RuntimeError(
            f"{n_patients} patient(s) and {n_trials} trial(s) hold a cohort, an indication or a "
            "response: downgrading below 0007 would delete them"
        )
    # not batch mode: rebuilding the tables would break their foreign keys and triggers
    for column in _PATIENT_COLUMNS:
        op.execute(f"ALTER TABLE patients DROP COLUMN {column}")
    op.execute("ALTER TABLE trials DROP COLUMN indications")
