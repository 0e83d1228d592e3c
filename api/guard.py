"""What every request meets before the application: its key is checked first, a client that keeps
failing to authenticate is turned away, and a body over the limit is refused unread.

``Guard`` is ASGI middleware in front of the application (behind the stored-recommendation fast
path, which answers only requests with a valid key):

* every path but the public ones (``/healthz`` and the API docs) needs a valid key: 401
  before anything else is looked at, so a request without a key never learns from a 422 what the
  body should have been. The caller found is handed to the application in the request's state.
* a client (its address) with ``auth_failure_limit`` failed authentications (an unknown, revoked
  or malformed key) within ``AUTH_WINDOW_S`` seconds gets 429 with ``Retry-After`` until the
  oldest of them leaves the window; each failure and each refusal is logged (counts are per
  worker process).
* a body over ``max_body_bytes`` (``Content-Length``, or counted as it arrives) gets 413.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import OrderedDict, deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import KEY_PREFIX, Caller
from api.errors import ApiError, Unauthorized, problem
from api.services.admin import authenticate
from api.storage.db import Database

__all__ = ["AUTH_WINDOW_S", "MAX_BODY_BYTES", "FailedAuthentications", "Guard"]

log = logging.getLogger(__name__)

PUBLIC_PATHS = frozenset({"/healthz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
# the committee's pages (api.ui) and the docs' assets: a browser sends no bearer key; the pages check
# their own session cookie, and their bodies are held to the same limit
PAGE_PREFIXES = ("/ui/", "/static/docs/")


def _is_page(path: str) -> bool:
    return path == "/" or path.startswith(PAGE_PREFIXES)


MAX_BODY_BYTES = 1_000_000
AUTH_WINDOW_S = 60.0
TRACKED_CLIENTS = 10_000


class FailedAuthentications:
    """Failed authentications per client in a sliding window (used on the event loop only)."""

    def __init__(self, limit: int, window_s: float = AUTH_WINDOW_S) -> None:
        self.limit = limit
        self.window_s = window_s
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.get(client)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            del self._failures[client]
        return times

    def retry_after(self, client: str, now: float | None = None) -> float | None:
        """Seconds until ``client`` may try again (None: it may now)."""
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        if len(times) < self.limit:
            return None
        return max(0.0, times[-self.limit] + self.window_s - now)

    def fail(self, client: str, now: float | None = None) -> int:
        """Count a failure; the client's failures in the window."""
        now = time.monotonic() if now is None else now
        times = self._recent(client, now)
        times.append(now)
        self._failures[client] = times
        self._failures.move_to_end(client)
        if len(self._failures) > TRACKED_CLIENTS:
            self._failures.popitem(last=False)
        return len(times)


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _answer(
    send: Send, status: int, body: dict[str, object], headers: dict[str, str]
) -> None:
    # as the application's JSONResponse renders an error: the same bytes, the same headers
    data = json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode()
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"content-length", str(len(data)).encode()), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


async def _error(send: Send, error: ApiError) -> None:
    await _answer(send, error.status_code, error.body(), error.headers)


class _TooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class _TooManyFailures(ApiError):
    status_code = 429
    code = "too_many_requests"


class Guard:
    """ASGI middleware: authenticate first, limit failed authentications, bound the body."""

    def __init__(
        self, app: ASGIApp, *, db: Database, auth_failure_limit: int, max_body_bytes: int
    ) -> None:
        self.app = app
        self.db = db
        self.failures = FailedAuthentications(auth_failure_limit)
        self.max_body_bytes = max_body_bytes

    def blocked(self, scope: Scope) -> float | None:
        """Seconds the request's client must wait (None: not blocked)."""
        return self.failures.retry_after(_client(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        if _is_page(scope["path"]):
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
                await _error(send, self._too_large())
                return
            await self.app(scope, receive, send)
            return
        client = _client(scope)
        wait = self.failures.retry_after(client)
        if wait is not None:
            log.warning(
                "429 for %s: too many failed authentications (%s %s)",
                client,
                scope["method"],
                scope["path"],
            )
            seconds = max(1, math.ceil(wait))
            await _error(
                send,
                _TooManyFailures(
                    f"too many failed authentications from {client}: try again in {seconds} s",
                    [problem("Authorization", "too many unknown or revoked keys")],
                    headers={"Retry-After": str(seconds)},
                ),
            )
            return
        caller = self._caller(scope)
        if isinstance(caller, ApiError):
            await _error(send, caller)
            return
        scope.setdefault("state", {})["caller"] = caller
        length = _header(scope, b"content-length")
        if length is not None:
            if length.isdigit() and int(length) > self.max_body_bytes:
                await _error(send, self._too_large())
                return
            await self.app(scope, receive, send)
            return
        # no Content-Length (a chunked body): read it here, up to the limit, then hand it on
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = bool(message.get("more_body", False))
            if len(body) > self.max_body_bytes:
                await _error(send, self._too_large())
                return
        await self.app(scope, _replay(body, receive), send)

    def _caller(self, scope: Scope) -> Caller | ApiError:
        header = _header(scope, b"authorization")
        if header is None:
            return Unauthorized("missing API key: send 'Authorization: Bearer KEY'")
        scheme, _, key = header.decode("latin-1").partition(" ")
        caller = None
        if scheme.lower() == "bearer" and key.strip().startswith(KEY_PREFIX):
            caller = authenticate(self.db, key.strip())
        if caller is not None:
            return caller
        client = _client(scope)
        n = self.failures.fail(client)
        log.warning(
            "failed authentication from %s (%d in %.0f s): %s %s",
            client,
            n,
            self.failures.window_s,
            scope["method"],
            scope["path"],
        )
        if scheme.lower() != "bearer":
            return Unauthorized("malformed Authorization header: send 'Authorization: Bearer KEY'")
        return Unauthorized("unknown or revoked API key")

    def _too_large(self) -> ApiError:
        return _TooLarge(
            f"the request body is over {self.max_body_bytes} bytes",
            [problem("body", f"at most {self.max_body_bytes} bytes are accepted")],
        )


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` that gives ``body`` once, then what the client sends (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
