"""The append-only audit trail: every change is one entry holding the hash of the previous entry.

An entry's hash is SHA-256 over its canonical JSON (sorted keys, no whitespace) including the
previous entry's hash, so altering, inserting or removing any row breaks the chain from there on.
``audit_head`` holds the last sequence number and hash: appends lock that row, so concurrent writers
never fork the chain, and removing the newest entries is caught too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from api.storage.models import AuditEntry, AuditHead, utcnow

__all__ = ["GENESIS_HASH", "AuditProblem", "append", "canonical_json", "entry_hash", "verify"]

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """The one text form that is hashed: sorted keys, no whitespace, no NaN."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def sha256_json(value: Any) -> str:
    """SHA-256 (hex) of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


_HASHED = (
    "seq",
    "at",
    "actor",
    "action",
    "trial_id",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "prev_hash",
)


def entry_hash(entry: AuditEntry | Mapping[str, Any]) -> str:
    """The hash an entry must carry, from its content and the previous entry's hash."""
    if isinstance(entry, Mapping):
        return sha256_json({k: entry[k] for k in _HASHED})
    return sha256_json({k: getattr(entry, k) for k in _HASHED})


_HEAD = select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
_ENTRIES = cast(Table, AuditEntry.__table__)
_HEADS = cast(Table, AuditHead.__table__)


def append(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    trial_id: int | None = None,
    before: Any = None,
    after: Any = None,
) -> int:
    """Append one entry in the caller's transaction (locks the chain head until it commits);
    returns its sequence number. Core statements: no ORM objects to build and flush."""
    last_seq, last_hash = session.execute(_HEAD).one()
    entry: dict[str, Any] = {
        "seq": last_seq + 1,
        "at": utcnow().isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "trial_id": trial_id,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "before": before,
        "after": after,
        "prev_hash": last_hash,
    }
    entry["hash"] = entry_hash(entry)
    session.execute(insert(_ENTRIES), entry)
    session.execute(
        update(_HEADS)
        .where(_HEADS.c.id == 1)
        .values(last_seq=entry["seq"], last_hash=entry["hash"])
    )
    return int(entry["seq"])


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """The first place where the chain is broken."""

    seq: int
    message: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.message}"


def _entries(session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> tuple[int, AuditProblem | None]:
    """Walk the chain: the number of entries checked and the first problem (None when intact)."""
    prev_hash, expected_seq, n = GENESIS_HASH, 1, 0
    for entry in _entries(session):
        if entry.seq != expected_seq:
            return n, AuditProblem(expected_seq, f"missing (the next entry present is {entry.seq})")
        if entry.prev_hash != prev_hash:
            return n, AuditProblem(
                entry.seq, "does not link to the previous entry (prev_hash differs)"
            )
        if entry_hash(entry) != entry.hash:
            return n, AuditProblem(entry.seq, "content altered (its hash does not match)")
        prev_hash, expected_seq, n = entry.hash, expected_seq + 1, n + 1
    head = session.get(AuditHead, 1)
    if head is None:
        return n, AuditProblem(expected_seq, "the chain head record is missing")
    if head.last_seq > n:
        return n, AuditProblem(
            n + 1, f"missing: the chain head records {head.last_seq} entries, {n} are present"
        )
    if head.last_seq < n or head.last_hash != prev_hash:
        return n, AuditProblem(max(n, 1), "does not match the chain head (last_seq/last_hash)")
    return n, None
