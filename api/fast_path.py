"""The hot path: a stored recommendation, answered before routing and dependency injection.

``GET /v1/trials/{id}/recommendation`` is what dashboards poll, and most of those requests find the
recommendation stored. Served by the route, such a request spends most of its CPU time in the
middleware layers, route matching and solving its eight dependencies, not in its work (a key lookup
and two indexed reads). This wrapper, in front of the application's middleware stack, answers
exactly those requests itself, on one connection, with the stored bytes, and hands every other
request to the application untouched (as it does when its reads fail).

It answers only when everything the route would check is plainly in order: a GET of that path
with a canonical trial id, no query or just ``as_of=YYYY-MM-DD`` in range, a well-formed bearer key
that is active and may read, an existing trial and a stored recommendation for the inputs. Anything
else, including every error and every recommendation still to be made, goes to the route, so
errors, validation and writes have one implementation; for what it answers, the route would answer
the same bytes (the stored body) with the same headers.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import RIGHTS, Right
from api.deps import EARLIEST_AS_OF, LATEST_AS_OF, MAX_ID
from api.errors import ApiError
from api.services.admin import find_caller
from api.services.recommendations import lookup_on
from api.storage.db import Database

__all__ = ["StoredRecommendations"]

log = logging.getLogger(__name__)

_PATH = re.compile(r"/v1/trials/([1-9][0-9]{0,9})/recommendation")
_QUERY = re.compile(rb"as_of=([0-9]{4}-[0-9]{2}-[0-9]{2})")
_BEARER = re.compile(rb"Bearer (esk_[A-Za-z0-9_-]{43})")


def _as_of(query: bytes) -> dt.date | None:
    """The as_of date of the query string (today when there is none); None to leave it to the
    route (anything else in the query, or a date the route would refuse)."""
    if not query:
        return dt.date.today()
    match = _QUERY.fullmatch(query)
    if match is None:
        return None
    try:
        day = dt.date.fromisoformat(match[1].decode())
    except ValueError:
        return None
    return day if EARLIEST_AS_OF <= day <= LATEST_AS_OF else None


def _bearer_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of the first Authorization header, when it is ``Bearer`` and a key's shape."""
    for name, value in headers:
        if name == b"authorization":
            match = _BEARER.fullmatch(value)
            return match[1].decode() if match else None
    return None


class StoredRecommendations:
    """ASGI middleware: answers ``GET /v1/trials/{id}/recommendation`` when it is stored."""

    def __init__(self, app: ASGIApp, *, db: Database) -> None:
        self.app = app
        self.db = db

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            try:
                response = self._stored(scope)
            except SQLAlchemyError:  # the route meets it too, and answers it as every error
                response = None
            except Exception:  # a bug here: say so, and let the route answer
                log.exception("stored-recommendation fast path failed on %s", scope["path"])
                response = None
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _stored(self, scope: Scope) -> Response | None:
        path = _PATH.fullmatch(scope["path"])
        if path is None or scope.get("root_path") or int(path[1]) > MAX_ID:
            return None
        as_of = _as_of(scope["query_string"])
        key = _bearer_key(scope["headers"])
        if as_of is None or key is None:
            return None
        # blocking reads on the event loop, as the route's key lookup does: three indexed reads
        # take less time than a hand-off to a worker thread
        with self.db.connect() as conn:
            caller = find_caller(conn, key)
            if caller is None or Right.READ not in RIGHTS.get(caller.role, frozenset()):
                return None
            try:
                found = lookup_on(conn, int(path[1]), as_of)
            except ApiError:
                return None
        if found.stored is None:
            return None
        return Response(
            found.stored.body,
            media_type="application/json",
            headers={"Location": f"/v1/recommendations/{found.stored.id}"},
        )
