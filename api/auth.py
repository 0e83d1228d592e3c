"""API keys and roles.

A key is ``esk_`` and 43 URL-safe random characters (256 bits), shown once at creation; only its
SHA-256 is stored (a slow password hash adds nothing for keys of this entropy) and it is sent as
``Authorization: Bearer KEY``. Each key has one role; each role a fixed set of rights.

A request's key is found by its SHA-256 through the unique index on ``api_keys.key_hash``: the key
itself is never compared, and the timing of the lookup can tell at most something about a digest,
which does not help to find a key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["RIGHTS", "ROLES", "Caller", "Right", "hash_key", "new_key", "role_with"]


class Right(StrEnum):
    """What a request may do."""

    READ = "read trials, patients, recommendations, decisions and the audit trail"
    READ_PATIENTS = "read patient data"
    WRITE_PATIENTS = "write patient data"
    DECIDE = "record SRC decisions"
    WRITE_TRIALS = "create and change trials"
    RUN_SIMULATIONS = "run simulations"
    MANAGE_KEYS = "manage API keys and read the whole audit trail"


ROLES: tuple[str, ...] = ("data-system", "src", "statistician", "admin")

RIGHTS: dict[str, frozenset[Right]] = {
    # the data system reads back the patient records it writes (to check them), nothing else
    "data-system": frozenset({Right.WRITE_PATIENTS, Right.READ_PATIENTS}),
    "src": frozenset({Right.READ, Right.READ_PATIENTS, Right.DECIDE}),
    "statistician": frozenset(
        {Right.READ, Right.READ_PATIENTS, Right.WRITE_TRIALS, Right.RUN_SIMULATIONS}
    ),
    "admin": frozenset(Right),
}

KEY_PREFIX = "esk_"


@dataclass(frozen=True, slots=True, kw_only=True)
class Caller:
    """The active key a request was made with (what a request needs of it, not the stored row)."""

    id: int
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How audit entries name this key (as ``ApiKey.actor``)."""
        return f"key:{self.id}:{self.name}"


def new_key() -> str:
    """A new random API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def role_with(right: Right) -> list[str]:
    """The roles holding ``right`` (for error messages and the OpenAPI description)."""
    return [role for role in ROLES if right in RIGHTS[role]]
