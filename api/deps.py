"""Request dependencies (``Annotated`` aliases): the database, the caller's key and its rights,
pagination, ids in paths, If-Match.

Every dependency is ``async``: it runs on the event loop, not in a worker thread, because a thread
hand-off (and the GIL hand-offs it brings under load) costs more than the work. That includes the
key lookup, one indexed read of a few columns that takes tens of microseconds: it blocks the loop
for less time than a hand-off would take.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import RIGHTS, Caller, Right, role_with
from api.config import AS_OF_TOLERANCE_DAYS, Settings
from api.errors import Forbidden, InvalidInput, Unauthorized, problem
from api.jobs import JobRunner
from api.services.admin import authenticate
from api.services.common import PageRequest
from api.storage.db import Database
from escalation import EARLIEST_DATE, LATEST_DATE

__all__ = [
    "EARLIEST_AS_OF",
    "LATEST_AS_OF",
    "MAX_ID",
    "Admin",
    "AnyKey",
    "AsOf",
    "DbDep",
    "Decider",
    "IfMatch",
    "JobsDep",
    "PageDep",
    "PatientId",
    "PatientReader",
    "PatientWriter",
    "Reader",
    "SettingsDep",
    "SimulationRunner",
    "TrialId",
    "TrialWriter",
    "latest_as_of",
    "reject_unknown_query",
]

MAX_ID = 2**31 - 1


async def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_jobs(request: Request) -> JobRunner:
    jobs: JobRunner = request.app.state.jobs
    return jobs


DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
JobsDep = Annotated[JobRunner, Depends(get_jobs)]

_bearer = HTTPBearer(
    auto_error=False,
    description="An API key: `Authorization: Bearer KEY` (create one with `escalation keys create`).",
)


async def current_key(
    request: Request,
    db: DbDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller's active key (401 when missing, malformed, unknown or revoked): as the guard
    found it before anything else (``api.guard``), or looked up here."""
    found = getattr(request.state, "caller", None)
    if isinstance(found, Caller):
        return found
    if credentials is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer KEY'")
    key = authenticate(db, credentials.credentials)
    if key is None:
        raise Unauthorized("unknown or revoked API key")
    return key


AnyKey = Annotated[Caller, Depends(current_key)]


def require(right: Right) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency that lets through only keys whose role holds ``right`` (403 otherwise)."""

    async def check(key: AnyKey) -> Caller:
        if right not in RIGHTS.get(key.role, frozenset()):
            allowed = ", ".join(role_with(right))
            raise Forbidden(
                f"role {key.role!r} may not {right.value} (roles that may: {allowed})",
                [problem("Authorization", f"role {key.role!r} lacks the right to {right.value}")],
            )
        return key

    return check


Reader = Annotated[Caller, Depends(require(Right.READ))]
PatientReader = Annotated[Caller, Depends(require(Right.READ_PATIENTS))]
PatientWriter = Annotated[Caller, Depends(require(Right.WRITE_PATIENTS))]
Decider = Annotated[Caller, Depends(require(Right.DECIDE))]
TrialWriter = Annotated[Caller, Depends(require(Right.WRITE_TRIALS))]
SimulationRunner = Annotated[Caller, Depends(require(Right.RUN_SIMULATIONS))]
Admin = Annotated[Caller, Depends(require(Right.MANAGE_KEYS))]


async def page_request(
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID, description="items to skip")] = 0,
) -> PageRequest:
    return PageRequest(limit=limit, offset=offset)


PageDep = Annotated[PageRequest, Depends(page_request)]

TrialId = Annotated[int, Path(ge=1, le=MAX_ID, description="the trial's id")]
PatientId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="the trial's identifier of the patient (letters, digits, '.', '_', '-')",
        examples=["P001"],
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        max_length=200,
        description="the ETag of the version you read: a write on a changed version gets 409",
    ),
]


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


_ALLOWED_QUERY: dict[int, frozenset[str]] = {}  # by id(route): routes live as long as the app


def _allowed_query(route: APIRoute) -> frozenset[str]:
    names = _ALLOWED_QUERY.get(id(route))
    if names is None:
        names = _ALLOWED_QUERY[id(route)] = _query_names(route.dependant)
    return names


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the operation does not have: a typo such as ``?asof=`` must not
    silently fall back to the default."""
    route = request.scope.get("route")
    if not request.query_params or not isinstance(route, APIRoute):
        return
    allowed = _allowed_query(route)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}",
            [problem(name, f"unknown query parameter (parameters: {known})") for name in unknown],
        )


EARLIEST_AS_OF, LATEST_AS_OF = EARLIEST_DATE, LATEST_DATE


def latest_as_of(today: dt.date) -> dt.date:
    """The latest ``as_of`` a request may ask for: the server's today plus a day's tolerance."""
    return min(today + dt.timedelta(days=AS_OF_TOLERANCE_DAYS), LATEST_AS_OF)


async def as_of_date(
    settings: SettingsDep,
    as_of: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="the date the data describe, YYYY-MM-DD (default: today, the server's "
            f"date), from {EARLIEST_AS_OF} to the server's today + {AS_OF_TOLERANCE_DAYS} day; "
            "patients infused later are left out, DLTs and withdrawals dated later are not yet "
            "known",
            examples=["2026-08-20"],
            json_schema_extra={
                "format": "date",
                "formatMinimum": EARLIEST_AS_OF.isoformat(),
            },
        ),
    ] = None,
) -> dt.date:
    if as_of is None:
        return settings.today()
    try:
        day = dt.date.fromisoformat(as_of)
    except ValueError:
        raise InvalidInput.field("as_of", f"not a calendar date: {as_of!r}") from None
    latest = latest_as_of(settings.today())
    if not EARLIEST_AS_OF <= day <= latest:
        raise InvalidInput.field(
            "as_of",
            f"{day} is outside {EARLIEST_AS_OF} to {latest} (the server's today, "
            f"{settings.today()}, + {AS_OF_TOLERANCE_DAYS} day)",
        )
    return day


AsOf = Annotated[dt.date, Depends(as_of_date)]
