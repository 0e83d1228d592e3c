"""Latency of GET /v1/trials/{id}/recommendation under concurrent clients, on loopback.

Starts ``escalation serve`` on a fresh database (SQLite in a temporary folder; PostgreSQL in a
temporary schema, dropped at the end), loads a 30-patient trial per design (BOIN and CRM), then
``--clients`` concurrent clients send requests (bounded in count and in time) for:

* ``stored``: the same as_of again: the stored recommendation is found by its input hashes;
* ``fresh``: a new as_of each request: the engine decides and the recommendation is stored
  (with its audit entry) every time;

each in a closed loop (every client sends its next request as soon as it has the answer: the
service at saturation, where by Little's law the mean latency is clients / throughput) and in an
open loop (every client sends one request per --interval seconds).

The clients are a few lines of raw HTTP/1.1 on keep-alive connections (uvloop when installed), so
that the client side costs a small fraction of the server's CPU: a general-purpose client such as
httpx spends several milliseconds of CPU per request at this concurrency and would measure itself.
Every response's status is checked and the first body of each run is checked to be the
recommendation.

Prints p50 / p99 / mean latency, throughput, the CPU time per request of the server (every
process of it) and of the clients, and how many CPUs everything else kept busy meanwhile (other
work on a shared machine; the PostgreSQL server itself on PostgreSQL), with the load average
before and after each database, so that figures taken on a shared machine can be judged. Target:
p99 < 50 ms. Nothing is asserted.

    .venv/bin/python benchmarks/api_latency.py [--database sqlite|postgresql|both] [--workers N]
        [--loop closed|open|both] [--scenario stored|fresh|both] [--design boin|crm|both]
        [--clients 50] [--requests 10000] [--max-seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from api.services import trials
from api.services.admin import create_key
from api.storage.db import Database
from escalation import DESIGNS, __version__

DOSES = [{"level": k, "label": f"{0.25 * 2 ** (k - 1):g}e6 CAR+ T cells/kg"} for k in range(1, 6)]
AS_OF = dt.date(2027, 6, 1)
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def thirty_patients() -> list[dict[str, Any]]:
    """Ten cohorts of three, escalating to level 3 with DLTs there: all windows closed."""
    levels = [1, 2, 2, 3, 3, 3, 2, 3, 3, 3]
    dlts = {7, 11, 16, 19, 25}
    start = dt.date(2026, 1, 5)
    patients = []
    for i in range(30):
        infused = start + dt.timedelta(days=12 * i)
        record: dict[str, Any] = {
            "id": f"P{i + 1:03d}",
            "dose_level": levels[i // 3],
            "infused_on": infused.isoformat(),
            "dlt": i in dlts,
        }
        if i in dlts:
            record["dlt_on"] = (infused + dt.timedelta(days=9)).isoformat()
        patients.append(record)
    return patients


def designs() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {
        "boin": {"method": "boin", "target": 0.3, "cohort_size": 3, "max_patients": 36}
    }
    if "crm" in DESIGNS:
        out["crm"] = {
            "method": "crm",
            "target": 0.3,
            "cohort_size": 3,
            "max_patients": 36,
            "skeleton": [0.06, 0.14, 0.25, 0.38, 0.5],
        }
    return out


# ---- processes ----------------------------------------------------------------------------------
def _proc_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by ``root`` and its live descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _proc_stat(int(entry.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += int(stats[pid][11]) + int(stats[pid][12])
        todo += children.get(pid, [])
    return total / os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU time every process on the machine has used so far (Linux /proc/stat: all but idle
    and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


# ---- the clients ------------------------------------------------------------------------------------
class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection: GET, read the status and a Content-Length body."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in ({"Host": host} | headers).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\n{self.head}\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.close()
            raise HttpError("the server closed the connection") from None
        status = int(head[9:12])
        lower = head.lower()
        start = lower.find(b"\r\ncontent-length:")
        if start < 0:
            self.close()
            raise HttpError("a response without Content-Length")
        end = lower.index(b"\r\n", start + 2)
        body = await self.reader.readexactly(int(lower[start + 17 : end]))
        if b"\r\nconnection: close" in lower:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    client_cpu: float = 0.0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def load(
    port: int,
    key: str,
    path: str,
    *,
    clients: int,
    requests: int,
    max_seconds: float,
    fresh: bool,
    interval_s: float,
    first_day: int = 1,
    check: Callable[[bytes], None],
) -> Run:
    """Each client sends a request, waits for the answer, then (open loop) waits until its next
    slot ``interval_s`` after the previous one, or (closed loop, interval 0) sends at once.
    Fresh requests ask for as_of AS_OF + first_day, + first_day + 1, ...: dates no run has
    asked for before, if each fresh run starts after the last one's dates."""
    run = Run()
    counter = iter(range(requests))
    deadline = time.perf_counter() + max_seconds
    checked = False

    async def client(offset: float) -> None:
        nonlocal checked
        conn = Connection("127.0.0.1", port, {"Authorization": f"Bearer {key}"})
        await asyncio.sleep(offset)  # open loop: clients spread over the interval
        next_slot = time.perf_counter()
        try:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                day = AS_OF + dt.timedelta(days=first_day + i) if fresh else AS_OF
                t0 = time.perf_counter()
                try:
                    status, body = await conn.get(f"{path}?as_of={day.isoformat()}")
                except (OSError, HttpError) as e:  # counted, and the client goes on
                    conn.close()
                    run.error(type(e).__name__)
                    continue
                run.latencies.append(time.perf_counter() - t0)
                if status != 200:
                    run.error(f"HTTP {status}")
                elif not checked:
                    checked = True
                    check(body)
                if interval_s:
                    next_slot += interval_s
                    await asyncio.sleep(max(0.0, next_slot - time.perf_counter()))
        finally:
            conn.close()

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(interval_s * k / clients) for k in range(clients)))
    run.elapsed = time.perf_counter() - t0
    run.client_cpu = time.process_time() - cpu0
    return run


