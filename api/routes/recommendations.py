"""Recommendations on the stored data, their reproduction, and the final selection."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from api.deps import MAX_ID, AsOf, DbDep, PageDep, Reader, TrialId
from api.routes._docs import errors
from api.schemas import Page, RecommendationOut, ReproductionOut, SelectionJson
from api.services import recommendations as service
from api.storage.models import Recommendation

router = APIRouter(tags=["recommendations"])

RecommendationId = Annotated[int, Path(ge=1, le=MAX_ID, description="the recommendation's id")]


def recommendation_out(rec: Recommendation) -> RecommendationOut:
    return RecommendationOut.model_validate(
        {
            "id": rec.id,
            "trial_id": rec.trial_id,
            "as_of": rec.as_of,
            "decision": rec.result,
            "snapshot": rec.snapshot,
            "data_hash": rec.data_hash,
            "design_hash": rec.design_hash,
            "engine_version": rec.engine_version,
            "hash": rec.hash,
            "created_at": rec.created_at,
            "created_by": rec.created_by,
        }
    )


@router.get(
    "/trials/{trial_id}/recommendation",
    response_model=RecommendationOut,
    summary="The engine's recommendation on the stored data as of a date (stored)",
    description="Computed on the stored patients as of `as_of` and stored with the snapshot, "
    "hashes and engine version. The same inputs give back the same stored recommendation. "
    "`decision` is exactly `escalation recommend --json` on `snapshot`.",
    responses=errors(404),
)
def get_recommendation(trial_id: TrialId, key: Reader, db: DbDep, as_of: AsOf) -> JSONResponse:
    rec, _created = service.recommend(db, trial_id, as_of, actor=key.actor)
    # the hot path: validated once here, not again by FastAPI in another thread hop
    return JSONResponse(
        recommendation_out(rec).model_dump(mode="json"),
        headers={"Location": f"/v1/recommendations/{rec.id}"},
    )


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
        items=[recommendation_out(r) for r in rows],
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
def read_recommendation(
    recommendation_id: RecommendationId, _key: Reader, db: DbDep
) -> RecommendationOut:
    return recommendation_out(service.get_recommendation(db, recommendation_id))


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
