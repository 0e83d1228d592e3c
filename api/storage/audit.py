"""The append-only audit trail: every change is one entry holding the hash of the previous entry.

An entry's hash is SHA-256 over its canonical JSON (sorted keys, no whitespace) including the
previous entry's hash, so altering, inserting or removing any row breaks the chain from there on.
``audit_head`` holds the last sequence number and hash: appends lock that row, so concurrent writers
never fork the chain, and removing the newest entries is caught too.

Anyone who can write to the database can also compute SHA-256, so each entry also carries a MAC:
HMAC-SHA256 of its hash under a secret that lives outside the database (``ESCALATION_AUDIT_KEY``,
or the file ``ESCALATION_AUDIT_KEY_FILE``, default ``./var/audit.key``, made with mode 0600 on
first use; ``load_key``). A chain re-hashed after an edit no longer carries valid MACs. What a MAC
cannot show, the newest entries removed and the head rewound, an anchor does: ``anchor`` (printed
by ``escalation audit head``) names the newest entry, to be recorded outside (the trial master
file), and ``verify(..., anchor=...)`` checks the chain still holds it. Entries written before
schema revision 0005 have no MAC (``audit_head.keyed_from``): they are covered by the chain and the
anchor only. Whether the data rows agree with the trail is checked by ``api.services.integrity``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from api.storage.models import AuditEntry, AuditHead, utcnow

__all__ = [
    "DEFAULT_KEY_FILE",
    "GENESIS_HASH",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "AuditKeyError",
    "AuditProblem",
    "anchor",
    "append",
    "canonical_json",
    "entry_hash",
    "entry_mac",
    "head",
    "load_key",
    "parse_anchor",
    "verify",
    "walk",
]

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
KEY_ENV = "ESCALATION_AUDIT_KEY"
KEY_FILE_ENV = "ESCALATION_AUDIT_KEY_FILE"
DEFAULT_KEY_FILE = Path("var") / "audit.key"
MIN_KEY_BYTES = 32


class AuditKeyError(Exception):
    """The audit key is missing, unreadable or too short."""


def _key_file() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE)


def load_key(*, create: bool = True) -> bytes:
    """The secret that keys the audit chain: ``$ESCALATION_AUDIT_KEY`` itself, else the content of
    ``$ESCALATION_AUDIT_KEY_FILE`` (default ``./var/audit.key``), which is generated (64 random
    hex characters, mode 0600) when it does not exist and ``create`` is true."""
    value = os.environ.get(KEY_ENV)
    if value:
        key = value.strip().encode()
        if len(key) < MIN_KEY_BYTES:
            raise AuditKeyError(f"${KEY_ENV} must hold at least {MIN_KEY_BYTES} characters")
        return key
    path = _key_file()
    if not path.exists():
        if not create:
            raise AuditKeyError(
                f"no audit key: set ${KEY_ENV} or ${KEY_FILE_ENV} (no file at {path})"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made at the same moment by another process
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
            log.warning(
                "generated the audit key %s (mode 0600): keep it, and a copy elsewhere", path
            )
    try:
        key = path.read_text(encoding="utf-8").strip().encode()
    except OSError as e:
        raise AuditKeyError(f"cannot read the audit key {path}: {e}") from None
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"the audit key {path} must hold at least {MIN_KEY_BYTES} characters")
    if path.stat().st_mode & 0o077:
        log.warning("the audit key %s is readable by others: chmod 600 it", path)
    return key


def entry_mac(key: bytes, hash_hex: str) -> str:
    """The MAC an entry carries: HMAC-SHA256 of its hash under the audit key."""
    return hmac.new(key, hash_hex.encode(), hashlib.sha256).hexdigest()


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
    returns its sequence number. Core statements: no ORM objects to build and flush. The entry's
    MAC is made with the key of the session's database (``session.info["audit_key"]``)."""
    key: bytes = session.info["audit_key"]
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
    if key:  # an empty key: a database of a schema older than 0005, which has no MAC column
        entry["mac"] = entry_mac(key, entry["hash"])
    session.execute(insert(_ENTRIES), entry)
    session.execute(
        update(_HEADS)
        .where(_HEADS.c.id == 1)
        .values(last_seq=entry["seq"], last_hash=entry["hash"])
    )
    return int(entry["seq"])


