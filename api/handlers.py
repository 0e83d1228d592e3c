"""Exception handlers: every error, ours or the framework's, answered in the one JSON shape.

A 5xx is a bug: it is logged with its traceback and answered without internals. Starlette's
``ServerErrorMiddleware`` sends that answer and then raises the exception again, for the server to
see; uvicorn, seeing an exception after a response, closes the connection, so the client's next
request on that keep-alive connection was reset. ``KeepAliveAfterErrors`` stops it there once the
answer was sent (the handler already logged it), and the connection lives on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, InvalidInput, problem

__all__ = ["KeepAliveAfterErrors", "install_error_handlers"]

log = logging.getLogger(__name__)


def _field_from_loc(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, parts = str(parts[0]), parts[1:]
        if not parts:
            return where
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for err in exc.errors():
        msg = str(err.get("msg", "invalid"))
        field = _field_from_loc(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            loc = err.get("loc", ())
            where = f" at character {loc[1]}" if len(loc) > 1 else ""
            field, msg = "body", f"not valid JSON: {ctx.get('error', msg)}{where}"
        problems.append(problem(field, msg))
    n = len(problems)
    body = {
        "error": InvalidInput.code,
        "message": f"invalid request: {n} problem{'s' if n != 1 else ''}",
        "problems": problems,
    }
    return JSONResponse(body, status_code=422)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> str:
    """Every method the path supports, across all its routes: each method asked of the router as
    a request would (included routers nest their routes, so no list of paths is walked)."""
    allowed = []
    for method in _METHODS:
        scope = dict(request.scope, method=method)
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    if exc.status_code == 400:  # FastAPI could not decode the body at all (not UTF-8 JSON)
        message = f"the body could not be read as JSON: {exc.detail}"
        return JSONResponse(
            {
                "error": InvalidInput.code,
                "message": message,
                "problems": [problem("body", message)],
            },
            status_code=422,
        )
    message = str(exc.detail)
    field = "path" if exc.status_code in (404, 405) else "body"
    body = {
        "error": _HTTP_CODES.get(exc.status_code, "error"),
        "message": message if exc.status_code != 404 else f"no such resource: {request.url.path}",
        "problems": [problem(field, message)],
    }
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
    body = {
        "error": "internal_error",
        "message": "internal error: this is a bug; it was logged",
        "problems": [],
    }
    return JSONResponse(body, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the one JSON error shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)


class KeepAliveAfterErrors:
    """ASGI middleware around the application's stack: an exception raised after its response
    was sent in full (the 500 handler answered and logged it) ends here, so that the server keeps
    the connection open; one raised before a complete response goes on to the server."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = False

        async def watch(message: Message) -> None:
            nonlocal answered
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not answered:
                raise
