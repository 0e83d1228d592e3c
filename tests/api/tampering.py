"""Tampering with the database as someone with write access to it would, for the tests that show
``escalation audit verify`` catches it (tests/api/test_tamper.py and the fault suite).

Each case changes the database directly, in the caller's session, and returns the text the
verification must report. Data rows are changed with plain SQL; the audit tables, which triggers
guard (schema 0005), with the triggers off: dropped for the moment on SQLite (the file's owner
can), ``session_replication_role = replica`` on PostgreSQL (a superuser can). A test runs a case
and the check in one transaction and rolls it back, so one database serves every case.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from api.storage.audit import GENESIS_HASH, entry_hash, entry_mac

__all__ = ["CHAIN_CASES", "ROW_CASES", "audit_triggers_off", "prepare"]

_GUARDS = importlib.import_module("api.storage.migrations.versions.0005_audit_keyed_append_only")


def _is_sqlite(s: Session) -> bool:
    return s.get_bind().dialect.name == "sqlite"


@contextmanager
def audit_triggers_off(s: Session) -> Iterator[None]:
    """The append-only triggers of the audit tables off while the block runs (in the session's
    transaction)."""
    if _is_sqlite(s):
        for name in _GUARDS._SQLITE_TRIGGERS:
            s.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        yield
        for statement in _GUARDS._SQLITE:
            s.execute(text(statement))
    else:
        s.execute(text("SET LOCAL session_replication_role = replica"))
        yield
        s.execute(text("SET LOCAL session_replication_role = origin"))


def _one(session: Session, sql: str, **params: Any) -> Any:
    return session.execute(text(sql), params).one()


# ---- the data rows ---------------------------------------------------------------------------------
def _patient_dlt(s: Session) -> str:
    pid, trial_id = _one(
        s, "SELECT patient_id, trial_id FROM patients WHERE dlt = :f ORDER BY id LIMIT 1", f=False
    )
    s.execute(
        text(
            "UPDATE patients SET dlt = :t, dlt_on = infused_on WHERE patient_id = :p AND trial_id = :tr"
        ),
        {"t": True, "p": pid, "tr": trial_id},
    )
    return f"patient {pid} of trial {trial_id} differs from its audit trail (dlt, dlt_on)"


def _patient_dose(s: Session) -> str:
    pid, trial_id, level = _one(
        s, "SELECT patient_id, trial_id, dose_level FROM patients ORDER BY id DESC LIMIT 1"
    )
    s.execute(
        text("UPDATE patients SET dose_level = :d WHERE patient_id = :p AND trial_id = :tr"),
        {"d": 1 if level != 1 else 2, "p": pid, "tr": trial_id},
    )
    return f"patient {pid} of trial {trial_id} differs from its audit trail (dose_level)"


def _patient_deleted(s: Session) -> str:
    pid, trial_id = _one(
        s,
        "SELECT patient_id, trial_id FROM patients ORDER BY id DESC LIMIT 1",
    )
    s.execute(
        text("DELETE FROM patients WHERE patient_id = :p AND trial_id = :tr"),
        {"p": pid, "tr": trial_id},
    )
    return f"patient {pid} of trial {trial_id} is in the audit trail but not in the database"


def _patient_added(s: Session) -> str:
    trial_id, level, infused = _one(
        s, "SELECT trial_id, dose_level, infused_on FROM patients ORDER BY id LIMIT 1"
    )
    s.execute(
        text(
            "INSERT INTO patients (trial_id, patient_id, dose_level, infused_on, dlt, created_at, "
            "updated_at, updated_by, version) SELECT :tr, 'X999', :d, infused_on, :f, created_at, "
            "updated_at, updated_by, 1 FROM patients WHERE trial_id = :tr ORDER BY id LIMIT 1"
        ),
        {"tr": trial_id, "d": level, "f": False},
    )
    del infused
    return f"patient X999 of trial {trial_id} has no audit entry"


def _decision_changed(s: Session) -> str:
    (decision_id,) = _one(s, "SELECT id FROM src_decisions ORDER BY id LIMIT 1")
    s.execute(
        text(
            "UPDATE src_decisions SET action = 'override', dose_level = NULL, "
            "rationale = 'changed later' WHERE id = :i"
        ),
        {"i": decision_id},
    )
    return f"SRC decision {decision_id} differs from its audit trail (action"


def _recommendation_changed(s: Session) -> str:
    """A careful forger: the next dose changed in the result, the stored body and the result hash
    alike, so that the row agrees with itself; not with the trail."""
    import json

    from api.services.recommendations import render, result_hash
    from api.storage.models import Recommendation

    (rec_id,) = _one(s, "SELECT id FROM recommendations ORDER BY id LIMIT 1")
    rec = s.get(Recommendation, rec_id)
    assert rec is not None
    result = dict(rec.result) | {"next_dose": (rec.result.get("next_dose") or 1) % 3 + 1}
    new_hash = result_hash(rec.data_hash, rec.design_hash, rec.engine_version, result)
    columns = {
        c: getattr(rec, c)
        for c in (
            "id",
            "trial_id",
            "as_of",
            "snapshot",
            "data_hash",
            "design_hash",
            "engine_version",
            "created_at",
            "created_by",
        )
    }
    body = render(columns | {"result": result, "hash": new_hash}).decode()
    s.expunge(rec)
    s.execute(
        text("UPDATE recommendations SET result = :r, hash = :h, response_json = :b WHERE id = :i"),
        {"r": json.dumps(result), "h": new_hash, "b": body, "i": rec_id},
    )
    return f"recommendation {rec_id} differs from its audit trail (next_dose, hash)"


def _trial_design(s: Session) -> str:
    import json

    trial_id, design = _one(s, "SELECT id, design FROM trials ORDER BY id LIMIT 1")
    design = json.loads(design) if isinstance(design, str) else dict(design)
    design["target"] = round(design["target"] + 0.05, 4)
    s.execute(
        text("UPDATE trials SET design = :d WHERE id = :i"),
        {"d": json.dumps(design), "i": trial_id},
    )
    return f"trial {trial_id} differs from its audit trail (design)"


def _key_role(s: Session) -> str:
    (key_id,) = _one(s, "SELECT id FROM api_keys WHERE role <> 'admin' ORDER BY id LIMIT 1")
    s.execute(text("UPDATE api_keys SET role = 'admin' WHERE id = :i"), {"i": key_id})
    return f"API key {key_id} differs from its audit trail (role)"


ROW_CASES: dict[str, Callable[[Session], str]] = {
    "patient-dlt-flipped": _patient_dlt,
    "patient-dose-changed": _patient_dose,
    "patient-deleted": _patient_deleted,
    "patient-added": _patient_added,
    "src-decision-changed": _decision_changed,
    "recommendation-changed": _recommendation_changed,
    "trial-design-changed": _trial_design,
    "key-role-raised": _key_role,
}


# ---- the chain -----------------------------------------------------------------------------------
_COLUMNS = (
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
    "hash",
    "mac",
)


def _entries(s: Session, since: int = 1) -> list[dict[str, Any]]:
    from api.storage.models import AuditEntry

    rows = s.query(AuditEntry).filter(AuditEntry.seq >= since).order_by(AuditEntry.seq).all()
    out = [{c: getattr(r, c) for c in _COLUMNS} for r in rows]
    s.expunge_all()
    return out


def _rewrite(s: Session, entries: list[dict[str, Any]], *, mac_key: bytes | None = None) -> None:
    """Write ``entries`` back, re-hashed from the first one on (and the head after them), as a
    forger without the audit key can: SHA-256 only, the MACs left as they were (or made with
    ``mac_key``, a key of the forger's own)."""
    from api.storage.models import AuditEntry

    prev = GENESIS_HASH
    first = entries[0]["seq"]
    if first > 1:
        prev = s.query(AuditEntry.hash).filter(AuditEntry.seq == first - 1).scalar()
    with audit_triggers_off(s):
        s.execute(text("DELETE FROM audit_entries WHERE seq >= :f"), {"f": first})
        for e in entries:
            e["prev_hash"] = prev
            e["hash"] = entry_hash(e)
            if mac_key is not None:
                e["mac"] = entry_mac(mac_key, e["hash"])
            s.add(AuditEntry(**e))
            s.flush()
            prev = e["hash"]
        last = entries[-1]["seq"] if entries else first - 1
        s.execute(
            text("UPDATE audit_head SET last_seq = :n, last_hash = :h WHERE id = 1"),
            {"n": last, "h": prev},
        )
    s.expunge_all()


def _rehash_after_edit(s: Session) -> str:
    """A patient's DLT flipped in the data and in its audit entry, the chain re-hashed after it."""
    entries = _entries(s)
    k = next(i for i, e in enumerate(entries) if e["action"] == "patient.create")
    e = entries[k]
    e["after"] = dict(e["after"]) | {"dlt": True, "dlt_on": e["after"]["infused_on"]}
    s.execute(
        text(
            "UPDATE patients SET dlt = :t, dlt_on = infused_on WHERE patient_id = :p AND trial_id = :tr"
        ),
        {"t": True, "p": e["entity_id"], "tr": e["trial_id"]},
    )
    _rewrite(s, entries[k:])
    return f"audit entry {e['seq']}: its MAC does not match"


def _forged_entry(s: Session) -> str:
    """An admin key slipped in: the key row and a key.create entry appended with a valid SHA-256
    hash and a MAC under a key of the forger's own."""
    (last,) = _one(s, "SELECT last_seq FROM audit_head WHERE id = 1")
    s.execute(
        text(
            "INSERT INTO api_keys (name, role, key_hash, key_prefix, created_at) SELECT 'backdoor', "
            "'admin', :h, 'esk_forged', created_at FROM api_keys ORDER BY id LIMIT 1"
        ),
        {"h": "f" * 64},
    )
    (key_id,) = _one(s, "SELECT id FROM api_keys WHERE name = 'backdoor'")
    template = _entries(s, last)[0]
    forged = template | {
        "seq": last + 1,
        "action": "key.create",
        "entity_type": "key",
        "entity_id": str(key_id),
        "trial_id": None,
        "before": None,
        "after": {
            "id": key_id,
            "name": "backdoor",
            "role": "admin",
            "key_prefix": "esk_forged",
            "key_hash": "f" * 64,
        },
    }
    _rewrite(s, [template, forged], mac_key=b"the forger's own key, not the service's")
    return f"audit entry {last}: its MAC does not match"


def _tail_cut(s: Session) -> str:
    """The newest entries deleted and the head moved back to the entry before them; the data they
    recorded left in place."""
    (last,) = _one(s, "SELECT last_seq FROM audit_head WHERE id = 1")
    (seq,) = _one(s, "SELECT max(seq) FROM audit_entries WHERE action = 'decision.create'")
    with audit_triggers_off(s):
        s.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": seq})
        (prev,) = _one(s, "SELECT hash FROM audit_entries WHERE seq = :s", s=seq - 1)
        s.execute(
            text("UPDATE audit_head SET last_seq = :n, last_hash = :h WHERE id = 1"),
            {"n": seq - 1, "h": prev},
        )
    del last
    return "has no audit entry: added outside the service"


def _tail_cut_with_data(s: Session) -> str:
    """The newest entry and the SRC decision it recorded both deleted, the head moved back: the
    database agrees with itself; only the head recorded outside shows it."""
    (seq, entity) = _one(
        s,
        "SELECT seq, entity_id FROM audit_entries WHERE action = 'decision.create' "
        "ORDER BY seq DESC LIMIT 1",
    )
    with audit_triggers_off(s):
        s.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": seq})
        s.execute(text("DELETE FROM src_decisions WHERE id >= :i"), {"i": int(entity)})
        (prev,) = _one(s, "SELECT hash FROM audit_entries WHERE seq = :s", s=seq - 1)
        s.execute(
            text("UPDATE audit_head SET last_seq = :n, last_hash = :h WHERE id = 1"),
            {"n": seq - 1, "h": prev},
        )
    return "entries were removed"


def _macs_stripped(s: Session) -> str:
    """A patient's DLT flipped in the data and the trail, the chain re-hashed, the MACs removed and
    the start of the keyed entries moved past the end, as if the chain predated the key."""
    entries = _entries(s)
    k = next(i for i, e in enumerate(entries) if e["action"] == "patient.create")
    e = entries[k]
    e["after"] = dict(e["after"]) | {"dlt": True, "dlt_on": e["after"]["infused_on"]}
    s.execute(
        text(
            "UPDATE patients SET dlt = :t, dlt_on = infused_on WHERE patient_id = :p AND trial_id = :tr"
        ),
        {"t": True, "p": e["entity_id"], "tr": e["trial_id"]},
    )
    for x in entries:
        x["mac"] = None
    _rewrite(s, entries)
    with audit_triggers_off(s):
        s.execute(text("UPDATE audit_head SET keyed_from = last_seq + 1 WHERE id = 1"))
    return "differs from the recorded head"


CHAIN_CASES: dict[str, Callable[[Session], str]] = {
    "rehashed-after-edit": _rehash_after_edit,
    "forged-entry-appended": _forged_entry,
    "tail-cut-head-rewound": _tail_cut,
    "tail-and-its-data-cut-head-rewound": _tail_cut_with_data,
    "macs-stripped-and-rehashed": _macs_stripped,
}


def prepare(db: Any, *, actor: str = "test") -> dict[str, Any]:
    """A small audited trial with every kind of row: keys, a trial, patients, a recommendation
    and the SRC's decision on it."""
    import datetime as dt
    import json as _json

    from api.services import recommendations, trials
    from api.services.admin import create_key
    from tests.conftest import EXAMPLE

    create_key(db, role="src", name="src member", actor=actor)
    create_key(db, role="data-system", name="data system", actor=actor)
    doc = _json.loads(EXAMPLE.read_text())
    trial = trials.create_trial(
        db, {k: doc[k] for k in ("design", "doses", "dlt_window_days")}, actor=actor
    )
    for p in doc["patients"][:6]:
        body = {k: v for k, v in p.items() if k != "id"}
        trials.upsert_patient(db, trial.id, p["id"], body, if_match=None, actor=actor)
    as_of = dt.date(2026, 8, 20)
    found = recommendations.lookup(db, trial.id, as_of)
    made = recommendations.create(db, trial.id, as_of, found, actor=actor)
    decision = recommendations.record_decision(
        db,
        trial.id,
        recommendation_id=made.id,
        action="accept",
        dose_level=None,
        rationale="as recommended",
        actor=actor,
    )
    return {"trial_id": trial.id, "recommendation_id": made.id, "decision_id": decision["id"]}
