"""Where blocks of trials run: in this process, in local worker processes, or on a Dask cluster.

Every executor runs the same jobs (one per scenario and block of trials) and returns their results
keyed by job; the caller combines them in job order, so the results of a seed do not depend on the
executor or the number of workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import uuid
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

__all__ = ["MIN_PARALLEL_SECONDS", "available_cores", "run_jobs"]

log = logging.getLogger(__name__)

#: below this much estimated work, ``workers="auto"`` runs in one process: a pool of worker
#: processes costs about a second before it simulates anything (the fork server imports the
#: harness, each worker its designs' libraries and compiles nothing it can share), and on
#: runs this short two workers were slower than one in every case measured (issue 11)
MIN_PARALLEL_SECONDS = 5.0

J = TypeVar("J")
R = TypeVar("R")


def available_cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def run_jobs(
    fn: Callable[[J], R],
    jobs: Sequence[J],
    keys: Sequence[Hashable],
    *,
    workers: int = 1,
    client: Any = None,
    scheduler: str | None = None,
    on_done: Callable[[Hashable], None] | None = None,
) -> dict[Hashable, R]:
    """Run ``fn`` on every job and return the results by key.

    Parameters
    ----------
    fn
        A module-level function (it is sent to other processes by reference).
    jobs, keys
        The jobs and one key per job.
    workers
        Local processes (1: in this process).
    client
        A ``dask.distributed.Client`` to run on (it is left open).
    scheduler
        The address of a Dask scheduler to connect to (the connection is closed at the end).
    on_done
        Called with the key of each finished job, in the order they finish.
    """
    done: dict[Hashable, R] = {}

    def finish(key: Hashable, result: R) -> None:
        done[key] = result
        if on_done is not None:
            on_done(key)

    if client is not None or scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        own = client is None
        dask_client = Client(scheduler) if own else client  # type: ignore[no-untyped-call]
        try:
            run = uuid.uuid4().hex[:12]  # task keys unique to this run on a shared cluster
            names = [f"escalation-sim-{run}-{i}" for i in range(len(jobs))]
            futures = dask_client.map(fn, list(jobs), key=names, pure=False)
            by_future = {f.key: k for f, k in zip(futures, keys, strict=True)}
            for future in dask_completed(futures):  # type: ignore[no-untyped-call]
                finish(by_future[future.key], future.result())
        finally:
            if own:
                dask_client.close()
        return done
    if workers <= 1 or len(jobs) <= 1:
        for key, job in zip(keys, jobs, strict=True):
            finish(key, fn(job))
        return done
    context = multiprocessing.get_context("forkserver")
    # the fork server imports the harness once; every worker forks from it with it loaded
    context.set_forkserver_preload([fn.__module__])
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        futures = {pool.submit(fn, job): key for key, job in zip(keys, jobs, strict=True)}
        for future in as_completed(futures):
            finish(futures[future], future.result())
    return done
