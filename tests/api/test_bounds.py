"""Bounded work and the smaller service defects of issue 15 (sections 1, 5 and 6): simulation jobs
bounded, cancelled and fairly taken, their progress shown; bodies, names and labels bounded; the
key checked before anything else, failed authentications limited; 405 with its Allow header; a
stale If-Match refused even for an unchanged body; /reproduce blind to wall-clock fields; the
SQLite file private and synced in full."""

from __future__ import annotations

import logging
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from api.jobs import JobRunner
from api.services.admin import create_key
from api.services.recommendations import decision_differences
from api.storage.db import Database
from tests.api.conftest import ROLES, SERVER_TODAY, Api, make_trial, patient_body, start_api
from tests.api.test_jobs import SPEC, submit, wait_for


# ---- simulation jobs --------------------------------------------------------------------------------
def test_a_job_over_the_size_limit_is_422(api: Api) -> None:
    spec = SPEC | {
        "trials": 600_000,
        "scenarios": [SPEC["scenarios"][0], SPEC["scenarios"][0] | {"name": "S2"}],
    }
    with api.client("statistician") as c:
        r = c.post("/v1/simulations", json=spec)
    assert r.status_code == 422, r.text
    assert r.json()["problems"][0]["field"] == "trials"
    assert "1200000 simulated trials: at most 1000000" in r.json()["problems"][0]["message"]


