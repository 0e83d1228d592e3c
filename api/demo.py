"""The demo set-up of ``make run``: the bundled example trial loaded (idempotently) and a demo key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.services import admin, trials
from api.storage.db import Database
from api.storage.models import ApiKey, Trial

__all__ = ["DEMO_KEY_NAME", "demo_as_of", "load_demo_trial", "rotate_demo_key"]

DEMO_KEY_NAME = "demo (make run)"


def load_demo_trial(db: Database, path: Path, *, actor: str) -> tuple[int, int]:
    """Load a trial document: the trial (found again by its name) and its patients, upserted.

    Returns ``(trial id, number of patient records created or changed)``; loading the same
    document twice creates nothing the second time.
    """
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    name = document.get("name") or path.stem
    with db.read() as s:
        trial_id = s.scalars(select(Trial.id).where(Trial.name == name).order_by(Trial.id)).first()
    if trial_id is None:
        keys = ("design", "doses", "dlt_window_days", "efficacy_window_days", "indications")
        protocol = {k: document[k] for k in keys if k in document}
        trial_id = trials.create_trial(db, protocol | {"name": name}, actor=actor).id
    changed = 0
    for patient in document.get("patients", []):
        record = {k: v for k, v in patient.items() if k != "id"}
        _, outcome = trials.upsert_patient(
            db, trial_id, patient["id"], record, if_match=None, actor=actor
        )
        changed += outcome != "unchanged"
    return trial_id, changed


def demo_as_of(path: Path, default: str = "2026-08-20") -> str:
    """The data cut to show the demo trial at: its document's ``as_of`` (else ``default``)."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    as_of = document.get("as_of")
    return as_of if isinstance(as_of, str) else default


def rotate_demo_key(db: Database, *, role: str = "src", actor: str) -> str:
    """A fresh demo key (the previous demo keys are revoked, so only one is ever active)."""
    with db.read() as s:
        old = s.scalars(
            select(ApiKey.id).where(ApiKey.name == DEMO_KEY_NAME, ApiKey.revoked_at.is_(None))
        ).all()
    for key_id in old:
        admin.revoke_key(db, key_id, actor=actor)
    _, key = admin.create_key(db, role=role, name=DEMO_KEY_NAME, actor=actor)
    return key
