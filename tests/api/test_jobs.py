"""Simulation jobs: 202 and an id, a worker process, status, progress, results, failures, and no job
left looking alive after a restart."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.storage.models import SimulationJob, utcnow
from simulations import run_simulation
from tests.api.conftest import ROLES, Api, start_api

SPEC = {
    "design": {"method": "boin", "target": 0.3},
    "scenarios": [{"name": "S1", "true_dlt_probs": [0.05, 0.15, 0.3, 0.5]}],
    "trials": 40,
    "seed": 7,
}


def wait_for(
    api: Api, job_id: int, *, until: tuple[str, ...] = ("succeeded", "failed"), timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with api.client("statistician") as c:
        while True:
            job: dict[str, Any] = c.get(f"/v1/simulations/{job_id}").json()
            if job["status"] in until or time.monotonic() > deadline:
                return job
            time.sleep(0.05)


def submit(api: Api, spec: dict[str, Any]) -> dict[str, Any]:
    with api.client("statistician") as c:
        r = c.post("/v1/simulations", json=spec)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/v1/simulations/{r.json()['id']}"
    job: dict[str, Any] = r.json()
    return job


def test_simulation_job_end_to_end_with_the_harness(api: Api) -> None:
    job = submit(api, SPEC)
    assert job["status"] == "queued" and job["result"] is None
    done = wait_for(api, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["progress_done"] == done["progress_total"] == 40
    direct = run_simulation(SPEC)
    assert done["result"]["results"] == direct["results"]  # same seed, same numbers
    assert done["result"]["seed"] == 7
    with api.client("statistician") as c:
        assert job["id"] in [
            j["id"] for j in c.get("/v1/simulations", params={"limit": 500}).json()["items"]
        ]


def test_an_invalid_spec_is_422_with_every_problem(api: Api) -> None:
    with api.client("statistician") as c:
        r = c.post("/v1/simulations", json={"trials": -1})
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["problems"]} >= {"trials", "scenarios"}


@pytest.fixture(scope="module")
def jobs_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A service whose jobs run the stand-in runners of tests/api/sim_runners.py."""
    from api.services.admin import create_key

    url = f"sqlite:///{tmp_path_factory.mktemp('jobs') / 'jobs.db'}"
    server, db = start_api(
        url,
        simulation_runner="tests.api.sim_runners:run_counting",
        simulation_validator=None,
        simulation_workers=2,
    )
    keys = {role: create_key(db, role=role, name=role, actor="test")[1] for role in ROLES}
    with server:
        yield Api(server=server, db=db, keys=keys)
    db.dispose()


def test_job_runs_in_a_worker_process_with_progress(jobs_api: Api) -> None:
    done = wait_for(jobs_api, submit(jobs_api, {"n": 4})["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["pid"] != os.getpid()
    assert done["result"]["spec"] == {"n": 4} and done["result"]["workers"] == 1
    assert (done["progress_done"], done["progress_total"]) == (4, 4)
    assert done["started_at"] <= done["finished_at"]


def test_failing_and_crashing_jobs_are_failed_with_the_reason(jobs_api: Api) -> None:
    failing = submit(jobs_api, {"n": 2, "fail": "bad scenario"})
    crashing = submit(jobs_api, {"n": 2, "crash": True})
    failed = wait_for(jobs_api, failing["id"])
    crashed = wait_for(jobs_api, crashing["id"])
    assert (failed["status"], failed["error"]) == (
        "failed",
        "ValueError: spec asked to fail: bad scenario",
    )
    assert (crashed["status"], crashed["error"]) == (
        "failed",
        "the worker process died (exit code 3)",
    )
    with jobs_api.client("admin") as c:
        actions = [e["action"] for e in c.get("/v1/audit", params={"limit": 500}).json()["items"]]
    assert actions.count("simulation.failed") >= 2


def test_missing_harness_fails_the_job_saying_so(tmp_path: Path) -> None:
    from api.services.admin import create_key

    server, db = start_api(
        f"sqlite:///{tmp_path / 'h.db'}",
        simulation_runner="no_such_harness:run_simulation",
        simulation_validator=None,
    )
    key = create_key(db, role="statistician", name="s", actor="t")[1]
    with server:
        api = Api(server=server, db=db, keys={"statistician": key})
        done = wait_for(api, submit(api, SPEC)["id"])
    db.dispose()
    assert done["status"] == "failed"
    assert done["error"].startswith("the simulation harness is not available: No module named")


def test_jobs_in_flight_are_failed_at_shutdown_and_after_a_crash(tmp_path: Path) -> None:
    from api.services.admin import create_key

    url = f"sqlite:///{tmp_path / 'restart.db'}"
    release = tmp_path / "release"
    settings = {
        "simulation_runner": "tests.api.sim_runners:run_until_released",
        "simulation_validator": None,
    }
    server, db = start_api(url, **settings)
    key = create_key(db, role="statistician", name="s", actor="t")[1]
    with server:
        api = Api(server=server, db=db, keys={"statistician": key})
        job = submit(api, {"release": str(release)})
        running = wait_for(api, job["id"], until=("running",))
        deadline = time.monotonic() + 30
        while running["progress_done"] != 1 and time.monotonic() < deadline:
            running = wait_for(api, job["id"], until=("running",))
        assert (running["status"], running["progress_done"], running["progress_total"]) == (
            "running",
            1,
            2,
        )
    # stopped while running: failed, not left "running"
    with db.read() as s:
        stopped = s.get(SimulationJob, job["id"])
        assert stopped is not None
        assert stopped.status == "failed" and stopped.error is not None
        assert stopped.error.startswith("interrupted")
    # a crash leaves rows behind as they were: the next start fails them
    with db.write() as s:
        for status in ("queued", "running"):
            s.add(
                SimulationJob(
                    status=status, spec={}, progress_done=0, created_at=utcnow(), created_by="t"
                )
            )
    server2, _ = start_api(url, **settings)
    with server2:
        pass
    with db.read() as s:
        jobs = s.scalars(select(SimulationJob).order_by(SimulationJob.id)).all()
    db.dispose()
    assert [j.status for j in jobs] == ["failed"] * 3
    assert all(j.error and "restarted" in j.error for j in jobs[1:])
    release.touch()
