"""Recommendations, their reproduction, the final selection and the SRC's decisions.

A recommendation is the engine's decision on the stored data as of a date. It is stored with the
trial document it was computed on (the snapshot), a hash of the data, a hash of the design and the
engine version: the same inputs give back the same stored recommendation, and any stored one can
be recomputed later and compared. No statistics here: the engine decides
(``design.decide`` / ``design.select``), this module stores and compares.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Row, Table, Text, bindparam, insert, select, text
from sqlalchemy import cast as sa_cast
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.errors import Conflict, InvalidInput, NotFound, problem
from api.schemas import RecommendationOut
from api.services.common import PageRequest, get_trial, page
from api.services.trials import (
    OPTIONAL_PROTOCOL_KEYS,
    PATIENT_COLUMNS,
    PatientFacts,
    trial_document,
)
from api.storage import audit
from api.storage.audit import sha256_json
from api.storage.db import Database
from api.storage.models import PatientRecord, Recommendation, SrcDecision, Trial, utcnow
from escalation import (
    InvalidDesignError,
    InvalidTrialDataError,
    TrialDocument,
    __version__,
    decision_to_json,
    parse_document,
    selection_to_json,
)

__all__ = [
    "Lookup",
    "Served",
    "create",
    "data_hash",
    "decision_differences",
    "design_hash",
    "final_selection",
    "get_recommendation",
    "list_decisions",
    "lookup",
    "lookup_on",
    "override_risks",
    "recommendation_out",
    "record_decision",
    "render",
    "reproduce",
    "result_hash",
    "served",
]


def data_hash(snapshot: dict[str, Any]) -> str:
    """SHA-256 of what was known: the patients and the as-of date."""
    return sha256_json({"as_of": snapshot["as_of"], "patients": snapshot["patients"]})


def design_hash(snapshot: dict[str, Any]) -> str:
    """SHA-256 of the protocol: design (every option), doses, DLT window and, when the trial
    sets them, its efficacy window and indications (a snapshot without them hashes as before
    they existed)."""
    protocol = {
        "design": snapshot["design"],
        "doses": snapshot["doses"],
        "dlt_window_days": snapshot["dlt_window_days"],
    }
    for key in OPTIONAL_PROTOCOL_KEYS:
        if snapshot.get(key) is not None:
            protocol[key] = snapshot[key]
    return sha256_json(protocol)


def result_hash(rec_data: str, rec_design: str, engine: str, decision: dict[str, Any]) -> str:
    return sha256_json(
        {
            "data_hash": rec_data,
            "design_hash": rec_design,
            "engine_version": engine,
            "decision": decision,
        }
    )


def _parse(snapshot: dict[str, Any]) -> TrialDocument:
    try:
        return parse_document(snapshot)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        raise InvalidInput.from_engine(e) from None


# the trial and its patients in one statement, so that they come from one state of the database
# (each statement sees one snapshot: no transaction needed): one row per patient, or one row with
# NULL patient columns for a trial without patients; the protocol's JSON columns come as text, to
# be parsed once rather than on every row
_SNAPSHOT = (
    select(
        Trial.name,
        sa_cast(Trial.design, Text).label("design_json"),
        sa_cast(Trial.doses, Text).label("doses_json"),
        Trial.dlt_window_days,
        Trial.efficacy_window_days,
        sa_cast(Trial.indications, Text).label("indications_json"),
        Trial.data_version,
        *PATIENT_COLUMNS,
    )
    .select_from(Trial)
    .outerjoin(PatientRecord, PatientRecord.trial_id == Trial.id)
    .where(Trial.id == bindparam("trial_id"))
)
_FIND = select(Recommendation.id, Recommendation.response_json).where(
    Recommendation.trial_id == bindparam("trial_id"),
    Recommendation.as_of == bindparam("as_of"),
    Recommendation.data_hash == bindparam("data_hash"),
    Recommendation.design_hash == bindparam("design_hash"),
    Recommendation.engine_version == bindparam("engine_version"),
)
_BY_ID = select(Recommendation.id, Recommendation.response_json).where(
    Recommendation.id == bindparam("id")
)
_RECOMMENDATIONS = cast(Table, Recommendation.__table__)
_INSERT = insert(_RECOMMENDATIONS)
# the id the next row would get (the body holds it, and is written with the row, in one INSERT:
# an UPDATE would raise the trial's data version); SQLite: in the write transaction, which holds
# the database's write lock, as SQLite itself picks it; PostgreSQL: from the id's sequence
_NEXT_ID = {
    True: text("SELECT coalesce(max(id), 0) + 1 FROM recommendations"),
    False: text("SELECT nextval(pg_get_serial_sequence('recommendations', 'id'))"),
}


def _snapshot(conn: Connection | Session, trial_id: int, as_of: dt.date) -> dict[str, Any]:
    """The trial document of the stored data as of ``as_of``."""
    return _versioned_snapshot(conn, trial_id, as_of)[0]


def _versioned_snapshot(
    conn: Connection | Session, trial_id: int, as_of: dt.date
) -> tuple[dict[str, Any], int]:
    """The trial document of the stored data as of ``as_of`` and the trial's data version, both
    from one state of the database (one Core statement, rows rather than ORM objects: this is
    the hot path of every recommendation request)."""
    rows = conn.execute(_SNAPSHOT, {"trial_id": trial_id}).all()
    if not rows:
        raise NotFound.field("trial_id", f"no trial {trial_id}")
    first = rows[0]
    protocol = {
        "name": first.name,
        "design": json.loads(first.design_json),
        "doses": json.loads(first.doses_json),
        "dlt_window_days": first.dlt_window_days,
        "efficacy_window_days": first.efficacy_window_days,
        "indications": json.loads(first.indications_json) if first.indications_json else None,
    }
    start = len(rows[0]) - len(PATIENT_COLUMNS)  # the patient columns come last
    patients = [cast(PatientFacts, tuple(r[start:])) for r in rows if r.patient_id is not None]
    return trial_document(protocol, patients, as_of), first.data_version


@dataclass(frozen=True, slots=True)
class Served:
    """A stored recommendation as the service sends it: its id and its JSON body."""

    id: int
    body: bytes


_OUT_FIELDS = (
    "id",
    "trial_id",
    "as_of",
    "snapshot",
    "data_hash",
    "design_hash",
    "engine_version",
    "hash",
    "created_at",
    "created_by",
)


def recommendation_out(rec: Recommendation | Mapping[Any, Any]) -> RecommendationOut:
    """The response model of a recommendation (an ORM object or a row with the column names)."""
    fields = {k: rec[k] if isinstance(rec, Mapping) else getattr(rec, k) for k in _OUT_FIELDS}
    decision = rec["result"] if isinstance(rec, Mapping) else rec.result
    return RecommendationOut.model_validate(fields | {"decision": decision})


def render(rec: Recommendation | Mapping[Any, Any]) -> bytes:
    """The JSON body of a recommendation, byte for byte as ``JSONResponse`` renders it."""
    return json.dumps(
        recommendation_out(rec).model_dump(mode="json"),
        ensure_ascii=False,
        allow_nan=False,
        indent=None,
        separators=(",", ":"),
    ).encode()


def _served(conn: Connection | Session, row: Row[int, str | None] | None) -> Served | None:
    """``row`` (id, response_json) as sent; a row from before schema 0003 is rendered from its
    columns."""
    if row is None:
        return None
    if row.response_json is not None:
        return Served(row.id, row.response_json.encode())
    full = (
        conn.execute(select(_RECOMMENDATIONS).where(_RECOMMENDATIONS.c.id == row.id))
        .mappings()
        .one()
    )
    return Served(row.id, render(full))


def _find(
    conn: Connection | Session, trial_id: int, as_of: dt.date, dh: str, gh: str
) -> Served | None:
    params = {
        "trial_id": trial_id,
        "as_of": as_of,
        "data_hash": dh,
        "design_hash": gh,
        "engine_version": __version__,
    }
    return _served(conn, conn.execute(_FIND, params).one_or_none())


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a recommendation request found: the snapshot, its hashes, when the same inputs were
    seen before the stored recommendation, and the trial's data version the snapshot was read
    at."""

    snapshot: dict[str, Any]
    data_hash: str
    design_hash: str
    stored: Served | None
    data_version: int


