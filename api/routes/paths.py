"""Dose-transition pathways of the next cohorts on the stored data."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AsOf, DbDep, Reader, TrialId
from api.errors import InvalidInput
from api.routes._docs import errors
from api.services import meeting as service

router = APIRouter(tags=["recommendations"])

_NUMBER = r"(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)"


@router.get(
    "/trials/{trial_id}/paths",
    summary="Dose-transition pathways of the next cohorts (as `escalation paths --json`)",
    description="Every outcome of the next cohorts (N: no DLT, T: DLT) and the design's "
    "decision after each, from the stored data as of `as_of` (pending patients taken to complete "
    "without a DLT); `next_dose` null means stop. With `true_dlt_probs`, the exact probability "
    "of each path and recommendation. Nothing is stored.",
    responses=errors(404),
)
def dose_paths(
    trial_id: TrialId,
    _key: Reader,
    db: DbDep,
    as_of: AsOf,
    cohorts: Annotated[
        str,
        Query(
            pattern=r"^[0-9]{1,2}(,[0-9]{1,2}){0,3}$",
            description="sizes of the next cohorts, comma-separated",
            examples=["3,3"],
        ),
    ] = "3,3",
    next_dose: Annotated[
        int | None,
        Query(ge=1, le=1000, description="dose level of the first cohort (default: recommended)"),
    ] = None,
    true_dlt_probs: Annotated[
        str | None,
        Query(
            pattern=rf"^{_NUMBER}(,{_NUMBER}){{0,49}}$",
            max_length=1000,
            description="true DLT probability per dose level, comma-separated",
        ),
    ] = None,
) -> dict[str, Any]:
    sizes = [int(k) for k in cohorts.split(",")]
    probs = None
    if true_dlt_probs is not None:
        try:
            probs = [float(p) for p in true_dlt_probs.split(",")]
        except ValueError:  # pragma: no cover - the pattern admits only numbers
            raise InvalidInput.field("true_dlt_probs", "not numbers") from None
    return service.paths_json(
        db, trial_id, as_of, cohorts=sizes, next_dose=next_dose, true_dlt_probs=probs
    )
