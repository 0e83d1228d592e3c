"""Recommendations on the stored data, their reproduction, and the final selection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from api.deps import MAX_ID, AsOf, DbDep, PageDep, Reader, TrialId
from api.fast_path import stored_response
from api.routes._docs import errors
from api.schemas import Page, RecommendationOut, ReproductionOut, SelectionJson
from api.services import recommendations as service

router = APIRouter(tags=["recommendations"])

RecommendationId = Annotated[int, Path(ge=1, le=MAX_ID, description="the recommendation's id")]


@router.get(
    "/trials/{trial_id}/recommendation",
    response_model=RecommendationOut,
    summary="The engine's recommendation on the stored data as of a date (stored)",
    description="Computed on the stored patients as of `as_of` and stored with the snapshot, "
    "hashes and engine version. The same inputs give back the same stored recommendation. "
    "`decision` is exactly `escalation recommend --json` on `snapshot`.",
    responses=errors(404),
)
async def get_recommendation(trial_id: TrialId, key: Reader, db: DbDep, as_of: AsOf) -> Response:
    # a stored one is answered in front of the application (api.fast_path); here come the others,
    # and those the fast path handed on: the lookup (two indexed reads) runs on the event loop,
    # and only a new recommendation, which the engine must compute and the database store, goes
    # to a worker thread
    found = service.lookup(db, trial_id, as_of)
    if found.stored is not None:
        return stored_response(found.stored)
    made = await run_in_threadpool(service.create, db, trial_id, as_of, found, actor=key.actor)
    return stored_response(made)


@router.get(
    "/trials/{trial_id}/recommendations",
    response_model=Page[RecommendationOut],
    summary="Every stored recommendation of a trial",
    responses=errors(404),
)
def list_recommendations(
    trial_id: TrialId, _key: Reader, db: DbDep, paging: PageDep
) -> Page[RecommendationOut]:
    rows, next_offset = service.list_recommendations(db, trial_id, paging)
    return Page[RecommendationOut](
        items=[service.recommendation_out(r) for r in rows],
        limit=paging.limit,
        offset=paging.offset,
        next_offset=next_offset,
    )


@router.get(
    "/recommendations/{recommendation_id}",
    response_model=RecommendationOut,
    summary="A stored recommendation",
    responses=errors(404),
)
def read_recommendation(recommendation_id: RecommendationId, _key: Reader, db: DbDep) -> Response:
    return stored_response(service.served(db, recommendation_id))


@router.get(
    "/recommendations/{recommendation_id}/reproduce",
    response_model=ReproductionOut,
    summary="Recompute a stored recommendation from its snapshot and compare",
    responses=errors(404),
)
def reproduce(recommendation_id: RecommendationId, _key: Reader, db: DbDep) -> dict[str, Any]:
    return service.reproduce(db, recommendation_id)


@router.get(
    "/trials/{trial_id}/final-selection",
    response_model=SelectionJson,
    summary="The final recommended dose on the stored data as of a date",
    description="Exactly `escalation select --json` on the stored data (nothing stored).",
    responses=errors(404),
)
def final_selection(trial_id: TrialId, _key: Reader, db: DbDep, as_of: AsOf) -> dict[str, Any]:
    return service.final_selection(db, trial_id, as_of)
