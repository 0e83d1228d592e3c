"""Errors as JSON: every error body names each field and the reason.

Body: ``{"error": CODE, "message": TEXT, "problems": [{"field", "patient_id", "message"}, ...]}``.
422 invalid input (every problem the engine found), 401 no or unknown key, 403 a role without the
right, 404 unknown resource, 409 conflicting write, 428 a required If-Match missing. The handlers
that turn them (and FastAPI's own errors) into responses are in ``api.handlers``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from escalation import InvalidDesignError, InvalidTrialDataError, Problem

__all__ = [
    "ApiError",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PreconditionRequired",
    "Unauthorized",
    "problem",
]


def problem(field: str, message: str, patient_id: str | None = None) -> dict[str, str | None]:
    """One problem in its JSON form."""
    return {"field": field, "patient_id": patient_id, "message": message}


class ApiError(Exception):
    """An error answered with its status and a JSON body naming the fields at fault."""

    status_code = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        problems: Iterable[Mapping[str, str | None]] = (),
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.problems = [dict(p) for p in problems]
        self.headers = dict(headers or {})

    @classmethod
    def field(cls, field: str, message: str, **kwargs: Any) -> ApiError:
        """The error for a single field."""
        return cls(f"{field}: {message}", [problem(field, message)], **kwargs)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "problems": self.problems}


class InvalidInput(ApiError):
    status_code = 422
    code = "invalid_input"

    @classmethod
    def from_engine(
        cls,
        error: InvalidTrialDataError | InvalidDesignError,
        *,
        rename: Mapping[str, str] | None = None,
    ) -> InvalidInput:
        """Every problem of an engine validation error (field prefixes renamed if asked)."""
        return cls.from_problems(error.problems, rename=rename)

    @classmethod
    def from_problems(
        cls, problems: Sequence[Problem], *, rename: Mapping[str, str] | None = None
    ) -> InvalidInput:
        out = [problem(_rename(p.field, rename or {}), p.message, p.patient_id) for p in problems]
        n = len(out)
        return cls(f"invalid document: {n} problem{'s' if n != 1 else ''}", out)


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            [problem("Authorization", message)],
            headers={"WWW-Authenticate": "Bearer"},
        )


class Forbidden(ApiError):
    status_code = 403
    code = "forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class PreconditionRequired(ApiError):
    status_code = 428
    code = "precondition_required"


def _rename(field: str, rename: Mapping[str, str]) -> str:
    """``field`` with its first matching prefix replaced (an empty replacement drops it)."""
    for old, new in rename.items():
        if field == old:
            return new or "body"
        if field.startswith(old + "."):
            rest = field[len(old) + 1 :]
            return f"{new}.{rest}" if new else rest
        if field.startswith(old + "["):
            return (new or "body") + field[len(old) :]
    return field