@dataclass(frozen=True, slots=True)
class AuditProblem:
    """A place where the chain is broken, or a data row disagrees with the trail (``seq`` None)."""

    seq: int | None
    message: str

    def __str__(self) -> str:
        return self.message if self.seq is None else f"audit entry {self.seq}: {self.message}"


def anchor(seq: int, hash_hex: str) -> str:
    """The text form of a chain head to record outside the database: ``SEQ:HASH``."""
    return f"{seq}:{hash_hex}"


def parse_anchor(text: str) -> tuple[int, str]:
    """``SEQ:HASH`` as printed by ``escalation audit head`` (ValueError otherwise)."""
    seq_text, sep, hash_hex = text.strip().partition(":")
    if not sep or not seq_text.isdigit() or len(hash_hex) != 64:
        raise ValueError(
            f"not an audit head (SEQ:HASH, as `escalation audit head` prints): {text!r}"
        )
    int(hash_hex, 16)
    return int(seq_text), hash_hex.lower()


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


def _mac_ok(key: bytes | None, entry: AuditEntry) -> bool:
    return (
        key is not None
        and entry.mac is not None
        and hmac.compare_digest(entry.mac, entry_mac(key, entry.hash))
    )


def walk(
    session: Session,
    *,
    key: bytes | None = None,
    anchor_at: tuple[int, str] | None = None,
    visit: Callable[[AuditEntry], None] | None = None,
    macs: bool = True,
) -> tuple[int, AuditProblem | None]:
    """Walk the chain, calling ``visit`` on each intact entry: the number of entries checked and
    the first problem (None when intact). ``key`` (default: the session's audit key) checks each
    entry's MAC from ``audit_head.keyed_from`` on (unless ``macs`` is false: the chain alone);
    ``anchor_at`` (seq, hash) must be in the chain."""
    if key is None:
        key = session.info.get("audit_key")
    head = session.get(AuditHead, 1)
    keyed_from = head.keyed_from if head is not None else 1
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
        keyed = macs and key is not None and entry.seq >= keyed_from
        if keyed and not _mac_ok(key, entry):
            return n, AuditProblem(
                entry.seq,
                "its MAC does not match under the audit key: the entry was written or "
                "re-hashed without the key (or the key is not the one the service uses)",
            )
        if anchor_at is not None and entry.seq == anchor_at[0] and entry.hash != anchor_at[1]:
            return n, AuditProblem(
                entry.seq, f"differs from the recorded head {anchor(*anchor_at)}"
            )
        if visit is not None:
            visit(entry)
        prev_hash, expected_seq, n = entry.hash, expected_seq + 1, n + 1
    if head is None:
        return n, AuditProblem(expected_seq, "the chain head record is missing")
    if anchor_at is not None and anchor_at[0] > n:
        return n, AuditProblem(
            n + 1,
            f"missing: the recorded head {anchor(*anchor_at)} names entry {anchor_at[0]}, "
            f"the chain holds {n}: entries were removed",
        )
    if head.last_seq > n:
        return n, AuditProblem(
            n + 1, f"missing: the chain head records {head.last_seq} entries, {n} are present"
        )
    if head.last_seq < n or head.last_hash != prev_hash:
        return n, AuditProblem(max(n, 1), "does not match the chain head (last_seq/last_hash)")
    return n, None


def verify(
    session: Session, *, key: bytes | None = None, anchor_at: tuple[int, str] | None = None
) -> tuple[int, AuditProblem | None]:
    """Walk the chain: the number of entries checked and the first problem (None when intact)."""
    return walk(session, key=key, anchor_at=anchor_at)


def head(session: Session) -> tuple[int, str]:
    """The chain's newest entry: (seq, hash)."""
    row = session.get(AuditHead, 1)
    if row is None:
        return 0, GENESIS_HASH
    return row.last_seq, row.last_hash
