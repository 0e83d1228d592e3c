"""OpenAPI helpers: documented error responses and engine-validated document bodies."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from api.schemas import ErrorOut

__all__ = ["DOCUMENT_BODY_KEY", "document_body", "errors"]

DOCUMENT_BODY_KEY = "x-escalation-document-model"

_DESCRIPTIONS = {
    401: "No API key, or an unknown or revoked one",
    403: "The key's role lacks the right",
    404: "No such resource",
    409: "Conflicting write (stale If-Match, frozen trial, data changed)",
    413: "The request body is over the service's limit (1,000,000 bytes by default)",
    422: "Invalid input: every problem, each with its field (and patient)",
    428: "If-Match is required",
    429: "Too many failed authentications from this client: try again after Retry-After seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented error responses of an operation (401, 403, 413 and 429 always, 422 for
    parameters)."""
    return {
        code: {"model": ErrorOut, "description": _DESCRIPTIONS[code]}
        for code in sorted({401, 403, 413, 422, 429, *codes})
    }


def document_body(model: type[BaseModel]) -> dict[str, Any]:
    """Marks an operation whose JSON body the engine validates; ``create_app`` documents it as
    ``model`` (the schema replaces the generic object FastAPI infers)."""
    return {DOCUMENT_BODY_KEY: model.__name__}
