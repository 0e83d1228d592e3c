"""Tamper evidence for the data: replay the audit trail and compare every data row with it.

The audit chain (``api.storage.audit``) shows that the trail itself was not altered, re-hashed
(its MACs), cut short (the anchor) or forked. This module shows that the data the service serves
are the data the trail records: walking the chain, it rebuilds the state each entry leaves (the
protocol of each trial, each patient's current record, each stored recommendation's inputs and
decision, each SRC decision, each API key's name, role, hash and revocation), then compares every
row of those tables with it. A row changed, added or deleted outside the service disagrees with
the trail. A stored recommendation is also checked against itself: its snapshot must give its
data and design hashes, its result its result hash, and its stored body must be its columns.

Not compared: simulation jobs (no clinical data), timestamps and row version counters, and
entries written before schema revision 0005 for key hashes (they did not record them).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.services.recommendations import data_hash, design_hash, render, result_hash
from api.services.trials import PROTOCOL_KEYS, RECORD_KEYS
from api.storage import audit
from api.storage.audit import AuditProblem
from api.storage.models import (
    ApiKey,
    AuditEntry,
    PatientRecord,
    Recommendation,
    SrcDecision,
    Trial,
)

__all__ = ["IntegrityReport", "check"]

_PROTOCOL = PROTOCOL_KEYS
# a patient's record as the trail holds it, with its version: the whole trial's fields (schema
# revision 0007) are recorded only when they differ from a document's defaults, as
# ``PatientRecord.as_document`` gives them, so entries written before them agree with rows that
# hold the defaults
_PATIENT = (*RECORD_KEYS, "version")
_RECOMMENDATION = ("as_of", "action", "next_dose", "data_hash", "design_hash", "engine_version")
_DECISION = ("recommendation_id", "action", "dose_level", "rationale")


@dataclass
class _Trail:
    """The state the audit trail records, entry by entry."""

    trials: dict[int, dict[str, Any]] = field(default_factory=dict)
    patients: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    recommendations: dict[int, dict[str, Any]] = field(default_factory=dict)
    decisions: dict[int, dict[str, Any]] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_entry: dict[tuple[str, str], int] = field(default_factory=dict)

    def visit(self, entry: AuditEntry) -> None:
        after, trial_id = entry.after, entry.trial_id
        kind = entry.entity_type
        if not isinstance(after, dict):
            return
        self.last_entry[(kind, entry.entity_id)] = entry.seq
        if kind == "trial" and entry.action in ("trial.create", "trial.update"):
            self.trials[int(entry.entity_id)] = after
        elif kind == "patient" and trial_id is not None:
            self.patients[(trial_id, entry.entity_id)] = after
        elif kind == "recommendation":
            self.recommendations[int(entry.entity_id)] = after | {"trial_id": trial_id}
        elif kind == "decision":
            self.decisions[int(entry.entity_id)] = after | {"trial_id": trial_id}
        elif kind == "key":
            self.keys[int(entry.entity_id)] = after


@dataclass(frozen=True, slots=True)
class IntegrityReport:
    """What ``check`` found: entries walked, rows compared, and every problem."""

    entries: int
    rows: int
    problems: tuple[AuditProblem, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def _differs(what: str, fields: list[str]) -> str:
    return f"{what} differs from its audit trail ({', '.join(fields)}): changed outside the service"


def _compare(
    rows: dict[Any, dict[str, Any]],
    trail: dict[Any, dict[str, Any]],
    keys: tuple[str, ...],
    name: Callable[[Any], str],
    where: Callable[[Any], int | None],
    optional: tuple[str, ...] = (),
) -> list[AuditProblem]:
    """Each row against the state the trail records for it (a field in ``optional`` only where
    the trail has it: entries older than the field), and each recorded row that is gone."""
    problems = []
    for ident, row in rows.items():
        recorded = trail.get(ident)
        if recorded is None:
            problems.append(
                AuditProblem(None, f"{name(ident)} has no audit entry: added outside the service")
            )
            continue
        fields = [
            k
            for k in keys
            if (k in recorded or k not in optional) and row.get(k) != recorded.get(k)
        ]
        if fields:
            problems.append(AuditProblem(where(ident), _differs(name(ident), fields)))
    for ident in trail.keys() - rows.keys():
        problems.append(
            AuditProblem(
                where(ident),
                f"{name(ident)} is in the audit trail but not in the "
                "database: deleted outside the service",
            )
        )
    return problems


def _recommendation_problems(rec: Recommendation) -> list[str]:
    """What a stored recommendation's own columns contradict."""
    wrong = []
    if data_hash(rec.snapshot) != rec.data_hash:
        wrong.append("its snapshot does not give its data hash")
    if design_hash(rec.snapshot) != rec.design_hash:
        wrong.append("its snapshot does not give its design hash")
    if result_hash(rec.data_hash, rec.design_hash, rec.engine_version, rec.result) != rec.hash:
        wrong.append("its decision does not give its result hash")
    if rec.response_json is not None and json.loads(rec.response_json) != json.loads(render(rec)):
        wrong.append("its stored response body is not its columns")
    return wrong


