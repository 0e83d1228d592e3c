"""API keys (create, list, revoke, authenticate) and reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select

from api.auth import ROLES, Caller, hash_key, new_key
from api.errors import Conflict, InvalidInput, NotFound
from api.services.common import PageRequest, get_trial, page
from api.storage import audit
from api.storage.db import Database
from api.storage.models import ApiKey, AuditEntry, utcnow

__all__ = ["authenticate", "create_key", "list_audit", "list_keys", "revoke_key"]


def _key_record(key: ApiKey) -> dict[str, object]:
    """A key as the audit trail records it (its hash too: a key swapped in the database is seen;
    the hash of a random 256-bit key reveals nothing of it)."""
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role,
        "key_prefix": key.key_prefix,
        "key_hash": key.key_hash,
    }


def create_key(db: Database, *, role: str, name: str, actor: str) -> tuple[ApiKey, str]:
    """A new key: ``(record, the key itself)``; only the key's hash is stored."""
    if role not in ROLES:
        raise InvalidInput.field("role", f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    if not name.strip():
        raise InvalidInput.field("name", "a key needs a name (whose key it is)")
    key = new_key()
    with db.write() as s:
        record = ApiKey(
            name=name.strip(),
            role=role,
            key_hash=hash_key(key),
            key_prefix=key[:10],
            created_at=utcnow(),
        )
        s.add(record)
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="key.create",
            entity_type="key",
            entity_id=record.id,
            after=_key_record(record),
        )
    return record, key


def list_keys(db: Database, req: PageRequest | None = None) -> tuple[Sequence[ApiKey], int | None]:
    with db.read() as s:
        return page(s, select(ApiKey).order_by(ApiKey.id), req or PageRequest(limit=10**6))


def revoke_key(db: Database, key_id: int, *, actor: str, caller_id: int | None = None) -> ApiKey:
    """Revoke a key (it stays listed); a key cannot revoke itself (no admin locks themselves out)."""
    with db.write() as s:
        record = s.get(ApiKey, key_id)
        if record is None:
            raise NotFound.field("key_id", f"no key {key_id}")
        if key_id == caller_id:
            raise Conflict.field("key_id", "a key cannot revoke itself: use another admin key")
        if record.revoked_at is not None:
            raise Conflict.field("key_id", f"key {key_id} was already revoked")
        record.revoked_at = utcnow()
        s.flush()
        audit.append(
            s,
            actor=actor,
            action="key.revoke",
            entity_type="key",
            entity_id=record.id,
            before=_key_record(record) | {"revoked": False},
            after=_key_record(record) | {"revoked": True},
        )
    return record


# built once: the lookup runs on every request
_ACTIVE_KEY = select(ApiKey.id, ApiKey.name, ApiKey.role).where(
    ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
)


def authenticate(db: Database, key: str) -> Caller | None:
    """The active key ``key`` is (None when unknown or revoked): one indexed lookup of its SHA-256."""
    with db.connect() as conn:
        row = conn.execute(_ACTIVE_KEY, {"key_hash": hash_key(key)}).one_or_none()
    return None if row is None else Caller(id=row.id, name=row.name, role=row.role)


def list_audit(
    db: Database, req: PageRequest, *, trial_id: int | None = None
) -> tuple[Sequence[AuditEntry], int | None]:
    with db.read() as s:
        query = select(AuditEntry).order_by(AuditEntry.seq)
        if trial_id is not None:
            get_trial(s, trial_id)
            query = query.where(AuditEntry.trial_id == trial_id)
        return page(s, query, req)
