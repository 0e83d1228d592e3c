"""The safety review committee's decisions, each answering one recommendation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from api.deps import DbDep, Decider, PageDep, Reader, TrialId
from api.routes._docs import errors
from api.schemas import Page, SrcDecisionCreate, SrcDecisionOut
from api.services import recommendations as service

router = APIRouter(tags=["SRC decisions"])


@router.post(
    "/trials/{trial_id}/decisions",
    status_code=status.HTTP_201_CREATED,
    response_model=SrcDecisionOut,
    summary="Record the SRC's decision (accept or override) on a recommendation",
    description="One decision per recommendation. 409 when the recommendation was already "
    "answered or the trial's data changed since it was made (ask for a new one).",
    responses=errors(404, 409),
)
def record_decision(
    trial_id: TrialId, body: SrcDecisionCreate, key: Decider, db: DbDep, response: Response
) -> dict[str, Any]:
    out = service.record_decision(db, trial_id, **body.model_dump(), actor=key.actor)
    response.headers["Location"] = f"/v1/trials/{trial_id}/decisions"
    return out


@router.get(
    "/trials/{trial_id}/decisions",
    response_model=Page[SrcDecisionOut],
    summary="The SRC's decisions on a trial",
    responses=errors(404),
)
def list_decisions(trial_id: TrialId, _key: Reader, db: DbDep, paging: PageDep) -> dict[str, Any]:
    items, next_offset = service.list_decisions(db, trial_id, paging)
    return {
        "items": items,
        "limit": paging.limit,
        "offset": paging.offset,
        "next_offset": next_offset,
    }
