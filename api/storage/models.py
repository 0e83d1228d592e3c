"""The ORM models (SQLAlchemy 2, typed declarative mapping).

The schema itself is owned by the Alembic migrations in ``api/storage/migrations``; these classes
must match the head revision (a test compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiKey",
    "AuditEntry",
    "AuditHead",
    "Base",
    "PatientRecord",
    "Recommendation",
    "SimulationJob",
    "SrcDecision",
    "Trial",
    "UiSession",
    "utcnow",
]


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC timestamps")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        Any: JSON(),
    }


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    @property
    def actor(self) -> str:
        """How audit entries name this key."""
        return f"key:{self.id}:{self.name}"


class Trial(Base):
    """A trial: its protocol (design, doses, DLT window) is frozen once a patient exists."""

    __tablename__ = "trials"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(Text)
    design: Mapped[dict[str, Any]]
    doses: Mapped[Any]
    dlt_window_days: Mapped[int]
    # the trial's indications (a list of names; schema revision 0007), NULL: none declared
    indications: Mapped[Any | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    # days by which a response is known (schema revision 0008), NULL: the document default, 90
    efficacy_window_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(300))
    updated_at: Mapped[dt.datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # raised by database triggers on every change of the trial's row, its patient rows or its
    # stored recommendations (schema revision 0004): equal data versions mean equal trial
    # documents and stored recommendations. Never written from here; deferred, so that the ORM
    # neither reads nor returns it unasked.
    data_version: Mapped[int] = mapped_column(
        BigInteger, nullable=False, server_default=text("0"), deferred=True
    )

    __mapper_args__ = {  # noqa: RUF012 - declared so by SQLAlchemy
        "version_id_col": version,
        "eager_defaults": False,
    }


class PatientRecord(Base):
    """The current version of one patient's record; earlier versions live in the audit trail."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("trial_id", "patient_id", name="uq_patients_trial_patient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    dose_level: Mapped[int]
    infused_on: Mapped[dt.date] = mapped_column(Date)
    dlt: Mapped[bool]
    dlt_on: Mapped[dt.date | None] = mapped_column(Date)
    withdrawn_on: Mapped[dt.date | None] = mapped_column(Date)
    # the whole trial's facts (schema revision 0007): escalation, backfill or expansion; the
    # indication (one of the trial's); the response (NULL while unknown) and its date
    cohort: Mapped[str] = mapped_column(
        String(16), default="escalation", server_default=text("'escalation'")
    )
    indication: Mapped[str | None] = mapped_column(Text)
    response: Mapped[bool | None]
    response_on: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    updated_by: Mapped[str] = mapped_column(String(300))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - declared so by SQLAlchemy

    def as_document(self) -> dict[str, Any]:
        """The record as in a trial document. The whole trial's fields appear only when they
        differ from a document's defaults (escalation, no indication, response unknown), so a
        record without them reads, and is audited, exactly as before schema revision 0007."""
        record: dict[str, Any] = {
            "id": self.patient_id,
            "dose_level": self.dose_level,
            "infused_on": self.infused_on.isoformat(),
            "dlt": self.dlt,
        }
        if self.dlt_on is not None:
            record["dlt_on"] = self.dlt_on.isoformat()
        if self.withdrawn_on is not None:
            record["withdrawn_on"] = self.withdrawn_on.isoformat()
        if self.cohort != "escalation":
            record["cohort"] = self.cohort
        if self.indication is not None:
            record["indication"] = self.indication
        if self.response is not None:
            record["response"] = self.response
        if self.response_on is not None:
            record["response_on"] = self.response_on.isoformat()
        return record


class Recommendation(Base):
    """A decision computed on the stored data as of a date, with everything needed to reproduce it."""

    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint(
            "trial_id",
            "as_of",
            "data_hash",
            "design_hash",
            "engine_version",
            name="uq_recommendations_inputs",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    snapshot: Mapped[dict[str, Any]]
    data_hash: Mapped[str] = mapped_column(String(64))
    design_hash: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]]
    hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(300))
    # the JSON body served for this recommendation, written once with it (the columns above,
    # rendered): a stored recommendation is sent as these bytes, not serialized again. NULL for
    # rows made before schema revision 0003, whose body is built from the columns.
    response_json: Mapped[str | None] = mapped_column(Text, deferred=True)


class SrcDecision(Base):
    """The safety review committee's decision on one recommendation (accepted or overridden)."""

    __tablename__ = "src_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id"), index=True)
    # not unique: a superseding decision may answer the same recommendation (the service keeps
    # one current decision per recommendation)
    recommendation_id: Mapped[int] = mapped_column(ForeignKey("recommendations.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    dose_level: Mapped[int | None]
    rationale: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[dt.datetime]
    decided_by: Mapped[str] = mapped_column(String(300))
    # what a confirmed risky override does ("skips untried dose level 3", ...); NULL: none
    risk_flags: Mapped[Any | None] = mapped_column(JSON, nullable=True)
    # the decision this one replaces (made in error), and why; each is superseded at most once
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("src_decisions.id"), unique=True, nullable=True
    )
    supersede_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class UiSession(Base):
    """A signed-in browser session of the committee's pages (the cookie itself is never stored)."""

    __tablename__ = "ui_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class AuditEntry(Base):
    """One append-only audit record, chained to the previous one by its hash."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(64))
    trial_id: Mapped[int | None] = mapped_column(index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(128))
    before: Mapped[Any | None]
    after: Mapped[Any | None]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 of ``hash`` under the audit key, kept outside the database (revision 0005;
    # NULL for entries written before it)
    mac: Mapped[str | None] = mapped_column(String(64))


class AuditHead(Base):
    """The single row naming the last audit entry: appends lock it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int]
    last_hash: Mapped[str] = mapped_column(String(64))
    # the first entry that carries a MAC: 1, or the one after the entries a database held when
    # it was upgraded to revision 0005
    keyed_from: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class SimulationJob(Base):
    """A simulation run in a worker process: status, progress and, when done, the results."""

    __tablename__ = "simulation_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[dict[str, Any]]
    progress_done: Mapped[int]
    progress_total: Mapped[int | None]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
