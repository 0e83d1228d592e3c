"""Trials: create (statistician), read, change the protocol until the first patient (If-Match)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status

from api.deps import DbDep, IfMatch, PageDep, Reader, TrialId, TrialWriter
from api.routes._docs import document_body, errors
from api.schemas import Page, TrialCreate, TrialOut
from api.services import trials as service
from api.services.common import etag
from api.storage.models import Trial

router = APIRouter(tags=["trials"])


def trial_out(trial: Trial, n_patients: int) -> TrialOut:
    return TrialOut(
        id=trial.id,
        name=trial.name,
        design=trial.design,
        doses=trial.doses,
        dlt_window_days=trial.dlt_window_days,
        efficacy_window_days=trial.efficacy_window_days,
        indications=trial.indications,
        n_patients=n_patients,
        frozen=n_patients > 0,
        version=trial.version,
        created_at=trial.created_at,
        created_by=trial.created_by,
        updated_at=trial.updated_at,
    )


@router.post(
    "/trials",
    status_code=status.HTTP_201_CREATED,
    response_model=TrialOut,
    summary="Create a trial (design, doses, DLT window)",
    responses=errors(),
    openapi_extra=document_body(TrialCreate),
)
def create_trial(
    body: Annotated[dict[str, Any], Body()], key: TrialWriter, db: DbDep, response: Response
) -> TrialOut:
    trial = service.create_trial(db, body, actor=key.actor)
    response.headers["Location"] = f"/v1/trials/{trial.id}"
    response.headers["ETag"] = etag(trial.version)
    return trial_out(trial, 0)


@router.get("/trials", response_model=Page[TrialOut], summary="List trials", responses=errors())
def list_trials(_key: Reader, db: DbDep, paging: PageDep) -> Page[TrialOut]:
    rows, next_offset = service.list_trials(db, paging)
    return Page[TrialOut](
        items=[trial_out(t, n) for t, n in rows],
        limit=paging.limit,
        offset=paging.offset,
        next_offset=next_offset,
    )


@router.get("/trials/{trial_id}", response_model=TrialOut, summary="A trial", responses=errors(404))
def get_trial(trial_id: TrialId, _key: Reader, db: DbDep, response: Response) -> TrialOut:
    trial, n = service.load_trial(db, trial_id)
    response.headers["ETag"] = etag(trial.version)
    return trial_out(trial, n)


@router.put(
    "/trials/{trial_id}",
    response_model=TrialOut,
    summary="Change a trial's protocol (only before its first patient; If-Match required)",
    responses=errors(404, 409, 428),
    openapi_extra=document_body(TrialCreate),
)
def update_trial(
    trial_id: TrialId,
    body: Annotated[dict[str, Any], Body()],
    key: TrialWriter,
    db: DbDep,
    response: Response,
    if_match: IfMatch = None,
) -> TrialOut:
    trial = service.update_trial(db, trial_id, body, if_match=if_match, actor=key.actor)
    response.headers["ETag"] = etag(trial.version)
    return trial_out(trial, 0)
