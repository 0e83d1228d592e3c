"""The service's commands for the ``escalation`` CLI (entry point group ``escalation.commands``).

``escalation serve``, ``escalation keys create|list|revoke``, ``escalation audit verify|head``. Each
opens the database named by ``--database-url`` (default ``$ESCALATION_DATABASE_URL`` or SQLite
at ./var/escalation.db).
"""

from __future__ import annotations

import argparse
import errno
import getpass
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]

EXIT_OK, EXIT_BROKEN, EXIT_BAD_INPUT = 0, 1, 2
WORKER_START_TIMEOUT_S = 60


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # pragma: no cover - no user name in the environment
        return "cli:unknown"


def _settings(args: argparse.Namespace) -> Any:
    from api.config import Settings

    return Settings(database_url=args.database_url) if args.database_url else Settings()


def _database(args: argparse.Namespace, *, migrate: bool) -> Any:
    from api.storage.db import Database

    settings = _settings(args)
    db = Database(settings.database_url, pool_size=1)
    if migrate:
        db.migrate()
    return db


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    sys.stderr.write(f"error: {message}\n")
    return code


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


# ---- serve ---------------------------------------------------------------------------------------------
def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _port_problem(host: str, port: int) -> str | None:
    """Why ``escalation serve`` cannot listen on ``host:port``, or None when it can.

    Tried with a socket bound as uvicorn binds it (``SO_REUSEADDR``), then closed, so that a busy
    port is reported before anything is printed or written."""
    hint = "choose another with --port (make run PORT=...)"
    if not 0 < port < 65536:
        return f"port {port} is not a TCP port (1 to 65535); {hint}"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        return f"cannot serve on host {host!r}: {e.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; {hint}"
            return f"cannot listen on {host}:{port} ({e.strerror}); {hint}"
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.demo import demo_as_of, load_demo_trial, rotate_demo_key

    settings = _settings(args)
    workers = args.workers or _cores()
    if workers < 1:
        return _fail(f"--workers must be at least 1, got {workers}")
    problem = _port_problem(args.host, args.port)
    if problem is not None:
        return _fail(problem)
    url = f"http://{args.host}:{args.port}"
    lines = [f"escalation service on {url}  (API docs: {url}/docs)"]
    if args.demo:
        db = _database(args, migrate=True)
        try:
            trial_id, changed = load_demo_trial(db, Path(args.demo), actor=_actor())
            key = rotate_demo_key(db, role="src", actor=_actor())
            as_of = demo_as_of(Path(args.demo))
        finally:
            db.dispose()
        lines += [
            f"demo trial: {url}/v1/trials/{trial_id}  ({changed} patient records loaded or changed)",
            f"demo key (role src): {key}",
            f"meeting page: sign in at {url}/ with the key, then "
            f"{url}/ui/trials/{trial_id}?as_of={as_of}",
            f"try: curl -H 'Authorization: Bearer {key}' {url}/v1/trials/{trial_id}/recommendation"
            f"?as_of={as_of}",
        ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    if workers == 1:
        from api.main import create_app, freeze_startup_objects

        app = create_app(settings)
        freeze_startup_objects()
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
        return EXIT_OK
    _serve_workers(settings, args, workers)
    return EXIT_OK


def _serve_workers(settings: Any, args: argparse.Namespace, workers: int) -> None:
    """``workers`` uvicorn processes on one socket, under this process, which first does once what
    a single process does at start-up (migrations, failing interrupted jobs) and runs the one
    simulation job runner; the workers only serve (``api.main:create_worker_app``)."""
    import uvicorn

    from api.jobs import JobRunner, fail_interrupted
    from api.storage.db import Database

    db = Database(settings.database_url, pool_size=1)
    try:
        db.migrate()
        fail_interrupted(db)
    finally:
        db.dispose()
    jobs = JobRunner(
        settings.database_url,
        workers=settings.simulation_workers,
        runner=settings.simulation_runner,
    )
    # the workers build their settings from the environment: the same database
    os.environ["ESCALATION_DATABASE_URL"] = settings.database_url
    jobs.start()
    try:
        uvicorn.run(
            "api.main:create_worker_app",
            factory=True,
            host=args.host,
            port=args.port,
            log_level=args.log_level,
            workers=workers,
            # a worker imports the engine (scipy and all) before it serves: about 3 s on an idle
            # 2-core machine, more under load; uvicorn's default 5 s would give up on it
            timeout_worker_healthcheck=WORKER_START_TIMEOUT_S,
        )
    finally:
        jobs.stop()


# ---- keys ----------------------------------------------------------------------------------------------
def _key_json(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "key_prefix": record.key_prefix,
        "created_at": record.created_at.isoformat(),
        "revoked_at": record.revoked_at.isoformat() if record.revoked_at else None,
    }


def _keys_create(args: argparse.Namespace) -> int:
    from api.errors import ApiError
    from api.services.admin import create_key

    db = _database(args, migrate=True)
    try:
        record, key = create_key(db, role=args.role, name=args.name, actor=_actor())
    except ApiError as e:
        return _fail(e.message)
    finally:
        db.dispose()
    if args.json:
        _print_json(_key_json(record) | {"key": key})
    else:
        sys.stdout.write(
            f"{key}\n(key {record.id}, role {record.role}, name {record.name!r}: "
            "shown only this once, store it now)\n"
        )
    return EXIT_OK


def _keys_list(args: argparse.Namespace) -> int:
    from api.services.admin import list_keys

    db = _database(args, migrate=True)
    try:
        rows, _ = list_keys(db)
    finally:
        db.dispose()
    if args.json:
        _print_json({"items": [_key_json(r) for r in rows]})
        return EXIT_OK
    for r in rows:
        state = f"revoked {r.revoked_at:%Y-%m-%d}" if r.revoked_at else "active"
        sys.stdout.write(f"{r.id:>4}  {r.role:<13} {r.key_prefix}...  {state:<18} {r.name}\n")
    return EXIT_OK


def _keys_revoke(args: argparse.Namespace) -> int:
    from api.errors import ApiError
    from api.services.admin import revoke_key

    db = _database(args, migrate=True)
    try:
        record = revoke_key(db, args.key_id, actor=_actor())
    except ApiError as e:
        return _fail(e.message)
    finally:
        db.dispose()
    sys.stdout.write(f"revoked key {record.id} ({record.role}, {record.name!r})\n")
    return EXIT_OK


# ---- audit -----------------------------------------------------------------------------------------------
def _open_audited(args: argparse.Namespace) -> tuple[Any, Any]:
    """(database, None) for an existing escalation database with its audit key, or (None, exit
    code) after saying why not."""
    from sqlalchemy import inspect

    from api.storage.audit import AuditKeyError, load_key

    settings = _settings(args)
    if settings.sqlite_path is not None and not settings.sqlite_path.exists():
        return None, _fail(f"no database at {settings.sqlite_path}")
    try:
        key = load_key(create=False)
    except AuditKeyError as e:
        return None, _fail(str(e))
    from api.storage.db import Database

    db = Database(settings.database_url, pool_size=1, audit_key=key)
    if not inspect(db.engine).has_table("audit_entries"):
        db.dispose()
        return None, _fail("not an escalation database (no audit_entries table)")
    return db, None


def _audit_verify(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from api.services.integrity import check
    from api.storage.audit import parse_anchor

    anchor_at = None
    if args.head is not None:
        try:
            anchor_at = parse_anchor(args.head)
        except ValueError as e:
            return _fail(str(e))
    try:
        db, code = _open_audited(args)
        if db is None:
            return int(code)
        try:
            with db.read() as s:
                report = check(s, anchor_at=anchor_at)
        finally:
            db.dispose()
    except SQLAlchemyError as e:
        return _fail(f"cannot read the database: {type(e).__name__}: {e}")
    first = report.problems[0] if report.problems else None
    if args.json:
        _print_json(
            {
                "intact": report.intact,
                "entries_checked": report.entries,
                "rows_checked": report.rows,
                "first_bad_entry": first.seq if first else None,
                "problem": first.message if first else None,
                "problems": [{"entry": p.seq, "problem": p.message} for p in report.problems],
            }
        )
    if not report.intact:
        for p in report.problems:
            where = f"at entry {p.seq}" if p.seq is not None else "in the data"
            sys.stderr.write(f"audit chain BROKEN {where}: {p.message}\n")
        return EXIT_BROKEN
    if not args.json:
        anchored = f", recorded head {args.head.strip()} present" if anchor_at else ""
        sys.stdout.write(
            f"audit chain intact: {report.entries} entries verified, "
            f"{report.rows} data rows agree with them{anchored}\n"
        )
    return EXIT_OK


def _audit_head(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from api.storage.audit import anchor, head

    try:
        db, code = _open_audited(args)
        if db is None:
            return int(code)
        try:
            with db.read() as s:
                seq, hash_hex = head(s)
        finally:
            db.dispose()
    except SQLAlchemyError as e:
        return _fail(f"cannot read the database: {type(e).__name__}: {e}")
    if args.json:
        _print_json({"head": anchor(seq, hash_hex), "seq": seq, "hash": hash_hex})
    else:
        sys.stdout.write(anchor(seq, hash_hex) + "\n")
    return EXIT_OK


# ---- parser ------------------------------------------------------------------------------------------------
def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        metavar="URL",
        help="sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB (default: "
        "$ESCALATION_DATABASE_URL, else sqlite:///./var/escalation.db)",
    )


def register(sub: Any) -> None:
    """Add ``serve``, ``keys`` and ``audit`` to the ``escalation`` command line."""
    from api.auth import ROLES

    serve = sub.add_parser(
        "serve",
        help="run the HTTP service",
        description="Run the HTTP service (FastAPI on uvicorn). The database schema is migrated "
        "at start-up. API docs at /docs.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    _database_option(serve)
    serve.add_argument(
        "--demo",
        metavar="DOCUMENT",
        default=None,
        help="load this trial document (idempotently) and print a demo key with the src role",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="HTTP worker processes (default: one per CPU core); migrations and simulation jobs "
        "run once, in the supervising process",
    )
    serve.add_argument(
        "--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"]
    )
    serve.set_defaults(handler=_serve)

    keys = sub.add_parser(
        "keys", help="manage API keys", description="Create, list and revoke API keys."
    )
    keys_sub = keys.add_subparsers(dest="keys_command", required=True, metavar="COMMAND")
    create = keys_sub.add_parser(
        "create", help="create a key (printed once)", description="Create an API key."
    )
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", required=True, help="whose key it is (named in the audit trail)")
    _database_option(create)
    create.add_argument("--json", action="store_true", help='JSON output ({"key": ...})')
    create.set_defaults(handler=_keys_create)
    listing = keys_sub.add_parser("list", help="list keys", description="List API keys.")
    _database_option(listing)
    listing.add_argument("--json", action="store_true", help="JSON output")
    listing.set_defaults(handler=_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke a key", description="Revoke an API key.")
    revoke.add_argument("key_id", type=int, help="the key's id (see keys list)")
    _database_option(revoke)
    revoke.set_defaults(handler=_keys_revoke)

    audit = sub.add_parser(
        "audit", help="check the audit trail", description="Check the audit trail."
    )
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    verify = audit_sub.add_parser(
        "verify",
        help="verify the audit chain and the data against it",
        description="Verify the audit chain (hashes, MACs under the audit key, head) and replay "
        "it: every trial, patient, recommendation, SRC decision and API key must be as the trail "
        "records it. Exit 0 when intact, 1 naming each problem. The audit key comes from "
        "$ESCALATION_AUDIT_KEY or the file $ESCALATION_AUDIT_KEY_FILE (default ./var/audit.key).",
    )
    _database_option(verify)
    verify.add_argument(
        "--head",
        metavar="SEQ:HASH",
        default=None,
        help="a head printed earlier by `escalation audit head` (recorded in the trial master "
        "file): the chain must still hold it",
    )
    verify.add_argument("--json", action="store_true", help="JSON output")
    verify.set_defaults(handler=_audit_verify)
    head = audit_sub.add_parser(
        "head",
        help="print the chain's head (SEQ:HASH) to record outside the database",
        description="Print the audit chain's newest entry as SEQ:HASH. Record it outside the "
        "database (the trial master file); `escalation audit verify --head SEQ:HASH` later shows "
        "that no entry up to it was removed or replaced.",
    )
    _database_option(head)
    head.add_argument("--json", action="store_true", help="JSON output")
    head.set_defaults(handler=_audit_head)