def lookup(db: Database, trial_id: int, as_of: dt.date) -> Lookup:
    """Read the snapshot as of ``as_of`` and find its stored recommendation (two indexed reads
    on one connection, nothing written: the hot path)."""
    with db.connect() as conn:
        return lookup_on(conn, trial_id, as_of)


def lookup_on(conn: Connection, trial_id: int, as_of: dt.date) -> Lookup:
    """``lookup`` on an open connection."""
    snapshot, version = _versioned_snapshot(conn, trial_id, as_of)
    dh, gh = data_hash(snapshot), design_hash(snapshot)
    return Lookup(snapshot, dh, gh, _find(conn, trial_id, as_of, dh, gh), version)


def create(db: Database, trial_id: int, as_of: dt.date, found: Lookup, *, actor: str) -> Served:
    """Decide on ``found.snapshot`` and store the recommendation with its audit entry (or give
    back the one another request stored for the same inputs meanwhile)."""
    snapshot, dh, gh = found.snapshot, found.data_hash, found.design_hash
    # as_of is bounded at the edge (up to the server's today + 1), and every date before the
    # first patient gives the one recommendation made on no patients: reads store at most one
    # recommendation a day of the trial
    if not snapshot["patients"]:  # nothing known yet: every such date gives one recommendation
        with db.connect() as conn:
            same = _before_any_patient(conn, trial_id, gh)
        if same is not None:
            return same
    doc = _parse(snapshot)
    decision = decision_to_json(doc.design.decide(doc.data), doc)
    try:
        with db.write() as s:
            stored = _find(s, trial_id, as_of, dh, gh)
            if stored is not None:
                return stored
            values: dict[str, Any] = {
                "trial_id": trial_id,
                "as_of": as_of,
                "snapshot": snapshot,
                "data_hash": dh,
                "design_hash": gh,
                "engine_version": __version__,
                "result": decision,
                "hash": result_hash(dh, gh, __version__, decision),
                "created_at": utcnow(),
                "created_by": actor,
            }
            rid: int = s.execute(_NEXT_ID[db.is_sqlite]).scalar_one()
            body = render(values | {"id": rid})
            s.execute(_INSERT, values | {"id": rid, "response_json": body.decode()})
            audit.append(
                s,
                actor=actor,
                action="recommendation.create",
                entity_type="recommendation",
                entity_id=rid,
                trial_id=trial_id,
                after={
                    "as_of": as_of.isoformat(),
                    "action": decision["action"],
                    "next_dose": decision["next_dose"],
                    "data_hash": dh,
                    "design_hash": gh,
                    "engine_version": __version__,
                    "hash": values["hash"],
                },
            )
            return Served(rid, body)
    except IntegrityError:  # made at the same moment by another request: same inputs, same row
        with db.connect() as conn:
            stored = _find(conn, trial_id, as_of, dh, gh)
        if stored is None:
            raise
        return stored