def check(
    session: Session, *, key: bytes | None = None, anchor_at: tuple[int, str] | None = None
) -> IntegrityReport:
    """Verify the chain (hashes, MACs, head, ``anchor_at``) and every data row against it."""
    trail = _Trail()
    n, chain_problem = audit.walk(session, key=key, anchor_at=anchor_at, visit=trail.visit)
    problems: list[AuditProblem] = [chain_problem] if chain_problem else []

    def seq_of(kind: str) -> Callable[[Any], int | None]:
        return lambda ident: trail.last_entry.get(
            (kind, ident[1] if isinstance(ident, tuple) else str(ident))
        )

    trials = {t.id: {k: getattr(t, k) for k in _PROTOCOL} for t in session.scalars(select(Trial))}
    problems += _compare(trials, trail.trials, _PROTOCOL, lambda i: f"trial {i}", seq_of("trial"))
    patients = {
        (p.trial_id, p.patient_id): p.as_document() | {"version": p.version}
        for p in session.scalars(select(PatientRecord))
    }
    problems += _compare(
        patients,
        trail.patients,
        _PATIENT,
        lambda i: f"patient {i[1]} of trial {i[0]}",
        seq_of("patient"),
    )
    recs: dict[int, dict[str, Any]] = {}
    for rec in session.scalars(select(Recommendation)):
        recs[rec.id] = {
            "trial_id": rec.trial_id,
            "as_of": rec.as_of.isoformat(),
            "action": rec.result.get("action"),
            "next_dose": rec.result.get("next_dose"),
            "data_hash": rec.data_hash,
            "design_hash": rec.design_hash,
            "engine_version": rec.engine_version,
            "hash": rec.hash,
        }
        for wrong in _recommendation_problems(rec):
            problems.append(
                AuditProblem(seq_of("recommendation")(rec.id), f"recommendation {rec.id}: {wrong}")
            )
    problems += _compare(
        recs,
        trail.recommendations,
        ("trial_id", *_RECOMMENDATION, "hash"),
        lambda i: f"recommendation {i}",
        seq_of("recommendation"),
    )
    decisions = {
        d.id: {k: getattr(d, k) for k in ("trial_id", *_DECISION)}
        for d in session.scalars(select(SrcDecision))
    }
    problems += _compare(
        decisions,
        trail.decisions,
        ("trial_id", *_DECISION),
        lambda i: f"SRC decision {i}",
        seq_of("decision"),
    )
    keys = {
        k.id: {
            "id": k.id,
            "name": k.name,
            "role": k.role,
            "key_prefix": k.key_prefix,
            "key_hash": k.key_hash,
            "revoked": k.revoked_at is not None,
        }
        for k in session.scalars(select(ApiKey))
    }
    trail_keys = {i: {"revoked": False} | after for i, after in trail.keys.items()}
    problems += _compare(
        keys,
        trail_keys,
        ("id", "name", "role", "key_prefix", "key_hash", "revoked"),
        lambda i: f"API key {i}",
        seq_of("key"),
        optional=("key_hash",),
    )
    rows = len(trials) + len(patients) + len(recs) + len(decisions) + len(keys)
    return IntegrityReport(entries=n, rows=rows, problems=tuple(problems))