@pytest.fixture(scope="module")
def slow_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A service whose one job worker runs the slow stand-ins of tests/api/sim_runners.py."""
    url = f"sqlite:///{tmp_path_factory.mktemp('slow') / 'slow.db'}"
    server, db = start_api(
        url,
        simulation_runner="tests.api.sim_runners:run_dispatch",
        simulation_validator=None,
        simulation_workers=1,
    )
    keys = {role: create_key(db, role=role, name=role, actor="test")[1] for role in ROLES}
    with server:
        yield Api(server=server, db=db, keys=keys)
    db.dispose()


def test_a_running_job_shows_its_progress_and_can_be_cancelled(slow_api: Api) -> None:
    job = submit(slow_api, {"runner": "slowly", "n": 400, "sleep": 0.05})
    running = wait_for(slow_api, job["id"], until=("running",))
    deadline = time.monotonic() + 30
    with slow_api.client("statistician") as c:
        while running["progress_done"] < 3 and time.monotonic() < deadline:
            running = c.get(f"/v1/simulations/{job['id']}").json()
            time.sleep(0.1)
        assert 0 < running["progress_fraction"] < 1
        assert running["progress_fraction"] == pytest.approx(
            running["progress_done"] / running["progress_total"], abs=1e-4
        )
        r = c.delete(f"/v1/simulations/{job['id']}")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "cancelled"
        time.sleep(1.5)
        after = c.get(f"/v1/simulations/{job['id']}").json()
        assert after["status"] == "cancelled" and after["progress_done"] < 400
        assert c.delete(f"/v1/simulations/{job['id']}").status_code == 409
        assert c.delete("/v1/simulations/999999").status_code == 404
    with slow_api.client("src") as c:  # src may read jobs, not cancel them
        assert c.delete(f"/v1/simulations/{job['id']}").status_code == 403
    with slow_api.client("admin") as c:
        entries = c.get("/v1/audit", params={"limit": 500}).json()["items"]
    cancelled = [e for e in entries if e["action"] == "simulation.cancelled"]
    assert cancelled and cancelled[-1]["entity_id"] == str(job["id"])


def test_a_silent_job_is_stopped_from_outside_and_a_queued_one_never_starts(
    slow_api: Api,
) -> None:
    silent = submit(slow_api, {"runner": "silently", "seconds": 60})
    wait_for(slow_api, silent["id"], until=("running",))
    queued = submit(slow_api, {"runner": "counting", "n": 1})
    with slow_api.client("statistician") as c:
        assert c.delete(f"/v1/simulations/{queued['id']}").json()["status"] == "cancelled"
        started = time.monotonic()
        assert c.delete(f"/v1/simulations/{silent['id']}").status_code == 200
    # the one worker is free again within a poll or two: the next job runs
    nxt = wait_for(slow_api, submit(slow_api, {"runner": "counting", "n": 1})["id"], timeout=30)
    assert nxt["status"] == "succeeded" and time.monotonic() - started < 15
    assert wait_for(slow_api, queued["id"], until=("cancelled",))["started_at"] is None


def test_the_runner_takes_the_submitter_with_fewest_jobs_first(tmp_path: Path) -> None:
    """One submitter's queue of jobs does not starve another's."""
    from api.services.simulations import create_job

    db = Database(f"sqlite:///{tmp_path / 'fair.db'}")
    db.migrate()
    ids = [create_job(db, {"n": 1}, actor="key:1:busy").id for _ in range(3)]
    other = create_job(db, {"n": 1}, actor="key:2:patient").id
    runner = JobRunner(db.url, runner="tests.api.sim_runners:run_counting")
    first, second = runner._take(db), runner._take(db)
    db.dispose()
    assert (first, second) == (ids[0], other)


# ---- bodies, names, labels ------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413(api: Api, example: dict[str, Any]) -> None:
    big = example | {"padding": "x" * 1_100_000}
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=big)
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"padding": "'
            for _ in range(12):
                yield b"x" * 100_000
            yield b'"}'

        r = c.post("/v1/decisions", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413, r.text


def test_long_names_and_labels_are_422(api: Api, example: dict[str, Any]) -> None:
    doc = example | {"name": "n" * 201}
    doc["doses"] = [dict(d) for d in example["doses"]]
    doc["doses"][1]["label"] = "l" * 300
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=doc)
    assert r.status_code == 422
    assert {p["field"] for p in r.json()["problems"]} == {"name", "doses[1].label"}
    with api.client("statistician") as c:
        body = {k: example[k] for k in ("design", "doses", "dlt_window_days")}
        r = c.post("/v1/trials", json=body | {"name": "t" * 201})
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "name"


# ---- the key first, failed authentications limited ---------------------------------------------------
def test_the_key_is_checked_before_the_body_and_the_query(api: Api) -> None:
    with api.client() as c:  # no key
        assert c.post("/v1/decisions", content=b"{not json").status_code == 401
        assert c.post("/v1/decisions", json={"doses": "bad"}).status_code == 401
        assert c.get("/v1/trials", params={"unknown": "1"}).status_code == 401
    with api.client(key="esk_" + "A" * 43) as c:  # unknown key
        assert c.post("/v1/trials", json={}).status_code == 401
    with api.client() as c:
        assert c.get("/healthz").status_code == 200


def test_failed_authentications_are_limited_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, db = start_api(f"sqlite:///{tmp_path / 'limit.db'}", auth_failure_limit=5)
    _, good = create_key(db, role="src", name="src", actor="test")
    with server, caplog.at_level(logging.WARNING, logger="api.guard"):
        api = Api(server=server, db=db, keys={"src": good})
        with api.client(key="esk_" + "B" * 43) as c:
            codes = [c.get("/v1/trials").status_code for _ in range(8)]
        with api.client("src") as c:
            blocked = c.get("/v1/trials")
    db.dispose()
    assert codes == [401] * 5 + [429] * 3
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    lines = [r.getMessage() for r in caplog.records]
    assert sum("failed authentication from 127.0.0.1" in m for m in lines) == 5
    assert any(m.startswith("429 for 127.0.0.1") for m in lines)


# ---- 405, If-Match -----------------------------------------------------------------------------------
def test_405_names_the_allowed_methods(api: Api) -> None:
    with api.client("admin") as c:
        assert c.delete("/v1/trials").headers["Allow"] == "GET, POST"
        assert c.post("/v1/trials/1").headers["Allow"] == "GET, PUT"
        assert c.delete("/v1/keys").headers["Allow"] == "GET, POST"


def test_a_stale_if_match_is_409_even_with_an_unchanged_body(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    p = example["patients"][0]
    url = f"/v1/trials/{trial_id}/patients/{p['id']}"
    with api.client("data-system") as c:
        changed = patient_body(p) | {"dlt": True, "dlt_on": p["infused_on"]}
        assert c.put(url, json=changed, headers={"If-Match": '"1"'}).status_code == 200
        stale = c.put(url, json=changed, headers={"If-Match": '"1"'})
        assert stale.status_code == 409, stale.text
        assert c.put(url, json=changed).status_code == 200  # no If-Match: a harmless repeat
        assert c.put(url, json=changed, headers={"If-Match": '"2"'}).status_code == 200


# ---- /reproduce ---------------------------------------------------------------------------------------
def test_reproduce_compares_decisions_not_timings(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"})
        stored = rec.json()["decision"]
        assert c.get(f"/v1/recommendations/{rec.json()['id']}/reproduce").json()["reproduced"]
    timed = stored | {
        "diagnostics": {"posterior": {"sampling_seconds": 12.5, "compiled_this_call": True}}
    }
    again = stored | {
        "diagnostics": {"posterior": {"sampling_seconds": 3.1, "compiled_this_call": False}}
    }
    assert decision_differences(timed, again) == []
    moved = again | {"next_dose": (stored["next_dose"] or 0) + 1}
    assert decision_differences(timed, moved) == ["next_dose"]
    estimate = again | {"doses": [dict(d) for d in stored["doses"]]}
    estimate["doses"][0]["estimate"] = 0.99
    assert decision_differences(timed, estimate) == ["doses"]
    rhat = timed | {"diagnostics": {"posterior": {"sampling_seconds": 1.0, "rhat": 1.2}}}
    assert decision_differences(timed, rhat) == ["diagnostics"]


# ---- SQLite file --------------------------------------------------------------------------------------
def test_the_sqlite_file_is_private_and_synced_in_full(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = Database(f"sqlite:///{tmp_path / 'clinical.db'}")
        db.migrate()
    finally:
        os.umask(old)
    with db.engine.connect() as conn:
        synchronous = conn.execute(text("PRAGMA synchronous")).scalar()
    db.dispose()
    for path in tmp_path.glob("clinical.db*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert synchronous == 2  # FULL


# ---- reads do not grow the database without bound ------------------------------------------------------
def test_reads_by_a_src_key_store_a_bounded_number_of_recommendations(
    api: Api, example: dict[str, Any]
) -> None:
    """Asking every date is bounded: a date after the server's today + 1 is 422 (nothing stored),
    and every date before the first infusion gives back the one recommendation made on no
    patients."""
    import datetime as dt

    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/recommendation"
    with api.client("src") as c:
        before = [
            c.get(url, params={"as_of": f"{year}-06-01"}).json()["id"] for year in range(2001, 2021)
        ]
        future = c.get(url, params={"as_of": str(SERVER_TODAY + dt.timedelta(days=2))})
        later = c.get(url, params={"as_of": "2999-12-31"})
        stored = c.get(f"/v1/trials/{trial_id}/recommendations", params={"limit": 500}).json()
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 500}).json()["items"]
    assert len(set(before)) == 1
    assert future.status_code == later.status_code == 422
    assert future.json()["problems"][0]["field"] == "as_of"
    assert len(stored["items"]) == 1
    assert [e["action"] for e in audit].count("recommendation.create") == 1