def _before_any_patient(conn: Connection, trial_id: int, gh: str) -> Served | None:
    """The stored recommendation of this trial, design and engine made before any patient was
    known, if there is one (the same decision, whichever such date it was asked for)."""
    rows = conn.execute(
        select(Recommendation.id, Recommendation.snapshot)
        .where(
            Recommendation.trial_id == trial_id,
            Recommendation.design_hash == gh,
            Recommendation.engine_version == __version__,
        )
        .order_by(Recommendation.id)
    ).all()
    for row in rows:
        if not row.snapshot.get("patients"):
            return _served(conn, conn.execute(_BY_ID, {"id": row.id}).one())
    return None


def served(db: Database, recommendation_id: int) -> Served:
    """A stored recommendation as sent (404 when there is none)."""
    with db.connect() as conn:
        found = _served(conn, conn.execute(_BY_ID, {"id": recommendation_id}).one_or_none())
    if found is None:
        raise NotFound.field("recommendation_id", f"no recommendation {recommendation_id}")
    return found


def get_recommendation(db: Database, recommendation_id: int) -> Recommendation:
    with db.read() as s:
        rec = s.get(Recommendation, recommendation_id)
        if rec is None:
            raise NotFound.field("recommendation_id", f"no recommendation {recommendation_id}")
        return rec


