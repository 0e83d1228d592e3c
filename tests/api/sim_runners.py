"""Stand-ins for the simulation harness's run_simulation, to test the job machinery itself.

They follow the harness's signature ``run(spec, *, workers, progress) -> dict`` and are loaded in
the worker process by their ``module:function`` path, as the real harness is.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Progress = Callable[[int, int], None] | None


def run_counting(
    spec: Mapping[str, Any], *, workers: int = 1, progress: Progress = None
) -> dict[str, Any]:
    """Counts to spec["n"], reporting progress; the result echoes what the worker received."""
    n = int(spec.get("n", 5))
    for i in range(1, n + 1):
        time.sleep(float(spec.get("sleep", 0.0)))
        if progress is not None:
            progress(i, n)
    if spec.get("fail"):
        raise ValueError(f"spec asked to fail: {spec['fail']}")
    if spec.get("crash"):
        os._exit(3)
    return {"n": n, "workers": workers, "pid": os.getpid(), "spec": dict(spec)}


def run_until_released(
    spec: Mapping[str, Any], *, workers: int = 1, progress: Progress = None
) -> dict[str, Any]:
    """Reports 1 of 2, then waits until the file spec["release"] exists (or 60 s)."""
    if progress is not None:
        progress(1, 2)
    deadline = time.monotonic() + 60
    while not Path(spec["release"]).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"released": Path(spec["release"]).exists()}


def run_slowly(
    spec: Mapping[str, Any], *, workers: int = 1, progress: Progress = None
) -> dict[str, Any]:
    """Counts to spec["n"] slowly, reporting every step (a long job, to cancel)."""
    n = int(spec.get("n", 1000))
    for i in range(1, n + 1):
        time.sleep(float(spec.get("sleep", 0.05)))
        if progress is not None:
            progress(i, n)
    return {"n": n}


def run_silently(
    spec: Mapping[str, Any], *, workers: int = 1, progress: Progress = None
) -> dict[str, Any]:
    """Sleeps spec["seconds"] without ever reporting progress (stopped only from outside)."""
    time.sleep(float(spec.get("seconds", 60)))
    return {"slept": True}


def run_dispatch(
    spec: Mapping[str, Any], *, workers: int = 1, progress: Progress = None
) -> dict[str, Any]:
    """``spec["runner"]`` of the runners above (one service, several behaviours)."""
    runner = {"slowly": run_slowly, "silently": run_silently, "counting": run_counting}
    return runner[str(spec.get("runner", "counting"))](spec, workers=workers, progress=progress)
