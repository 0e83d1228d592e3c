"""Small helpers shared by the services: pagination, ETags, lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.errors import Conflict, NotFound, PreconditionRequired
from api.storage.models import Trial
from escalation import Problem

__all__ = [
    "PageRequest",
    "check_if_match",
    "etag",
    "get_trial",
    "long_text_problems",
    "nul_problems",
    "page",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = 100
    offset: int = 0


def page(session: Session, query: Select[T], req: PageRequest) -> tuple[Sequence[T], int | None]:
    """One page of ``query`` (already ordered) and the offset of the next page (None at the end)."""
    rows = session.scalars(query.offset(req.offset).limit(req.limit + 1)).all()
    more = len(rows) > req.limit
    return rows[: req.limit], (req.offset + req.limit if more else None)


def etag(version: int) -> str:
    """The ETag of a versioned resource."""
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, *, required: bool, what: str) -> None:
    """Optimistic locking: the client's If-Match must name the current version."""
    if if_match is None:
        if required:
            raise PreconditionRequired.field(
                "If-Match", f"required to change {what}: send the ETag of the version you read"
            )
        return
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise Conflict.field(
        "If-Match",
        f"{what} is at version {version} ({etag(version)}), not {if_match}: it was changed "
        "since you read it; read it again and retry",
    )


def get_trial(session: Session, trial_id: int, *, for_update: bool = False) -> Trial:
    query = select(Trial).where(Trial.id == trial_id)
    if for_update:
        query = query.with_for_update()
    trial = session.scalars(query).one_or_none()
    if trial is None:
        raise NotFound.field("trial_id", f"no trial {trial_id}")
    return trial


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored or sent back: a NUL (PostgreSQL refuses it) or a lone
    surrogate such as ``\\ud800`` (JSON allows its escape; UTF-8 cannot encode it)."""
    if "\x00" in text:
        return "NUL characters are not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate such as \\ud800)"
    return None


def _printable(text: str) -> str:
    """``text`` as it can appear in an error message (lone surrogates escaped)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def nul_problems(value: Any, path: str) -> list[Problem]:
    """Text that cannot be stored or sent back (NUL characters, lone surrogates): name each
    place."""
    if isinstance(value, str):
        why = _unstorable(value)
        return [Problem(field=path or "body", message=why)] if why else []
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            key = f"{path}.{_printable(str(k))}" if path else _printable(str(k))
            if (why := _unstorable(str(k))) is not None:
                out.append(Problem(field=key, message=f"{why} in names"))
                continue
            out += nul_problems(v, key)
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nul_problems(v, f"{path}[{i}]")]
    return []


#: the longest name or label accepted (trial names, dose labels, scenario and design names)
MAX_NAME_LENGTH = 200
_NAMED = ("name", "label")


def long_text_problems(value: Any, path: str) -> list[Problem]:
    """Names and labels longer than ``MAX_NAME_LENGTH`` characters: name each place."""
    if isinstance(value, Mapping):
        out = []
        for k, v in value.items():
            key = f"{path}.{k}" if path else str(k)
            if k in _NAMED and isinstance(v, str) and len(v) > MAX_NAME_LENGTH:
                out.append(
                    Problem(
                        field=key,
                        message=f"{len(v)} characters: at most {MAX_NAME_LENGTH} are allowed",
                    )
                )
            else:
                out += long_text_problems(v, key)
        return out
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in long_text_problems(v, f"{path}[{i}]")]
    return []