def list_recommendations(
    db: Database, trial_id: int, req: PageRequest
) -> tuple[Sequence[Recommendation], int | None]:
    with db.read() as s:
        get_trial(s, trial_id)
        query = (
            select(Recommendation)
            .where(Recommendation.trial_id == trial_id)
            .order_by(Recommendation.id)
        )
        return page(s, query, req)


# what a recomputation may change without changing the decision: how long it took and whether
# this process had compiled the model before (wall clock and process state, not statistics)
_VOLATILE_KEYS = frozenset({"compiled_this_call", "uses"})


def _is_volatile(key: str) -> bool:
    return key in _VOLATILE_KEYS or key.endswith("_seconds")


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items() if not _is_volatile(str(k))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def decision_differences(stored: Mapping[str, Any], now: Mapping[str, Any]) -> list[str]:
    """The top-level fields of a decision whose content differs between ``stored`` and ``now``:
    the decision, the estimates, the rules and the diagnostics' statistics, not the engine version
    nor wall-clock timings (``*_seconds``) or the process's compilation state."""
    keys = sorted((set(now) | set(stored)) - {"engine_version"})
    return [k for k in keys if _without_timings(now.get(k)) != _without_timings(stored.get(k))]


def reproduce(db: Database, recommendation_id: int) -> dict[str, Any]:
    """Recompute a stored recommendation from its snapshot with the engine running now."""
    rec = get_recommendation(db, recommendation_id)
    snapshot = rec.snapshot
    intact = (
        data_hash(snapshot) == rec.data_hash
        and design_hash(snapshot) == rec.design_hash
        and result_hash(rec.data_hash, rec.design_hash, rec.engine_version, rec.result) == rec.hash
    )
    doc = _parse(snapshot)
    now = decision_to_json(doc.design.decide(doc.data), doc)
    differences = decision_differences(rec.result, now)
    return {
        "recommendation_id": rec.id,
        "reproduced": intact and not differences,
        "snapshot_intact": intact,
        "same_decision": not differences,
        "stored_engine_version": rec.engine_version,
        "current_engine_version": __version__,
        "differences": differences,
    }


def final_selection(db: Database, trial_id: int, as_of: dt.date) -> dict[str, Any]:
    """The engine's final selection on the stored data as of ``as_of`` (nothing stored)."""
    with db.connect() as conn:
        snapshot = _snapshot(conn, trial_id, as_of)
    doc = _parse(snapshot)
    return selection_to_json(doc.design.select(doc.data), doc)


def _decision_json(
    d: SrcDecision, recommended: int | None, superseded_by: int | None = None
) -> dict[str, Any]:
    return {
        "id": d.id,
        "trial_id": d.trial_id,
        "recommendation_id": d.recommendation_id,
        "action": d.action,
        "dose_level": d.dose_level,
        "recommended_dose": recommended,
        "rationale": d.rationale,
        "decided_at": d.decided_at,
        "decided_by": d.decided_by,
        "risk_flags": list(d.risk_flags or []),
        "supersedes": d.supersedes_id,
        "supersede_reason": d.supersede_reason,
        "superseded_by": superseded_by,
    }


