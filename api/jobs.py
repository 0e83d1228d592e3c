"""Simulation jobs: each runs in its own worker process; status and progress live in the database.

The service queues a job as a row with status ``queued``. The job runner's dispatcher threads take
queued jobs from the database, oldest first (``JobRunner.submit`` only wakes them at once; without
it they look every ``poll_interval_s``), and start a worker process for each (``spawn``: a clean
interpreter, no inherited threads or connections) that marks the job running, calls the simulation
harness with a progress callback that writes to the job's row, and stores the results or the
error. A worker that dies (crash, out of memory, kill) leaves its job failed with the exit code.
Jobs queued or running when the service stops or crashes are marked failed at the next start
(``fail_interrupted``), never left to look alive.

One job runner per database: the application's own when it is served by one process, the
supervising process's under ``escalation serve --workers N`` (the HTTP workers only queue jobs,
which is why the runner takes them from the database rather than from the process that queued
them).

The harness is imported lazily, in the worker, by its ``module:function`` path
(``simulations:run_simulation``; signature ``run(spec, *, workers, progress) -> dict``).
"""

from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from multiprocessing.process import BaseProcess
from typing import Any

from sqlalchemy import bindparam, select, update

from api.storage import audit
from api.storage.db import Database
from api.storage.models import SimulationJob, utcnow

__all__ = ["ACTIVE", "JobCancelled", "JobRunner", "fail_interrupted", "load_function", "run_job"]

log = logging.getLogger(__name__)

ACTIVE = ("queued", "running")
WORKER_ACTOR = "service:simulation-worker"
PROGRESS_INTERVAL_S = 0.25
POLL_INTERVAL_S = 0.5


def _finish(
    db: Database,
    job_id: int,
    *,
    status: str,
    result: Any = None,
    error: str | None = None,
    only_if: tuple[str, ...] = ACTIVE,
) -> bool:
    """Move a job to its final status (once); audit it. False if it was no longer active."""
    with db.write() as s:
        job = s.scalars(
            select(SimulationJob).where(SimulationJob.id == job_id).with_for_update()
        ).one_or_none()
        if job is None or job.status not in only_if:
            return False
        before = job.status
        job.status, job.result, job.error, job.finished_at = status, result, error, utcnow()
        if status == "succeeded" and job.progress_total is not None:
            job.progress_done = job.progress_total
        audit.append(
            s,
            actor=WORKER_ACTOR,
            action=f"simulation.{status}",
            entity_type="simulation",
            entity_id=job_id,
            before={"status": before},
            after={"status": status, "error": error},
        )
    return True


def load_function(path: str) -> Callable[..., Any]:
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    runner = getattr(module, attr or "run_simulation", None)
    if not callable(runner):
        raise ImportError(f"{module_name} has no function {attr!r}")
    return runner  # type: ignore[no-any-return]


def run_job(database_url: str, job_id: int, runner_path: str) -> None:
    """Body of a worker process: run one queued job to its end."""
    db = Database(database_url, pool_size=1)
    try:
        with db.write() as s:
            job = s.get(SimulationJob, job_id)
            if job is None or job.status != "queued":
                return
            job.status, job.started_at = "running", utcnow()
            spec = job.spec
        last = 0.0

        def progress(done: int, total: int) -> None:
            nonlocal last
            now = time.monotonic()
            if done < total and now - last < PROGRESS_INTERVAL_S:
                return
            last = now
            with db.write() as s:
                changed = s.execute(
                    update(SimulationJob)
                    .where(SimulationJob.id == job_id, SimulationJob.status == "running")
                    .values(progress_done=int(done), progress_total=int(total))
                    .returning(SimulationJob.id)
                ).first()
            if changed is None:  # cancelled (DELETE /v1/simulations/{id}): stop here
                raise JobCancelled(job_id)

        try:
            runner = load_function(runner_path)
        except ImportError as e:
            _finish(
                db, job_id, status="failed", error=f"the simulation harness is not available: {e}"
            )
            return
        try:
            result = runner(spec, workers=1, progress=progress)
        except JobCancelled:
            log.info("simulation job %s cancelled", job_id)
            return
        except Exception as e:
            log.warning("simulation job %s failed: %s", job_id, e)
            _finish(db, job_id, status="failed", error=f"{type(e).__name__}: {e}")
            return
        try:
            if not isinstance(result, Mapping):
                raise TypeError(f"the harness returned {type(result).__name__}, not a JSON object")
            result = json.loads(json.dumps(result, allow_nan=False))
        except Exception as e:
            log.warning("simulation job %s failed: %s", job_id, e)
            _finish(db, job_id, status="failed", error=f"{type(e).__name__}: {e}")
            return
        _finish(db, job_id, status="succeeded", result=result)
    finally:
        db.dispose()


_QUEUED = (
    select(SimulationJob.id, SimulationJob.created_by)
    .where(SimulationJob.status == "queued")
    .order_by(SimulationJob.id)
)
_STATUS = select(SimulationJob.status).where(SimulationJob.id == bindparam("job_id"))


