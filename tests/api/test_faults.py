"""The fault suite (issue 15, acceptance): 50 concurrent writers against a real server on SQLite and
on PostgreSQL, the server killed with SIGKILL in the middle of the burst and started again; every
acknowledged write is present exactly once, ``escalation audit verify`` finds the chain and the
data intact, and then each tamper case of tests/api/tampering.py is caught.

Marked ``fault``; it runs with the rest of the suite (``make test``, CI), or alone with
``pytest -n 0 -m fault -s`` (the figures are printed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from api.services import trials
from api.services.admin import create_key
from api.services.integrity import check
from api.storage.audit import parse_anchor
from api.storage.db import Database
from tests.api.conftest import PgSchema, new_database_url
from tests.api.tampering import CHAIN_CASES, ROW_CASES
from tests.api.test_serve_workers import free_port, wait_until
from tests.conftest import EXAMPLE

pytestmark = pytest.mark.fault

N_WRITERS = 50
KILL_AFTER_ACKS = 150  # the server is killed once this many writes are acknowledged


class Writers:
    """50 threads, each writing its own patients (W{i}-{k}) until told to stop; what the server
    acknowledged, and what was in flight when it died (in doubt: written or not)."""

    def __init__(self, base: str, key: str, trial_ids: list[int]) -> None:
        self.base, self.key, self.trial_ids = base, key, trial_ids
        self.acked: list[tuple[int, str]] = []
        self.in_doubt: dict[int, tuple[int, str]] = {}
        self.next_k = [0] * N_WRITERS
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _put(self, c: httpx.Client, trial_id: int, pid: str) -> int:
        body = {"dose_level": 1, "infused_on": "2026-01-07", "dlt": False}
        return c.put(f"/v1/trials/{trial_id}/patients/{pid}", json=body).status_code

    def _run(self, i: int, extra: int | None) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=30) as c:
            if i in self.in_doubt:  # sent again after the restart: written once, whatever happened
                trial_id, pid = self.in_doubt.pop(i)
                assert self._put(c, trial_id, pid) in (200, 201)
                with self.lock:
                    self.acked.append((trial_id, pid))
            done = 0
            while not self.stop.is_set() and (extra is None or done < extra):
                trial_id, pid = self.trial_ids[i % len(self.trial_ids)], f"W{i}-{self.next_k[i]}"
                try:
                    code = self._put(c, trial_id, pid)
                except httpx.TransportError:
                    self.in_doubt[i] = (trial_id, pid)
                    self.next_k[i] += 1
                    return
                assert code == 201, code
                with self.lock:
                    self.acked.append((trial_id, pid))
                self.next_k[i] += 1
                done += 1

    def burst(self, *, extra: int | None = None) -> list[threading.Thread]:
        self.stop.clear()
        threads = [
            threading.Thread(target=self._run, args=(i, extra), daemon=True)
            for i in range(N_WRITERS)
        ]
        for t in threads:
            t.start()
        return threads


def _serve(console_script: str, url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    server = subprocess.Popen(
        [console_script, "serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
        env=os.environ | {"ESCALATION_DATABASE_URL": url},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()

    def answers() -> bool:
        assert server.poll() is None, log.read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_until("the service", answers, timeout=60)
    return server


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``escalation audit ARGS`` in this process (the console script's own code, without the
    seconds of start-up a new interpreter takes)."""
    from tests.api.test_commands import cli

    return cli(capsys, "audit", *args)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_mid_burst_loses_and_duplicates_nothing_and_tampering_is_caught(
    kind: str,
    tmp_path: Path,
    pg_schemas: list[PgSchema],
    console_script: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.monotonic()
    url = new_database_url(kind, tmp_path, pg_schemas)
    db = Database(url)
    db.migrate()
    writer_key = create_key(db, role="data-system", name="data system", actor="test")[1]
    src_key = create_key(db, role="src", name="src", actor="test")[1]
    doc = json.loads(EXAMPLE.read_text())
    protocol = {k: doc[k] for k in ("design", "doses", "dlt_window_days")}
    trial_ids = [trials.create_trial(db, protocol, actor="test").id for _ in range(2)]
    port, log = free_port(), tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"

    phases = {"setup": time.monotonic() - started}
    server = _serve(console_script, url, port, log)
    phases["start"] = time.monotonic() - started
    writers = Writers(base, writer_key, trial_ids)
    threads = writers.burst()
    try:
        wait_until("acknowledged writes", lambda: len(writers.acked) >= KILL_AFTER_ACKS, 60)
        server.send_signal(signal.SIGKILL)  # mid-burst: 50 writers with requests in flight
        server.wait(timeout=30)
    finally:
        writers.stop.set()
        for t in threads:
            t.join(60)
    acked_before_kill, in_doubt = len(writers.acked), len(writers.in_doubt)
    with db.read() as s:  # which writes in flight at the kill were committed (all or nothing)
        present = {(t, p) for t, p in s.execute(text("SELECT trial_id, patient_id FROM patients"))}
    in_doubt_committed = sum(w in present for w in writers.in_doubt.values())
    phases["burst"] = time.monotonic() - started

    server = _serve(console_script, url, port, log)
    phases["restart"] = time.monotonic() - started
    try:
        for t in writers.burst(extra=2):  # everyone again: the writes in doubt, then two more
            t.join(120)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {src_key}"}) as c:
            rec = c.get(f"/v1/trials/{trial_ids[0]}/recommendation", params={"as_of": "2026-08-20"})
            assert rec.status_code == 200, rec.text
            decided = c.post(
                f"/v1/trials/{trial_ids[0]}/decisions",
                json={"recommendation_id": rec.json()["id"], "action": "accept"},
            )
            assert decided.status_code == 201, decided.text
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    phases["second burst"] = time.monotonic() - started

    # every acknowledged write exactly once: one row and one creation entry in the trail
    acked = Counter(writers.acked)
    with db.read() as s:
        rows = Counter(
            (t, p)
            for t, p in s.execute(
                text("SELECT trial_id, patient_id FROM patients WHERE patient_id LIKE 'W%'")
            )
        )
        created = Counter(
            (t, p)
            for t, p in s.execute(
                text(
                    "SELECT trial_id, entity_id FROM audit_entries "
                    "WHERE action = 'patient.create' AND entity_id LIKE 'W%'"
                )
            )
        )
    lost = [w for w in acked if rows[w] == 0]
    duplicated = [w for w, n in rows.items() if n > 1 or created[w] != 1]
    assert not writers.in_doubt
    assert set(acked) == set(rows), "rows without an acknowledgement, or the reverse"
    assert not lost and not duplicated

    verified = _cli(capsys, "verify", "--database-url", url)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("audit chain intact:")
    head = _cli(capsys, "head", "--database-url", url)
    assert head.returncode == 0, head.stderr
    anchor_at = parse_anchor(head.stdout)
    phases["verify"] = time.monotonic() - started

    caught, missed = {}, {}
    for name, case in {**ROW_CASES, **CHAIN_CASES}.items():
        with db.read() as s:  # tampered and checked in one transaction, then rolled back
            expected = case(s)
            s.flush()
            report = check(s, anchor_at=anchor_at)
        caught[name] = any(expected in str(p) for p in report.problems)
        if not caught[name]:
            missed[name] = (expected, [str(p) for p in report.problems])
    with db.read() as s:
        assert check(s, anchor_at=anchor_at).intact  # every case was rolled back
    db.dispose()
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(
            f"\n[fault suite, {kind}] {N_WRITERS} writers; acknowledged {len(writers.acked)} "
            f"({acked_before_kill} before the kill -9; {in_doubt} in flight, of which "
            f"{in_doubt_committed} committed, all re-sent after the restart); lost {len(lost)}, duplicated {len(duplicated)}; audit verify: intact; "
            f"row tamper cases caught {sum(caught[n] for n in ROW_CASES)}/{len(ROW_CASES)}, "
            f"chain tamper cases caught {sum(caught[n] for n in CHAIN_CASES)}/{len(CHAIN_CASES)}; "
            f"{seconds:.1f} s ({', '.join(f'{k} {v:.1f}' for k, v in phases.items())})"
        )
    assert not missed, missed