def run_load(**kwargs: Any) -> Run:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        return asyncio.run(load(**kwargs))
    return uvloop.run(load(**kwargs))


# ---- databases and the server ------------------------------------------------------------------------
@contextmanager
def database(kind: str, postgres_url: str) -> Iterator[str | None]:
    """A fresh, empty database URL of ``kind`` (None, saying why, when PostgreSQL is unreachable)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}"
        return
    schema = f"bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    engine = create_engine(postgres_url, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as e:
        print(f"PostgreSQL skipped: unreachable at {postgres_url}: {type(e).__name__}")
        engine.dispose()
        yield None
        return
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


def load_trials(url: str) -> tuple[str, dict[str, int]]:
    """A src key and one 30-patient trial per design."""
    db = Database(url)
    db.migrate()
    _, key = create_key(db, role="src", name="benchmark", actor="benchmark")
    trial_ids = {}
    for name, design in designs().items():
        trial = trials.create_trial(
            db, {"name": f"bench {name}", "design": design, "doses": DOSES}, actor="benchmark"
        )
        for p in thirty_patients():
            body = {k: v for k, v in p.items() if k != "id"}
            trials.upsert_patient(db, trial.id, p["id"], body, if_match=None, actor="benchmark")
        trial_ids[name] = trial.id
    db.dispose()
    return key, trial_ids


@contextmanager
def server(url: str, workers: int | None) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    command = [sys.executable, "-m", "escalation.cli", "serve", "--port", str(port)]
    command += ["--log-level", "warning"] + (["--workers", str(workers)] if workers else [])
    proc = subprocess.Popen(
        command, env=os.environ | {"ESCALATION_DATABASE_URL": url}, stdout=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        time.sleep(0.5 if workers and workers > 1 else 0)  # let every worker come up
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def is_recommendation(trial_id: int) -> Callable[[bytes], None]:
    def check(body: bytes) -> None:
        rec = json.loads(body)
        if rec.get("trial_id") != trial_id or "next_dose" not in rec.get("decision", {}):
            raise SystemExit(f"not the recommendation of trial {trial_id}: {body[:200]!r}")

    return check


def bench_database(kind: str, args: argparse.Namespace) -> None:
    with database(kind, args.postgres_url) as url:
        if url is None:
            return
        key, trial_ids = load_trials(url)
        with server(url, args.workers) as (proc, port):
            print(
                f"\n== {'SQLite' if kind == 'sqlite' else 'PostgreSQL'}; escalation serve "
                f"{f'--workers {args.workers}' if args.workers else '(default workers)'}; "
                f"load average {load_average()} (1/5/15 min, before)"
            )
            print(
                f"{'design':<6} {'scenario':<8} {'loop':<7} {'n':>5} {'err':>4} {'p50 ms':>8} "
                f"{'p99 ms':>8} {'mean ms':>8} {'req/s':>7} {'server CPU':>10} {'client CPU':>10} "
                f"{'others':>6}"
            )
            loops = {"closed": [0.0], "open": [args.interval], "both": [0.0, args.interval]}
            scenarios = {"stored": [False], "fresh": [True], "both": [False, True]}
            next_day = 1  # fresh runs never ask for a date an earlier run asked for
            for name, trial_id in trial_ids.items():
                if args.design not in ("both", name):
                    continue
                path = f"/v1/trials/{trial_id}/recommendation"
                httpx.get(
                    f"http://127.0.0.1:{port}{path}",
                    params={"as_of": AS_OF.isoformat()},
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=60,
                ).raise_for_status()
                # warm up (connections, caches, prepared statements); not reported
                run_load(
                    port=port,
                    key=key,
                    path=path,
                    clients=args.clients,
                    requests=args.warmup,
                    max_seconds=args.max_seconds,
                    fresh=False,
                    interval_s=0.0,
                    check=is_recommendation(trial_id),
                )
                for interval in loops[args.loop]:
                    for fresh in scenarios[args.scenario]:
                        cpu0, busy0 = tree_cpu_seconds(proc.pid), busy_cpu_seconds()
                        run = run_load(
                            port=port,
                            key=key,
                            path=path,
                            clients=args.clients,
                            requests=args.requests if not interval else args.open_requests,
                            max_seconds=args.max_seconds,
                            fresh=fresh,
                            interval_s=interval,
                            first_day=next_day,
                            check=is_recommendation(trial_id),
                        )
                        next_day += args.requests if not interval else args.open_requests
                        n = max(len(run.latencies), 1)
                        server_s = tree_cpu_seconds(proc.pid) - cpu0
                        # what the rest of the machine ran meanwhile, in CPUs busy on average
                        others = busy_cpu_seconds() - busy0 - server_s - run.client_cpu
                        server_ms = 1000 * server_s / n
                        q = statistics.quantiles(run.latencies, n=100, method="inclusive")
                        print(
                            f"{name:<6} {'fresh' if fresh else 'stored':<8} "
                            f"{'open' if interval else 'closed':<7} {len(run.latencies):>5} "
                            f"{sum(run.errors.values()):>4} "
                            f"{1000 * statistics.median(run.latencies):>8.1f} "
                            f"{1000 * q[98]:>8.1f} {1000 * statistics.fmean(run.latencies):>8.1f} "
                            f"{len(run.latencies) / run.elapsed:>7.0f} {server_ms:>7.2f} ms "
                            f"{1000 * run.client_cpu / n:>7.2f} ms {others / run.elapsed:>6.2f}"
                        )
                        if run.errors:
                            print(f"  errors: {run.errors}")
            print(f"load average after: {load_average()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help=f"default {POSTGRES_URL}")
    parser.add_argument(
        "--workers", type=int, default=None, help="escalation serve --workers (default: its own)"
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=10_000, help="per closed-loop run")
    parser.add_argument("--open-requests", type=int, default=500, help="per open-loop run")
    parser.add_argument(
        "--warmup", type=int, default=500, help="stored requests before the runs of a design"
    )
    parser.add_argument("--max-seconds", type=float, default=20, help="per run")
    parser.add_argument("--loop", choices=["closed", "open", "both"], default="both")
    parser.add_argument("--scenario", choices=["stored", "fresh", "both"], default="both")
    parser.add_argument("--design", choices=["boin", "crm", "both"], default="both")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.0,
        help="open-loop runs: seconds between one client's requests (default 1)",
    )
    args = parser.parse_args()
    print(
        f"escalation {__version__}; {args.clients} concurrent clients on loopback; "
        f"{os.cpu_count()} CPUs shared by the server, the clients and anything else running; "
        "CPU columns: milliseconds per request; others: CPUs busy with anything else"
    )
    print(
        "closed loop: each client sends its next request as soon as the answer arrives "
        f"(saturation); open loop: each client sends one request every {args.interval:g} s"
    )
    for kind in ("sqlite", "postgresql") if args.database == "both" else (args.database,):
        bench_database(kind, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
