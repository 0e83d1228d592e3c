"""The database handle: engine, transactions and schema migrations.

SQLite (the default, a file, in WAL mode with ``synchronous=FULL``: a committed write survives a
power loss, not only a crash of the process; the file is made with mode 0600) or PostgreSQL through
psycopg 3. Every write runs in one
transaction (``Database.write``); on SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so
that two writers queue for the lock instead of failing when one upgrades its read snapshot. The
schema is owned by the Alembic migrations beside this file and is brought to the head revision at
start-up, so a database made by an older version upgrades in place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from api.storage.audit import load_key

__all__ = ["Database", "alembic_config"]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_IMMEDIATE = "escalation_begin_immediate"
_AUTOCOMMIT = "escalation_autocommit"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration (no ini file: the migrations ship inside the package)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # take transaction control away from the sqlite3 module: SQLAlchemy's "begin" event below
    # emits BEGIN or BEGIN IMMEDIATE itself
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: each commit is synced to disk, so an acknowledged write survives a power loss
        # (NORMAL survives a crash of the process only); this is the clinical record
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    options = conn.get_execution_options()
    if options.get(_AUTOCOMMIT, False):
        return  # Database.connect: every statement its own transaction
    conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")


def _private_file(path: Path) -> None:
    """Make the SQLite file (and its WAL and shared-memory files, which SQLite creates with the
    main file's mode) readable by its owner only: it is the clinical record."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):  # not ours to change: leave it
            if p.exists() and p.stat().st_mode & 0o077:
                p.chmod(0o600)


@functools.cache
def _head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package ships its migrations
        raise RuntimeError(f"no migrations in {MIGRATIONS}")
    return head


class Database:
    """One database: an engine, read and write sessions, and the migrations.

    Parameters
    ----------
    url
        SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://...``).
    pool_size
        Connections kept open (PostgreSQL; SQLite files use the same pool).
    audit_key
        The secret that keys the audit chain (default: ``api.storage.audit.load_key()``, from the
        environment or ``./var/audit.key``); every session carries it in ``info["audit_key"]``.
        ``b""`` writes entries without a MAC: only for a schema older than revision 0005.
    """

    def __init__(self, url: str, *, pool_size: int = 10, audit_key: bytes | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.audit_key = audit_key if audit_key is not None else load_key()
        kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 2 * pool_size}
        in_memory = False
        if self.is_sqlite:
            path = url.split("///", 1)[1].split("?", 1)[0] if "///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                _private_file(Path(path))
            else:  # an in-memory database (one connection; for building the app without a file)
                kwargs, in_memory = {}, True
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._autocommit = self._autocommit_engine(url, in_memory=in_memory)
        info = {"audit_key": self.audit_key}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._write = sessionmaker(
            self.engine.execution_options(**{_IMMEDIATE: True}), expire_on_commit=False, info=info
        )

    def _autocommit_engine(self, url: str, *, in_memory: bool) -> Engine:
        """The engine of ``connect``: its own small pool, in autocommit mode (SQLite: the sqlite3
        module's, as the connect hook leaves it, and no BEGIN; PostgreSQL: the driver's), and no
        connection event listener, whose mere presence makes SQLAlchemy dispatch events around
        every statement (a sixth of the time of a stored recommendation's reads)."""
        if in_memory:  # one database per engine: share the one engine
            return self.engine.execution_options(**{_AUTOCOMMIT: True})
        if not self.is_sqlite:
            return create_engine(url, pool_size=2, max_overflow=8, isolation_level="AUTOCOMMIT")
        engine = create_engine(url, pool_size=2, max_overflow=8)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading (its transaction is rolled back at the end)."""
        with self._read() as session:
            yield session

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection in autocommit mode, for reads of one statement each: no ORM session, no
        BEGIN and no ROLLBACK (two round trips on PostgreSQL). Each statement sees the database
        as it is when it runs, so what must be read consistently is read in one statement; for
        more, use ``read``."""
        with self._autocommit.connect() as connection:
            yield connection

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back on any exception."""
        with self._write() as session, session.begin():
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Bring the schema to ``revision`` (Alembic upgrade, in one transaction)."""
        with self.engine.begin() as connection:
            command.upgrade(alembic_config(connection), revision)

    def current_revision(self) -> str | None:
        """The schema revision the database is at (None for an empty database)."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str:
        """The newest schema revision this version of the service knows."""
        return _head_revision()

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self._autocommit.dispose()
        self.engine.dispose()
