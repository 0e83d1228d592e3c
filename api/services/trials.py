"""Trials and their patients.

A trial's protocol (design, doses, DLT window) is validated by the engine, stored with every design
option resolved, and frozen once its first patient exists. Patients are upserted by the data
system: the same record again changes nothing; a changed record becomes a new version, the old one
kept in the audit trail.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from api.errors import Conflict, InvalidInput
from api.services.common import (
    PageRequest,
    check_if_match,
    get_trial,
    long_text_problems,
    nul_problems,
    page,
)
from api.storage import audit
from api.storage.db import Database
from api.storage.models import PatientRecord, Trial, utcnow
from escalation import InvalidDesignError, InvalidTrialDataError, Problem, parse_document

__all__ = [
    "PATIENT_COLUMNS",
    "PROTOCOL_KEYS",
    "RECORD_KEYS",
    "PatientFacts",
    "PatientStatus",
    "create_trial",
    "list_patients",
    "list_trials",
    "load_trial",
    "n_patients",
    "trial_document",
    "update_trial",
    "upsert_patient",
]

PROTOCOL_KEYS = (
    "name",
    "design",
    "doses",
    "dlt_window_days",
    "efficacy_window_days",
    "indications",
)
#: protocol keys recorded and hashed only when the trial sets them (NULL: a document's default), so
#: that a trial without them reads as before the schema revision that added them
OPTIONAL_PROTOCOL_KEYS = ("efficacy_window_days", "indications")
#: the fields of a patient's record (those after ``withdrawn_on``: the whole trial's, optional)
RECORD_KEYS = (
    "id",
    "dose_level",
    "infused_on",
    "dlt",
    "dlt_on",
    "withdrawn_on",
    "cohort",
    "indication",
    "response",
    "response_on",
)
_DATE_KEYS = ("infused_on", "dlt_on", "withdrawn_on", "response_on")


def _protocol(body: Mapping[str, Any]) -> dict[str, Any]:
    """The validated protocol of a trial: name, resolved design options, doses, DLT window."""
    problems = nul_problems(body, "") + long_text_problems(body, "")
    for key in body:
        if key not in PROTOCOL_KEYS:
            problems.append(
                Problem(
                    field=str(key),
                    message="not part of a trial's protocol (fields: "
                    + ", ".join(PROTOCOL_KEYS)
                    + "); patients are added with PUT /v1/trials/{id}/patients/{patient_id}",
                )
            )
    document = {k: body[k] for k in PROTOCOL_KEYS if k in body} | {"patients": []}
    try:
        parsed = parse_document(document)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        problems += e.problems
    if problems:
        raise InvalidInput.from_problems(problems)
    doses = []
    for d in parsed.doses:
        dose: dict[str, Any] = {"level": d.level, "label": d.label}
        if d.amount is not None:
            dose["amount"] = d.amount
        doses.append(dose)
    return {
        "name": parsed.name,
        "design": parsed.design.options(),
        "doses": doses,
        "dlt_window_days": parsed.data.dlt_window_days,
        "efficacy_window_days": (
            parsed.data.efficacy_window_days if "efficacy_window_days" in body else None
        ),
        # as given (the engine checked them): an expansion's indications are not added here
        "indications": list(body["indications"]) if body.get("indications") is not None else None,
    }


def _protocol_of(trial: Trial) -> dict[str, Any]:
    return {
        "name": trial.name,
        "design": trial.design,
        "doses": trial.doses,
        "dlt_window_days": trial.dlt_window_days,
        "efficacy_window_days": trial.efficacy_window_days,
        "indications": trial.indications,
    }


def _audited(protocol: Mapping[str, Any]) -> dict[str, Any]:
    """A protocol as the audit trail records it: ``indications`` and ``efficacy_window_days`` only
    when the trial sets them (so a trial without them is recorded as before schema revisions 0007
    and 0008)."""
    return {k: v for k, v in protocol.items() if k not in OPTIONAL_PROTOCOL_KEYS or v is not None}


def n_patients(session: Session, trial_id: int) -> int:
    count = session.scalar(
        select(func.count()).select_from(PatientRecord).where(PatientRecord.trial_id == trial_id)
    )
    return int(count or 0)


def create_trial(db: Database, body: Mapping[str, Any], *, actor: str) -> Trial:
    protocol = _protocol(body)
    now = utcnow()
    with db.write() as s:
        trial = Trial(**protocol, created_at=now, created_by=actor, updated_at=now)
        s.add(trial)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="trial.create",
            entity_type="trial",
            entity_id=trial.id,
            trial_id=trial.id,
            after=_audited(protocol),
        )
    return trial


def list_trials(db: Database, req: PageRequest) -> tuple[Sequence[tuple[Trial, int]], int | None]:
    """A page of trials, each with its number of patients."""
    with db.read() as s:
        rows = s.execute(
            select(Trial, func.count(PatientRecord.id))
            .outerjoin(PatientRecord, PatientRecord.trial_id == Trial.id)
            .group_by(Trial.id)
            .order_by(Trial.id)
            .offset(req.offset)
            .limit(req.limit + 1)
        ).all()
    more = len(rows) > req.limit
    page_rows = [(trial, int(n)) for trial, n in rows[: req.limit]]
    return page_rows, (req.offset + req.limit if more else None)


def load_trial(db: Database, trial_id: int) -> tuple[Trial, int]:
    """The trial and its number of patients."""
    with db.read() as s:
        trial = get_trial(s, trial_id)
        return trial, n_patients(s, trial_id)


def update_trial(
    db: Database, trial_id: int, body: Mapping[str, Any], *, if_match: str | None, actor: str
) -> Trial:
    """Replace the protocol of a trial that has no patient yet (If-Match required)."""
    protocol = _protocol(body)
    try:
        with db.write() as s:
            trial = get_trial(s, trial_id, for_update=True)
            check_if_match(if_match, trial.version, required=True, what=f"trial {trial_id}")
            count = n_patients(s, trial_id)
            if count:
                raise Conflict.field(
                    "design",
                    f"trial {trial_id} is frozen: {count} patient{'s' if count > 1 else ''} "
                    "already recorded, so its design, doses and DLT window can no longer change",
                )
            before = _protocol_of(trial)
            if before == protocol:
                return trial
            for key, value in protocol.items():
                setattr(trial, key, value)
            trial.updated_at = utcnow()
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="trial.update",
                entity_type="trial",
                entity_id=trial.id,
                trial_id=trial.id,
                before=_audited(before),
                after=_audited(protocol),
            )
    except StaleDataError:
        raise Conflict.field(
            "If-Match", f"trial {trial_id} was changed concurrently; retry"
        ) from None
    return trial


def _record(
    trial: Trial, patient_id: str, body: Mapping[str, Any], today: dt.date | None
) -> dict[str, Any]:
    """A patient record validated by the engine exactly as inside a trial document, and, when
    ``today`` is given, dated no later than today: a record of the future is a typo, and would be
    left out of today's recommendation without a word."""
    problems = nul_problems(body, "")
    if "id" in body and body["id"] != patient_id and not problems:
        problems.append(
            Problem(
                field="id",
                message=f"{body['id']!r} differs from the patient id in the path ({patient_id!r})",
                patient_id=patient_id,
            )
        )
    if problems:
        raise InvalidInput.from_problems(problems)
    record = dict(body) | {"id": patient_id}
    dates = []
    for key in _DATE_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            with contextlib.suppress(ValueError):  # the engine reports malformed dates
                day = dt.date.fromisoformat(value)
                dates.append(day)
                if today is not None and day > today:
                    problems.append(
                        Problem(
                            field=key,
                            message=f"{day} is after today ({today}, the server's date): "
                            "only what has happened can be recorded",
                            patient_id=patient_id,
                        )
                    )
    if problems:
        raise InvalidInput.from_problems(problems)
    document = _document_protocol(trial) | {
        "as_of": max([*dates, today] if today else dates).isoformat() if dates else "2000-01-01",
        "patients": [record],
    }
    try:
        parsed = parse_document(document)
    except (InvalidTrialDataError, InvalidDesignError) as e:
        raise InvalidInput.from_engine(e, rename={"patients[0]": ""}) from None
    assert len(parsed.data.patients) == 1
    patient = parsed.data.patients[0]

    def date(key: str) -> dt.date | None:
        value = record.get(key)
        return dt.date.fromisoformat(value) if isinstance(value, str) else None

    return {
        "dose_level": patient.dose_level,
        "infused_on": date("infused_on"),
        "dlt": record["dlt"],
        "dlt_on": date("dlt_on"),
        "withdrawn_on": date("withdrawn_on"),
        "cohort": patient.cohort,
        "indication": patient.indication,
        "response": patient.response,
        "response_on": date("response_on"),
    }


