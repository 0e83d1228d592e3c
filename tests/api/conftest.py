"""The service under test: real uvicorn servers on loopback ports, on SQLite and on PostgreSQL.

Every test that takes ``api`` runs twice, once per database. PostgreSQL runs in a fresh schema per
test session (``postgresql+psycopg://postgres@127.0.0.1:5432/test``, trust auth), dropped at the end;
when PostgreSQL is unreachable those tests are skipped, saying so, except in continuous integration
(``CI`` set to true, as CI services set it), where they fail: there the database is part of the
environment, and a skip would hide that half of the service tests did not run.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from api.config import Settings
from api.main import create_app
from api.services.admin import create_key
from api.storage.db import Database
from tests.conftest import EXAMPLE

PG_ADMIN_URL = os.environ.get(
    "ESCALATION_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROLES = ("data-system", "src", "statistician", "admin")
#: the test servers' today (``Settings.today``): tests never depend on the machine's date
SERVER_TODAY = dt.date(2026, 9, 1)


def server_today() -> dt.date:
    return SERVER_TODAY


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the tests run in continuous integration (``CI`` set to true, as CI services set it)."""
    return environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used (None when it can)."""
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        return f"PostgreSQL unreachable at {PG_ADMIN_URL}: {type(e).__name__}: {e}"
    finally:
        engine.dispose()
    return None


@dataclass
class PgSchema:
    """A private schema in the test database: its URL sets the search_path."""

    name: str
    url: str = field(init=False)

    def __post_init__(self) -> None:
        self.url = f"{PG_ADMIN_URL}?options=-csearch_path%3D{self.name}"

    def create(self) -> None:
        engine = create_engine(PG_ADMIN_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        engine.dispose()

    def drop(self) -> None:
        engine = create_engine(PG_ADMIN_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[list[PgSchema]]:
    """Schemas made during the session, all dropped at its end."""
    made: list[PgSchema] = []
    yield made
    for schema in made:
        schema.drop()


def new_database_url(kind: str, tmp_path: Path, pg_schemas: list[PgSchema]) -> str:
    """A fresh, empty database of ``kind`` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / f'escalation-{uuid.uuid4().hex[:8]}.db'}"
    reason = postgres_unreachable()
    if reason and in_ci():
        pytest.fail(f"{reason} (CI is set: the PostgreSQL tests must run)")
    if reason:
        pytest.skip(reason)
    schema = PgSchema(f"api_test_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    schema.create()
    pg_schemas.append(schema)
    return schema.url


class Server:
    """The application served by uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_config=None,
            log_level="warning",
            ws="none",
            http="h11",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self.url = ""

    def __enter__(self) -> Server:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(30)


@dataclass
class Api:
    """A running service, its database, and a key for every role."""

    server: Server
    db: Database
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: str | None = None, *, key: str | None = None) -> httpx.Client:
        headers = {}
        if key is not None or role is not None:
            headers["Authorization"] = f"Bearer {key if key is not None else self.keys[role or '']}"
        # plain HTTP on loopback: no TLS context to build (it costs ~30 ms per client)
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, verify=False)


def start_api(database_url: str, **settings: Any) -> tuple[Server, Database]:
    db = Database(database_url)
    db.migrate()
    settings.setdefault("today", server_today)
    server = Server(Settings(database_url=database_url, **settings))
    return server, db


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_schemas: list[PgSchema],
) -> Iterator[Api]:
    """One running service per database for the whole session (tests make their own trials)."""
    url = new_database_url(request.param, tmp_path_factory.mktemp(request.param), pg_schemas)
    server, db = start_api(url)
    keys = {role: create_key(db, role=role, name=f"test {role}", actor="test")[1] for role in ROLES}
    with server:
        yield Api(server=server, db=db, keys=keys)
    db.dispose()


@pytest.fixture
def example() -> dict[str, Any]:
    return copy.deepcopy(json.loads(EXAMPLE.read_text()))


def protocol(document: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """The trial-creation body of a trial document."""
    body = {k: document[k] for k in ("design", "doses", "dlt_window_days")}
    body["name"] = name or f"test trial {uuid.uuid4().hex[:8]}"
    return body


def patient_body(patient: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in patient.items() if k != "id"}


def make_trial(api: Api, document: dict[str, Any], *, with_patients: bool = True) -> int:
    """A new trial holding the document's protocol (and patients)."""
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=protocol(document))
        assert r.status_code == 201, r.text
        trial_id: int = r.json()["id"]
    if with_patients:
        with api.client("data-system") as c:
            for p in document.get("patients", []):
                r = c.put(f"/v1/trials/{trial_id}/patients/{p['id']}", json=patient_body(p))
                assert r.status_code == 201, r.text
    return trial_id