def override_risks(
    result: Mapping[str, Any], design: Mapping[str, Any], dose_level: int
) -> list[str]:
    """What an override to ``dose_level`` does that the engine's rules would never do: skip an
    untried dose level (an untried level between the highest level tried and this one), or enter
    an eliminated dose level. ``result`` is the recommendation's decision JSON."""
    risks = []
    tried = [d["level"] for d in result.get("doses", []) if d.get("n", 0) > 0]
    highest = max(tried) if tried else int(design.get("start_level", 1)) - 1
    skipped = [lv for lv in range(highest + 1, dose_level) if lv not in tried]
    if skipped:
        levels = ", ".join(map(str, skipped))
        risks.append(
            f"skips untried dose level{'s' if len(skipped) > 1 else ''} {levels} "
            f"(highest level tried: {highest or 'none'})"
        )
    if dose_level in result.get("eliminated", []):
        risks.append(f"enters dose level {dose_level}, which the design eliminated as too toxic")
    return risks


def record_decision(
    db: Database,
    trial_id: int,
    *,
    recommendation_id: int,
    action: str,
    dose_level: int | None,
    rationale: str,
    actor: str,
    confirm_risk: bool = False,
    supersedes: int | None = None,
    supersede_reason: str = "",
) -> dict[str, Any]:
    """Record the SRC's decision on a recommendation of this trial (one decision in force for
    each; a decision made in error is superseded by a new one that names it, never edited)."""
    rationale = rationale.strip()
    supersede_reason = supersede_reason.strip()
    try:
        with db.write() as s:
            trial = get_trial(s, trial_id, for_update=True)
            rec = s.get(Recommendation, recommendation_id)
            if rec is None or rec.trial_id != trial_id:
                raise InvalidInput.field(
                    "recommendation_id",
                    f"no recommendation {recommendation_id} for trial {trial_id}",
                )
            replaced = _superseded(s, trial_id, supersedes, supersede_reason)
            earlier = s.scalars(
                select(SrcDecision).where(
                    SrcDecision.recommendation_id == recommendation_id,
                    ~SrcDecision.id.in_(
                        select(SrcDecision.supersedes_id).where(
                            SrcDecision.supersedes_id.is_not(None)
                        )
                    ),
                )
            ).one_or_none()
            if earlier is not None and (replaced is None or replaced.id != earlier.id):
                raise Conflict.field(
                    "recommendation_id",
                    f"recommendation {recommendation_id} was already answered by decision "
                    f"{earlier.id} ({earlier.action}): to correct it, record a new decision with "
                    f"supersedes={earlier.id} and a supersede_reason",
                )
            current = _snapshot(s, trial_id, rec.as_of)
            if data_hash(current) != rec.data_hash or design_hash(current) != rec.design_hash:
                raise Conflict.field(
                    "recommendation_id",
                    f"the trial's data changed since recommendation {recommendation_id} was made: "
                    "request a new recommendation and decide on that one",
                )
            recommended: int | None = rec.result.get("next_dose")
            n_doses = len(trial.doses)
            risks: list[str] = []
            if action == "accept":
                if dose_level is not None and dose_level != recommended:
                    raise InvalidInput.field(
                        "dose_level",
                        f"accepting recommendation {recommendation_id} means dose level "
                        f"{recommended}, not {dose_level}: use action 'override'",
                    )
                dose_level = recommended
            else:
                problems = []
                if dose_level is not None and dose_level > n_doses:
                    problems.append(
                        (
                            "dose_level",
                            f"unknown dose level {dose_level} (levels are 1 to {n_doses})",
                        )
                    )
                elif dose_level is not None and dose_level == recommended:
                    problems.append(
                        (
                            "dose_level",
                            f"dose level {dose_level} is the recommended one: use action 'accept'",
                        )
                    )
                elif dose_level is None and rec.result.get("action") == "stop":
                    # stopping overrides a wait; it does not override a stop
                    problems.append(
                        ("dose_level", "stopping is the recommendation: use action 'accept'")
                    )
                elif dose_level is not None:
                    risks = override_risks(rec.result, trial.design, dose_level)
                    if risks and not confirm_risk:
                        problems.append(
                            (
                                "confirm_risk",
                                f"this override {' and '.join(risks)}: set confirm_risk to true "
                                "to record it (it is flagged in the record)",
                            )
                        )
                if not rationale:
                    problems.append(("rationale", "required to override a recommendation"))
                if problems:
                    raise InvalidInput(
                        f"invalid decision: {len(problems)} problem{'s' if len(problems) > 1 else ''}",
                        [problem(f, m) for f, m in problems],
                    )
            decision = SrcDecision(
                trial_id=trial_id,
                recommendation_id=recommendation_id,
                action=action,
                dose_level=dose_level,
                rationale=rationale,
                decided_at=utcnow(),
                decided_by=actor,
                risk_flags=risks or None,
                supersedes_id=None if replaced is None else replaced.id,
                supersede_reason=supersede_reason if replaced is not None else None,
            )
            s.add(decision)
            s.flush()
            out = _decision_json(decision, recommended)
            audit.append(
                s,
                actor=actor,
                action="decision.supersede" if replaced is not None else "decision.create",
                entity_type="decision",
                entity_id=decision.id,
                trial_id=trial_id,
                before=None if replaced is None else {"decision_id": replaced.id},
                after={
                    k: v
                    for k, v in out.items()
                    if k not in ("decided_at", "decided_by", "id", "trial_id", "superseded_by")
                },
            )
            return out
    except IntegrityError:
        raise Conflict.field(
            "recommendation_id", f"recommendation {recommendation_id} was answered concurrently"
        ) from None