def _document_protocol(trial: Trial) -> dict[str, Any]:
    """The trial's protocol as the head of a trial document (fields it does not have left out)."""
    return {k: v for k, v in _protocol_of(trial).items() if v is not None}


def _trial_problems(
    session: Session, trial: Trial, patient_id: str, fields: Mapping[str, Any]
) -> None:
    """Refuse a backfill or expansion record that the trial's other patients make invalid (an
    expansion cohort already full: the engine's checks across patients), naming this patient.

    The record is checked with every stored patient of the trial, as known once everything
    recorded has happened; the engine's problems are reported, this record's fields named as in
    the body, another patient's (one the record pushes past a cohort's cap) as ``patients[i]``
    with its id. Stored data that are invalid without this record are left to the
    recommendation to report (this record is then checked alone, as an escalation patient is).
    """
    others = [
        p.as_document()
        for p in session.scalars(
            select(PatientRecord).where(
                PatientRecord.trial_id == trial.id, PatientRecord.patient_id != patient_id
            )
        )
    ]
    record = _stored_document(patient_id, fields)
    days = [dt.date.fromisoformat(p[k]) for p in [*others, record] for k in _DATE_KEYS if k in p]
    head = _document_protocol(trial) | {"as_of": max(days).isoformat()}
    try:
        parse_document(head | {"patients": others})
    except (InvalidTrialDataError, InvalidDesignError):
        return  # already invalid without this record: not this record's problem to report
    try:
        parse_document(head | {"patients": [*others, record]})
    except (InvalidTrialDataError, InvalidDesignError) as e:
        index = len(others)
        raise InvalidInput.from_engine(e, rename={f"patients[{index}]": ""}) from None


