"""Browser sessions of the committee's pages.

A person signs in with their API key; the service opens a session: a random token (the cookie),
stored only as its SHA-256, with the key it was opened with, a CSRF token for the session's forms,
and an expiry. A session ends at sign-out, at its expiry, or when its key is revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select

from api.auth import Caller
from api.services.admin import authenticate
from api.storage.db import Database
from api.storage.models import ApiKey, UiSession, utcnow

__all__ = ["SESSION_HOURS", "SignedIn", "end_session", "find_session", "open_session"]

SESSION_HOURS = 8


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedIn:
    """An open page session: who (the key's caller) and the CSRF token of its forms."""

    caller: Caller
    csrf_token: str
    expires_at: dt.datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(db: Database, key: str) -> tuple[str, SignedIn] | None:
    """A new session for the active key ``key`` (None when unknown or revoked): (cookie, session)."""
    caller = authenticate(db, key)
    if caller is None:
        return None
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session = SignedIn(
        caller=caller,
        csrf_token=secrets.token_urlsafe(32),
        expires_at=now + dt.timedelta(hours=SESSION_HOURS),
    )
    with db.write() as s:
        s.add(
            UiSession(
                token_hash=_hash(token),
                key_id=caller.id,
                csrf_token=session.csrf_token,
                created_at=now,
                expires_at=session.expires_at,
            )
        )
    return token, session


def find_session(db: Database, token: str | None) -> SignedIn | None:
    """The open session of a cookie (None: none, ended, expired, or its key revoked)."""
    if not token:
        return None
    with db.read() as s:
        row = s.execute(
            select(UiSession.csrf_token, UiSession.expires_at, ApiKey.id, ApiKey.name, ApiKey.role)
            .join(ApiKey, ApiKey.id == UiSession.key_id)
            .where(
                UiSession.token_hash == _hash(token),
                UiSession.ended_at.is_(None),
                ApiKey.revoked_at.is_(None),
            )
        ).one_or_none()
    if row is None or row.expires_at <= utcnow():
        return None
    return SignedIn(
        caller=Caller(id=row.id, name=row.name, role=row.role),
        csrf_token=row.csrf_token,
        expires_at=row.expires_at,
    )


def end_session(db: Database, token: str | None) -> None:
    """End the session of a cookie (nothing when there is none)."""
    if not token:
        return
    with db.write() as s:
        found = s.scalars(
            select(UiSession).where(
                UiSession.token_hash == _hash(token), UiSession.ended_at.is_(None)
            )
        ).one_or_none()
        if found is not None:
            found.ended_at = utcnow()