def fail_interrupted(db: Database) -> int:
    """Mark failed every job left queued or running by a previous run of the service."""
    with db.read() as s:
        ids = s.scalars(select(SimulationJob.id).where(SimulationJob.status.in_(ACTIVE))).all()
    n = 0
    for job_id in ids:
        n += _finish(
            db,
            job_id,
            status="failed",
            error="interrupted: the service stopped or restarted before the job finished; "
            "submit it again",
        )
    if n:
        log.warning("marked %d interrupted simulation job(s) failed", n)
    return n


class JobCancelled(Exception):
    """The job was cancelled while it ran (raised from the progress callback to stop it)."""


class JobRunner:
    """Runs queued jobs, at most ``workers`` at once, each in a fresh worker process.

    The queue is the database: dispatchers take a queued job nobody in this runner has taken yet
    (``submit`` wakes one at once, otherwise they look every ``poll_interval_s``), fairly: the
    oldest job of the submitter with the fewest jobs running here, so one submitter's many jobs do
    not starve another's (and the size of any one job is bounded when it is submitted). A job
    cancelled while it runs is stopped: its worker sees it at its next progress report, and the
    dispatcher, which looks every ``poll_interval_s``, terminates a worker that does not.
    """

    def __init__(
        self,
        database_url: str,
        *,
        workers: int = 1,
        runner: str,
        poll_interval_s: float = POLL_INTERVAL_S,
    ) -> None:
        self.database_url = database_url
        self.runner = runner
        self.workers = workers
        self.poll_interval_s = poll_interval_s
        self._ctx = multiprocessing.get_context("spawn")
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running: dict[int, BaseProcess] = {}
        self._taken: set[int] = set()
        self._submitter: dict[int, str] = {}  # job taken -> who submitted it
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def start(self) -> None:
        for i in range(self.workers):
            thread = threading.Thread(
                target=self._dispatch, name=f"simulation-dispatch-{i}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: int) -> None:
        """Job ``job_id`` was queued (committed): wake a dispatcher."""
        with self._wake:
            self._wake.notify()

    def _take(self, db: Database) -> int | None:
        """A queued job not yet taken by this runner (None when there is none): the oldest of the
        submitter with the fewest jobs taken here."""
        with db.connect() as conn:
            queued = conn.execute(_QUEUED).all()
        with self._lock:
            free = [(job_id, who) for job_id, who in queued if job_id not in self._taken]
            if not free:
                return None
            load = Counter(self._submitter.values())
            job_id, who = min(free, key=lambda row: (load[row[1]], row[0]))
            self._taken.add(job_id)
            self._submitter[job_id] = who
            return int(job_id)

    def _next(self, db: Database) -> int | None:
        """Wait for a queued job; None when the runner stops."""
        while not self._stopping.is_set():
            job_id = self._take(db)
            if job_id is not None:
                return job_id
            with self._wake:
                if not self._stopping.is_set():
                    self._wake.wait(self.poll_interval_s)
        return None

    def _dispatch(self) -> None:
        db = Database(self.database_url, pool_size=1)
        try:
            while (job_id := self._next(db)) is not None:
                try:
                    self._run(db, job_id)
                finally:  # no longer queued: finished, failed, or left for the next start
                    with self._lock:
                        self._taken.discard(job_id)
                        self._submitter.pop(job_id, None)
        except (
            Exception
        ):  # pragma: no cover - a bug: log it, jobs stay visible as failed at restart
            log.exception("simulation dispatcher stopped")
        finally:
            db.dispose()

    def _run(self, db: Database, job_id: int) -> None:
        process = self._ctx.Process(
            target=run_job,
            args=(self.database_url, job_id, self.runner),
            name=f"simulation-job-{job_id}",
            daemon=True,
        )
        with self._lock:
            if self._stopping.is_set():
                return
            process.start()
            self._running[job_id] = process
        while process.is_alive():
            process.join(self.poll_interval_s)
            if process.is_alive() and self._cancelled(db, job_id):
                log.info("simulation job %s cancelled: stopping its worker", job_id)
                process.terminate()
                process.join()
        with self._lock:
            self._running.pop(job_id, None)
        if process.exitcode != 0:
            reason = (
                "interrupted: the service stopped while the job was running; submit it again"
                if self._stopping.is_set()
                else f"the worker process died (exit code {process.exitcode})"
            )
            _finish(db, job_id, status="failed", error=reason)
        process.close()

    @staticmethod
    def _cancelled(db: Database, job_id: int) -> bool:
        with db.connect() as conn:
            return conn.execute(_STATUS, {"job_id": job_id}).scalar() == "cancelled"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop: running workers are terminated and their jobs marked failed."""
        self._stopping.set()
        with self._lock:
            for process in self._running.values():
                process.terminate()
        with self._wake:
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
