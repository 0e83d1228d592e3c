"""Simulation jobs: 202 and a job id; status, progress and results by polling."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response, status

from api.deps import MAX_ID, DbDep, JobsDep, PageDep, Reader, SettingsDep, SimulationRunner
from api.routes._docs import document_body, errors
from api.schemas import Page, SimulationJobOut, SimulationSpecIn
from api.services import simulations as service
from api.storage.models import SimulationJob

router = APIRouter(tags=["simulations"])

JobId = Annotated[int, Path(ge=1, le=MAX_ID, description="the job's id")]


def job_out(job: SimulationJob) -> SimulationJobOut:
    if job.status == "succeeded":
        fraction = 1.0
    elif job.progress_total:
        fraction = min(1.0, job.progress_done / job.progress_total)
    else:
        fraction = 0.0
    fields = {c: getattr(job, c) for c in SimulationJobOut.model_fields if c != "progress_fraction"}
    return SimulationJobOut.model_validate(fields | {"progress_fraction": round(fraction, 4)})


@router.post(
    "/simulations",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SimulationJobOut,
    summary="Run a simulation spec in a worker process",
    description="The spec is the one `escalation simulate` reads, validated at once (422 with "
    "every problem, and when trials x scenarios x designs is over the service's limit). Poll the "
    "job for its status, progress (`progress_fraction`) and, when it succeeded, the results (as "
    "`escalation simulate --json`); DELETE it to cancel it.",
    responses=errors(),
    openapi_extra=document_body(SimulationSpecIn),
)
def submit(
    spec: Annotated[dict[str, Any], Body()],
    key: SimulationRunner,
    db: DbDep,
    jobs: JobsDep,
    settings: SettingsDep,
    response: Response,
) -> SimulationJobOut:
    job = service.create_job(
        db,
        spec,
        actor=key.actor,
        validator=settings.simulation_validator,
        max_trials=settings.max_simulation_trials,
    )
    jobs.submit(job.id)
    response.headers["Location"] = f"/v1/simulations/{job.id}"
    return job_out(job)


@router.get(
    "/simulations",
    response_model=Page[SimulationJobOut],
    summary="Simulation jobs",
    responses=errors(),
)
def list_jobs(_key: Reader, db: DbDep, paging: PageDep) -> Page[SimulationJobOut]:
    rows, next_offset = service.list_jobs(db, paging)
    return Page[SimulationJobOut](
        items=[job_out(j) for j in rows],
        limit=paging.limit,
        offset=paging.offset,
        next_offset=next_offset,
    )


@router.get(
    "/simulations/{job_id}",
    response_model=SimulationJobOut,
    summary="A simulation job: status, progress, results",
    responses=errors(404),
)
def get_job(job_id: JobId, _key: Reader, db: DbDep) -> SimulationJobOut:
    return job_out(service.get_job(db, job_id))


@router.delete(
    "/simulations/{job_id}",
    response_model=SimulationJobOut,
    summary="Cancel a simulation job",
    description="A queued job never starts; a running one is stopped (its worker process ends "
    "within a second or so). Audited. 409 when the job has already finished.",
    responses=errors(404, 409),
)
def cancel_job(job_id: JobId, key: SimulationRunner, db: DbDep) -> SimulationJobOut:
    return job_out(service.cancel_job(db, job_id, actor=key.actor))
