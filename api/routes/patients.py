"""Patients: the data system's idempotent upsert, and reading them back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status
from sqlalchemy import select

from api.deps import (
    AsOf,
    DbDep,
    IfMatch,
    PageDep,
    PatientId,
    PatientReader,
    PatientWriter,
    SettingsDep,
    TrialId,
)
from api.errors import NotFound
from api.routes._docs import document_body, errors
from api.schemas import Page, PatientOut, PatientRecordIn, PatientWithStateOut
from api.services import trials as service
from api.services.common import etag, get_trial
from api.storage.models import PatientRecord

router = APIRouter(tags=["patients"])


def patient_out(p: PatientRecord) -> PatientOut:
    return PatientOut(
        trial_id=p.trial_id,
        id=p.patient_id,
        dose_level=p.dose_level,
        infused_on=p.infused_on,
        dlt=p.dlt,
        dlt_on=p.dlt_on,
        withdrawn_on=p.withdrawn_on,
        cohort=p.cohort,  # type: ignore[arg-type]
        indication=p.indication,
        response=p.response,
        response_on=p.response_on,
        version=p.version,
        updated_at=p.updated_at,
        updated_by=p.updated_by,
    )


@router.put(
    "/trials/{trial_id}/patients/{patient_id}",
    response_model=PatientOut,
    summary="Create or update a patient's record (idempotent)",
    description="201 for a new patient, 200 otherwise. The same record again changes nothing; "
    "a changed record (e.g. a corrected DLT) becomes version n+1, the old version stays in the "
    "audit trail. With If-Match, a record changed since that version gets 409.",
    responses={**errors(404, 409), 201: {"model": PatientOut, "description": "Created"}},
    openapi_extra=document_body(PatientRecordIn),
)
def put_patient(
    trial_id: TrialId,
    patient_id: PatientId,
    body: Annotated[dict[str, Any], Body()],
    key: PatientWriter,
    db: DbDep,
    settings: SettingsDep,
    response: Response,
    if_match: IfMatch = None,
) -> PatientOut:
    record, outcome = service.upsert_patient(
        db,
        trial_id,
        patient_id,
        body,
        if_match=if_match,
        actor=key.actor,
        today=settings.today(),
    )
    if outcome == "created":
        response.status_code = status.HTTP_201_CREATED
        response.headers["Location"] = f"/v1/trials/{trial_id}/patients/{patient_id}"
    response.headers["ETag"] = etag(record.version)
    return patient_out(record)


@router.get(
    "/trials/{trial_id}/patients",
    response_model=Page[PatientWithStateOut],
    summary="A trial's patients as of a date: records, states, follow-up, window ends",
    description="The current version of each patient infused on or before `as_of` (by infusion "
    "date), with its state on that date exactly as a recommendation as of that date sees it "
    "(a DLT or a withdrawal dated later is not yet known), its days of follow-up and the date "
    "its DLT window ends. The data system may read back what it wrote.",
    responses=errors(404),
)
def list_patients(
    trial_id: TrialId, _key: PatientReader, db: DbDep, paging: PageDep, as_of: AsOf
) -> Page[PatientWithStateOut]:
    rows, next_offset = service.list_patients(db, trial_id, paging, as_of)
    return Page[PatientWithStateOut](
        items=[
            PatientWithStateOut(
                **patient_out(p).model_dump(),
                as_of=as_of,
                state=status.state,  # type: ignore[arg-type]
                followup_days=status.followup_days,
                window_ends_on=status.window_ends_on,
            )
            for p, status in rows
        ],
        limit=paging.limit,
        offset=paging.offset,
        next_offset=next_offset,
    )


@router.get(
    "/trials/{trial_id}/patients/{patient_id}",
    response_model=PatientOut,
    summary="One patient's current record",
    responses=errors(404),
)
def get_patient(
    trial_id: TrialId, patient_id: PatientId, _key: PatientReader, db: DbDep, response: Response
) -> PatientOut:
    with db.read() as s:
        get_trial(s, trial_id)
        record = s.scalars(
            select(PatientRecord).where(
                PatientRecord.trial_id == trial_id, PatientRecord.patient_id == patient_id
            )
        ).one_or_none()
    if record is None:
        raise NotFound.field("patient_id", f"no patient {patient_id} in trial {trial_id}")
    response.headers["ETag"] = etag(record.version)
    return patient_out(record)
