"""The hot path: a stored recommendation, answered before routing and dependency injection.

``GET /v1/trials/{id}/recommendation`` is what dashboards poll, and most of those requests find the
recommendation stored. Served by the route, such a request spends most of its CPU time in the
middleware layers, route matching and solving its eight dependencies, and three reads (the key,
the trial with its patients, the stored recommendation by the hashes of the snapshot). This
wrapper, in front of the application's middleware stack, answers exactly those requests itself and
hands every other request to the application untouched (as it does when its reads fail).

It reads the key and the trial's data version in one statement. The data version is raised by
database triggers on every change of the trial, its patients or its stored recommendations (schema
revision 0004), so a recommendation found once for (trial, as of, data version) is the one the
route would find for the same triple: each process keeps the last ones it served, by that
triple, and sends them again after that one read. When the triple is new to it, it does the
route's reads (snapshot, hashes, stored recommendation) and remembers what they found.

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
from collections import OrderedDict
from collections.abc import Callable

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import RIGHTS, Right, hash_key
from api.deps import EARLIEST_AS_OF, MAX_ID, latest_as_of
from api.errors import ApiError
from api.services.recommendations import Served, lookup_on
from api.storage.db import Database
from api.storage.models import ApiKey, Trial

__all__ = ["StoredRecommendations", "stored_response"]

log = logging.getLogger(__name__)

_PATH = re.compile(r"/v1/trials/([1-9][0-9]{0,9})/recommendation")
_QUERY = re.compile(rb"as_of=([0-9]{4}-[0-9]{2}-[0-9]{2})")
_BEARER = re.compile(rb"Bearer (esk_[A-Za-z0-9_-]{43})")

# the key's role if it is active, and the trial's data version (NULL: no such trial): one row, or
# none for an unknown or revoked key
_CALLER_AND_VERSION = (
    select(ApiKey.role, Trial.data_version)
    .select_from(ApiKey)
    .outerjoin(Trial, Trial.id == bindparam("trial_id"))
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
REMEMBERED = 1024  # stored recommendations each process keeps (a few kB each)


def _as_of(query: bytes, today: Callable[[], dt.date]) -> dt.date | None:
    """The as_of date of the query string (today when there is none); None to leave it to the
    route (anything else in the query, or a date the route would refuse)."""
    if not query:
        return today()
    match = _QUERY.fullmatch(query)
    if match is None:
        return None
    try:
        day = dt.date.fromisoformat(match[1].decode())
    except ValueError:
        return None
    return day if EARLIEST_AS_OF <= day <= latest_as_of(today()) else None


def _bearer_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The key of the first Authorization header, when it is ``Bearer`` and a key's shape."""
    for name, value in headers:
        if name == b"authorization":
            match = _BEARER.fullmatch(value)
            return match[1].decode() if match else None
    return None


def stored_response(stored: Served) -> Response:
    """A stored recommendation as the service sends it, here and from the route: its stored
    bytes, with its address."""
    return Response(
        stored.body,
        media_type="application/json",
        headers={"Location": f"/v1/recommendations/{stored.id}"},
    )


class StoredRecommendations:
    """ASGI middleware: answers ``GET /v1/trials/{id}/recommendation`` when it is stored."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        db: Database,
        today: Callable[[], dt.date] = dt.date.today,
        remembered: int = REMEMBERED,
        blocked: Callable[[Scope], float | None] | None = None,
    ) -> None:
        self.app = app
        self.db = db
        self.today = today  # the server's clock (``Settings.today``)
        # a client turned away for failed authentications is answered by the application
        self.blocked = blocked
        self.remembered = remembered
        # (trial id, as of, data version) -> the recommendation served for it; used and changed
        # on the event loop's thread only
        self._served: OrderedDict[tuple[int, dt.date, int], Served] = OrderedDict()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            try:
                response = self._stored(scope)
            except SQLAlchemyError:  # the route meets it too, and answers it as every error
                # and what was remembered may belong to another state of the database (one
                # restored from a dump, a schema downgraded under a running service): forget it
                self._served.clear()
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
        if self.blocked is not None and self.blocked(scope) is not None:
            return None
        as_of = _as_of(scope["query_string"], self.today)
        key = _bearer_key(scope["headers"])
        if as_of is None or key is None:
            return None
        trial_id = int(path[1])
        # blocking reads on the event loop, as the route's key lookup does: one indexed read
        # takes less time than a hand-off to a worker thread
        with self.db.connect() as conn:
            row = conn.execute(
                _CALLER_AND_VERSION, {"key_hash": hash_key(key), "trial_id": trial_id}
            ).one_or_none()
            if row is None or Right.READ not in RIGHTS.get(row.role, frozenset()):
                return None  # no such active key, or one that may not read: the route says so
            if row.data_version is None:
                return None  # no such trial
            inputs = (trial_id, as_of, row.data_version)
            stored = self._served.get(inputs)
            if stored is not None:
                self._served.move_to_end(inputs)
            else:
                try:
                    found = lookup_on(conn, trial_id, as_of)
                except ApiError:
                    return None
                if found.stored is None:
                    return None  # to be made: the route makes it
                stored = found.stored
                self._remember((trial_id, as_of, found.data_version), stored)
        return stored_response(stored)

    def _remember(self, inputs: tuple[int, dt.date, int], stored: Served) -> None:
        self._served[inputs] = stored
        if len(self._served) > self.remembered:
            self._served.popitem(last=False)
