"""``escalation serve --workers N``: N HTTP worker processes on one database; the supervising
process migrates and fails interrupted jobs once, and runs the one job runner, which takes the
jobs the workers queue; replacing workers leaves running jobs alone."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.services.admin import create_key
from api.storage.audit import verify
from api.storage.db import Database
from api.storage.models import AuditEntry, SimulationJob, utcnow
from tests.api.conftest import PgSchema, new_database_url

QUICK = {
    "design": {"method": "boin", "target": 0.3},
    "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
    "trials": 40,
    "seed": 7,
}
ENDLESS = QUICK | {"trials": 10_000_000}  # runs until the service stops (the limit raised for it)


def spawned_children(pid: int) -> set[int]:
    """Processes started by ``pid`` with multiprocessing's spawn (uvicorn's workers, jobs)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if parent == pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def wait_until(what: str, check: Callable[[], Any], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_workers_share_the_database_and_one_job_runner(
    kind: str, tmp_path: Path, pg_schemas: list[PgSchema], console_script: str
) -> None:
    url = new_database_url(kind, tmp_path, pg_schemas)
    db = Database(url)
    db.migrate()
    key = create_key(db, role="statistician", name="s", actor="test")[1]
    with db.write() as s:  # left running by a previous run that crashed
        left = SimulationJob(
            status="running", spec={}, progress_done=0, created_at=utcnow(), created_by="test"
        )
        s.add(left)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [console_script, "serve", "--port", str(port), "--workers", "2", "--log-level", "warning"],
        env=os.environ
        | {"ESCALATION_DATABASE_URL": url, "ESCALATION_MAX_SIMULATION_TRIALS": "10000000"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def answers() -> bool:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until("the service", answers)
        workers = wait_until("two workers", lambda: len(spawned_children(server.pid)) == 2)
        workers = spawned_children(server.pid)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.get("/readyz").json()["schema_revision"] == db.head_revision()
            # a worker queues the job; the supervisor's runner takes it from the database
            quick = c.post("/v1/simulations", json=QUICK).json()
            done = wait_until(
                "the quick job",
                lambda: (
                    (j := c.get(f"/v1/simulations/{quick['id']}").json())["status"]
                    in ("succeeded", "failed")
                    and j
                ),
            )
            assert done["status"] == "succeeded", done["error"]
            endless = c.post("/v1/simulations", json=ENDLESS).json()
            wait_until(
                "the endless job to run",
                lambda: c.get(f"/v1/simulations/{endless['id']}").json()["progress_done"] > 0,
            )
            jobs = spawned_children(server.pid) - workers
            assert len(jobs) == 1
            # replace both workers (each new one is serving before its predecessor stops)
            server.send_signal(signal.SIGHUP)
            wait_until("new workers", lambda: not spawned_children(server.pid) & workers)
            assert len(spawned_children(server.pid) - jobs) == 2
            # their start-up left the running job alone: only a supervisor's start fails jobs
            job = c.get(f"/v1/simulations/{endless['id']}").json()
            assert job["status"] == "running", job
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        log.close()
    with db.read() as s:
        rows = {j.id: j for j in s.scalars(select(SimulationJob))}
        failed_left = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "simulation.failed", AuditEntry.entity_id == str(left.id)
            )
        ).all()
        n, problem = verify(s)
    db.dispose()
    assert server.returncode == 0, (tmp_path / "serve.log").read_text()
    # the job a previous run left was failed once, at the supervisor's start
    assert rows[left.id].status == "failed" and "restarted" in (rows[left.id].error or "")
    assert len(failed_left) == 1
    # the endless job was failed when the service stopped, not left looking alive
    assert rows[endless["id"]].status == "failed"
    assert (rows[endless["id"]].error or "").startswith("interrupted: the service stopped")
    assert problem is None and n > 0
