"""Simulation jobs as resources: queue one, read its status, progress and results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from api.errors import Conflict, InvalidInput, NotFound
from api.jobs import ACTIVE, load_function
from api.services.common import PageRequest, long_text_problems, nul_problems, page
from api.storage import audit
from api.storage.audit import sha256_json
from api.storage.db import Database
from api.storage.models import SimulationJob, utcnow
from escalation import EscalationError, Problem

__all__ = ["cancel_job", "create_job", "get_job", "list_jobs", "validate_spec"]


def validate_spec(
    spec: Mapping[str, Any], validator: str | None, *, max_trials: int | None = None
) -> None:
    """Check a spec with the harness's own validator (every problem, each with its field), and
    its size: simulated trials x scenarios x designs at most ``max_trials``."""
    if problems := nul_problems(spec, "") + long_text_problems(spec, ""):
        raise InvalidInput.from_problems(problems)
    if validator is None:
        return
    try:
        parsed = load_function(validator)(spec)
    except EscalationError as e:
        found: Sequence[Problem] = getattr(e, "problems", ())
        if not found:
            raise InvalidInput.field("body", str(e)) from None
        raise InvalidInput.from_problems(found) from None
    trials = getattr(parsed, "trials", None)
    scenarios = getattr(parsed, "scenarios", None)
    designs = getattr(parsed, "designs", None)
    if max_trials is None or not isinstance(trials, int) or scenarios is None or designs is None:
        return
    total = trials * len(scenarios) * len(designs)
    if total > max_trials:
        raise InvalidInput.field(
            "trials",
            f"{trials} trials x {len(scenarios)} scenarios x {len(designs)} designs = {total} "
            f"simulated trials: at most {max_trials} in one job (split the spec)",
        )


def create_job(
    db: Database,
    spec: Mapping[str, Any],
    *,
    actor: str,
    validator: str | None = None,
    max_trials: int | None = None,
) -> SimulationJob:
    """A queued job for ``spec`` (the caller hands its id to the job runner after the commit)."""
    validate_spec(spec, validator, max_trials=max_trials)
    with db.write() as s:
        job = SimulationJob(
            status="queued",
            spec=dict(spec),
            progress_done=0,
            created_at=utcnow(),
            created_by=actor,
        )
        s.add(job)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="simulation.create",
            entity_type="simulation",
            entity_id=job.id,
            after={"status": "queued", "spec_hash": sha256_json(job.spec)},
        )
    return job


def get_job(db: Database, job_id: int) -> SimulationJob:
    with db.read() as s:
        job = s.get(SimulationJob, job_id)
        if job is None:
            raise NotFound.field("job_id", f"no simulation job {job_id}")
        return job


def list_jobs(db: Database, req: PageRequest) -> tuple[Sequence[SimulationJob], int | None]:
    with db.read() as s:
        return page(s, select(SimulationJob).order_by(SimulationJob.id), req)


def cancel_job(db: Database, job_id: int, *, actor: str) -> SimulationJob:
    """Cancel a queued or running job (audited); the job runner stops its worker process."""
    with db.write() as s:
        job = s.scalars(
            select(SimulationJob).where(SimulationJob.id == job_id).with_for_update()
        ).one_or_none()
        if job is None:
            raise NotFound.field("job_id", f"no simulation job {job_id}")
        if job.status not in ACTIVE:
            raise Conflict.field(
                "job_id", f"simulation job {job_id} has already finished ({job.status})"
            )
        before = job.status
        job.status, job.finished_at = "cancelled", utcnow()
        job.error = f"cancelled by {actor}"
        audit.append(
            s,
            actor=actor,
            action="simulation.cancelled",
            entity_type="simulation",
            entity_id=job_id,
            before={"status": before},
            after={"status": "cancelled", "error": job.error},
        )
        return job
