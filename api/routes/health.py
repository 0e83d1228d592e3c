"""Liveness (no key) and readiness (the database answers; any valid key)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from api.deps import AnyKey, DbDep
from api.errors import ApiError
from api.routes._docs import errors
from api.schemas import ErrorOut, HealthOut, ReadyOut

router = APIRouter(tags=["health"])


class NotReady(ApiError):
    status_code = 503
    code = "not_ready"


@router.get("/healthz", response_model=HealthOut, summary="The process is alive (no key needed)")
def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get(
    "/readyz",
    response_model=ReadyOut,
    summary="The database is reachable and at the current schema",
    responses=errors() | {503: {"model": ErrorOut, "description": "Database unreachable"}},
)
def readyz(db: DbDep, _key: AnyKey) -> ReadyOut:
    try:
        db.ping()
        revision = db.current_revision()
    except SQLAlchemyError as e:
        raise NotReady.field("database", f"unreachable: {type(e).__name__}") from None
    if revision != db.head_revision():
        raise NotReady.field("database", f"schema at {revision}, expected {db.head_revision()}")
    return ReadyOut(
        status="ready",
        database="sqlite" if db.is_sqlite else "postgresql",
        schema_revision=revision,
    )