def _superseded(
    s: Session, trial_id: int, supersedes: int | None, reason: str
) -> SrcDecision | None:
    """The decision a new one replaces (None: it replaces none), checked."""
    if supersedes is None:
        if reason:
            raise InvalidInput.field(
                "supersede_reason", "given without 'supersedes' (the decision it replaces)"
            )
        return None
    old = s.get(SrcDecision, supersedes)
    if old is None or old.trial_id != trial_id:
        raise InvalidInput.field("supersedes", f"no decision {supersedes} for trial {trial_id}")
    later = s.scalars(select(SrcDecision.id).where(SrcDecision.supersedes_id == supersedes)).first()
    if later is not None:
        raise Conflict.field(
            "supersedes", f"decision {supersedes} was already superseded by decision {later}"
        )
    if not reason:
        raise InvalidInput.field("supersede_reason", f"say why decision {supersedes} is superseded")
    return old


def list_decisions(
    db: Database, trial_id: int, req: PageRequest
) -> tuple[list[dict[str, Any]], int | None]:
    with db.read() as s:
        get_trial(s, trial_id)
        rows, next_offset = page(
            s,
            select(SrcDecision).where(SrcDecision.trial_id == trial_id).order_by(SrcDecision.id),
            req,
        )
        recs = {
            rid: result.get("next_dose")
            for rid, result in s.execute(
                select(Recommendation.id, Recommendation.result).where(
                    Recommendation.id.in_([d.recommendation_id for d in rows])
                )
            )
        }
        replaced_by = {
            old: new
            for new, old in s.execute(
                select(SrcDecision.id, SrcDecision.supersedes_id).where(
                    SrcDecision.supersedes_id.in_([d.id for d in rows])
                )
            )
        }
        return [
            _decision_json(d, recs.get(d.recommendation_id), replaced_by.get(d.id)) for d in rows
        ], next_offset