def _stored_document(patient_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A validated record's fields (``_record``) as in a trial document."""
    record = PatientRecord(patient_id=patient_id, **fields)
    return record.as_document()


def upsert_patient(
    db: Database,
    trial_id: int,
    patient_id: str,
    body: Mapping[str, Any],
    *,
    if_match: str | None,
    actor: str,
    today: dt.date | None = None,
    _retry: bool = True,
) -> tuple[PatientRecord, str]:
    """Create or update one patient: ``(record, "created" | "changed" | "unchanged")``.

    With ``today`` (the service passes its clock's), a date after it is refused.
    """
    try:
        with db.write() as s:
            # the trial row is locked so that a protocol change cannot cross the first patient
            trial = get_trial(s, trial_id, for_update=True)
            fields = _record(trial, patient_id, body, today)
            if fields["cohort"] != "escalation":
                _trial_problems(s, trial, patient_id, fields)
            existing = s.scalars(
                select(PatientRecord).where(
                    PatientRecord.trial_id == trial_id, PatientRecord.patient_id == patient_id
                )
            ).one_or_none()
            if existing is None:
                if if_match is not None and if_match.strip() != "*":
                    raise Conflict.field(
                        "If-Match", f"patient {patient_id} has no record yet: nothing to match"
                    )
                now = utcnow()
                record = PatientRecord(
                    trial_id=trial_id,
                    patient_id=patient_id,
                    **fields,
                    created_at=now,
                    updated_at=now,
                    updated_by=actor,
                )
                s.add(record)
                s.flush()
                audit.append(
                    s,
                    actor=actor,
                    action="patient.create",
                    entity_type="patient",
                    entity_id=patient_id,
                    trial_id=trial_id,
                    after=record.as_document() | {"version": record.version},
                )
                return record, "created"
            # a stale If-Match is a conflict even when the body changes nothing (README: 409)
            check_if_match(if_match, existing.version, required=False, what=f"patient {patient_id}")
            if all(getattr(existing, k) == v for k, v in fields.items()):
                return existing, "unchanged"  # a repeated call without If-Match: harmless
            before = existing.as_document() | {"version": existing.version}
            for key, value in fields.items():
                setattr(existing, key, value)
            existing.updated_at, existing.updated_by = utcnow(), actor
            s.flush()
            audit.append(
                s,
                actor=actor,
                action="patient.update",
                entity_type="patient",
                entity_id=patient_id,
                trial_id=trial_id,
                before=before,
                after=existing.as_document() | {"version": existing.version},
            )
            return existing, "changed"
    except StaleDataError:
        raise Conflict.field(
            "If-Match", f"patient {patient_id} was changed concurrently; read it again and retry"
        ) from None
    except IntegrityError:
        if not _retry:
            raise Conflict.field(
                "patient_id", f"patient {patient_id} was created concurrently; retry"
            ) from None
        return upsert_patient(
            db,
            trial_id,
            patient_id,
            body,
            if_match=if_match,
            actor=actor,
            today=today,
            _retry=False,
        )


@dataclass(frozen=True, slots=True)
class PatientStatus:
    """What is known of a patient on a date: its state, its days of follow-up, and the date its
    DLT window ends (``infused_on + dlt_window_days``: complete from that day, without a DLT)."""

    state: str
    followup_days: int
    window_ends_on: dt.date


def list_patients(
    db: Database, trial_id: int, req: PageRequest, as_of: dt.date
) -> tuple[Sequence[tuple[PatientRecord, PatientStatus]], int | None]:
    """A page of the patients infused on or before ``as_of``, each with its state on that date
    (the engine's, exactly as a recommendation as of that date sees the patient: a DLT or a
    withdrawal dated later is not yet known)."""
    with db.read() as s:
        trial = get_trial(s, trial_id)
        query = (
            select(PatientRecord)
            .where(PatientRecord.trial_id == trial_id, PatientRecord.infused_on <= as_of)
            .order_by(PatientRecord.infused_on, PatientRecord.patient_id)
        )
        rows, next_offset = page(s, query, req)
        protocol = _protocol_of(trial)
    facts = [
        (
            p.patient_id,
            p.dose_level,
            p.infused_on,
            p.dlt,
            p.dlt_on,
            p.withdrawn_on,
            p.cohort,
            p.indication,
            p.response,
            p.response_on,
        )
        for p in rows
    ]
    try:
        parsed = parse_document(trial_document(protocol, facts, as_of))
    except (InvalidTrialDataError, InvalidDesignError) as e:
        raise InvalidInput.from_engine(e) from None
    summary, window = parsed.data.summary, parsed.data.dlt_window_days
    status = {
        p.patient_id: (str(state), int(days))
        for p, state, days in zip(
            parsed.data.patients, summary.state, summary.followup_days, strict=True
        )
    }
    out = []
    for p in rows:
        state, days = status[p.patient_id]
        ends = p.infused_on + dt.timedelta(days=window)
        out.append((p, PatientStatus(state=state, followup_days=days, window_ends_on=ends)))
    return out, next_offset


#: a stored patient as ``trial_document`` reads it (the columns, in this order)
PatientFacts = tuple[
    str,
    int,
    dt.date,
    bool,
    dt.date | None,
    dt.date | None,
    str,
    str | None,
    bool | None,
    dt.date | None,
]
PATIENT_COLUMNS = (
    PatientRecord.patient_id,
    PatientRecord.dose_level,
    PatientRecord.infused_on,
    PatientRecord.dlt,
    PatientRecord.dlt_on,
    PatientRecord.withdrawn_on,
    PatientRecord.cohort,
    PatientRecord.indication,
    PatientRecord.response,
    PatientRecord.response_on,
)


def trial_document(
    protocol: Mapping[str, Any], patients: Iterable[PatientFacts], as_of: dt.date
) -> dict[str, Any]:
    """The trial document of the stored data as known on ``as_of``.

    Patients infused after ``as_of`` are left out; a DLT or a withdrawal dated after ``as_of`` was
    not yet known then, so the patient counts as followed up to ``as_of`` without it; a response
    assessed after ``as_of`` was not yet known either (the response is left out: unknown).
    A patient's cohort and indication are known from the infusion on; they, and the response,
    appear only when they differ from a document's defaults (escalation, none, unknown).
    ``protocol`` holds the trial's name, design, doses, DLT and efficacy windows and indications; ``patients``
    are rows of ``PATIENT_COLUMNS`` (unpacked as tuples: this runs on every recommendation
    request).
    """
    records = []
    known = [p for p in patients if p[2] <= as_of]
    for (
        patient_id,
        dose_level,
        infused_on,
        dlt,
        dlt_on,
        withdrawn_on,
        cohort,
        indication,
        response,
        response_on,
    ) in sorted(known, key=lambda p: (p[2], p[0])):
        record: dict[str, Any] = {
            "id": patient_id,
            "dose_level": dose_level,
            "infused_on": infused_on.isoformat(),
            "dlt": dlt,
        }
        if dlt_on is not None and dlt_on <= as_of:
            record["dlt_on"] = dlt_on.isoformat()
        elif dlt:
            record["dlt"] = False  # the DLT was not yet known on as_of
        if withdrawn_on is not None and withdrawn_on <= as_of:
            record["withdrawn_on"] = withdrawn_on.isoformat()
        if cohort != "escalation":
            record["cohort"] = cohort
        if indication is not None:
            record["indication"] = indication
        if response is not None and (response_on is None or response_on <= as_of):
            record["response"] = response
            if response_on is not None:
                record["response_on"] = response_on.isoformat()
        records.append(record)
    document = {k: protocol[k] for k in PROTOCOL_KEYS if protocol.get(k) is not None}
    return document | {"as_of": as_of.isoformat(), "patients": records}
