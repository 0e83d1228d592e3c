"""The application factory.

``create_app(settings)`` builds the FastAPI application; at start-up it brings the database schema
to the current revision (Alembic), marks failed the simulation jobs a previous run left unfinished,
and starts the job runner; at shutdown it stops the runner and closes the connections. Under
``escalation serve --workers N`` the supervising process does those three things once and each
worker process serves ``create_worker_app()`` (``Settings.supervised``), which only serves.

Examples
--------
>>> from api.config import Settings
>>> from api.main import create_app
>>> app = create_app(Settings(database_url="sqlite:///./var/example.db"))
>>> sorted(r.path for r in app.routes if r.path.startswith("/v1/trials/{trial_id}/r"))
['/v1/trials/{trial_id}/recommendation', '/v1/trials/{trial_id}/recommendations']
"""

from __future__ import annotations

import dataclasses
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema
from starlette.types import ASGIApp

from api.bounds import state_todays_bounds
from api.config import AS_OF_TOLERANCE_DAYS, Settings
from api.deps import reject_unknown_query
from api.docs_offline import install_offline_docs
from api.fast_path import StoredRecommendations
from api.guard import Guard
from api.handlers import KeepAliveAfterErrors, install_error_handlers
from api.jobs import JobRunner, fail_interrupted
from api.routes import api_router
from api.routes._docs import DOCUMENT_BODY_KEY
from api.schemas import DOCUMENT_MODELS
from api.storage.db import Database
from api.ui import install_ui
from escalation import __version__

__all__ = ["create_app", "create_worker_app", "freeze_startup_objects"]

log = logging.getLogger(__name__)

DESCRIPTION = """\
The dose-escalation decision engine as a service, for the data system and the safety review
committee (SRC) of a phase I trial: trials, patients, recommendations stored with their data
snapshot and hashes, SRC decisions, an append-only hash-chained audit trail, simulation jobs.

Every endpoint but `/healthz` needs an API key: `Authorization: Bearer KEY`. Roles:
**data-system** writes patient data and reads it back; **src** reads and records decisions;
**statistician** reads, creates trials and runs simulations; **admin** does everything and manages
keys.

Errors are JSON: `{"error", "message", "problems": [{"field", "patient_id", "message"}]}`.
Lists are `{"items": [...], "limit", "offset", "next_offset"}`. Dose levels count from 1.
"""


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, with the engine-validated bodies documented by their models and the
    date bounds of the server's today (made again when the date changes)."""
    settings: Settings = app.state.settings
    today = settings.today()
    if app.openapi_schema is not None and getattr(app.state, "openapi_today", None) == today:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    _, defs = models_json_schema(
        [(m, "validation") for m in DOCUMENT_MODELS], ref_template="#/components/schemas/{model}"
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in defs.get("$defs", {}).items():
        components.setdefault(name, definition)
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            model = operation.pop(DOCUMENT_BODY_KEY, None) if isinstance(operation, dict) else None
            if model is None:
                continue
            content = operation["requestBody"]["content"]["application/json"]
            content["schema"] = {"$ref": f"#/components/schemas/{model}"}
            example = components[model].get("example")
            if example is not None:
                content["example"] = example
    state_todays_bounds(schema, today, AS_OF_TOLERANCE_DAYS)
    app.openapi_schema = schema
    app.state.openapi_today = today
    return schema


class _Service(FastAPI):
    """FastAPI with the stored-recommendation fast path in front of its whole middleware stack
    (``api.fast_path``): what it answers skips routing, dependencies and five middleware layers;
    everything else goes through the guard (``api.guard``: the key first, failed authentications
    limited, bodies bounded) and then the application as usual."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        guard = Guard(
            KeepAliveAfterErrors(super().build_middleware_stack()),
            db=self.state.db,
            auth_failure_limit=settings.auth_failure_limit,
            max_body_bytes=settings.max_body_bytes,
        )
        return StoredRecommendations(
            guard, db=self.state.db, today=settings.today, blocked=guard.blocked
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new application on the database named by ``settings`` (default: from the environment)."""
    settings = settings or Settings()
    db = Database(settings.database_url)
    jobs = JobRunner(
        settings.database_url,
        workers=settings.simulation_workers,
        runner=settings.simulation_runner,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # handlers run in worker threads: a few are enough (the database serializes SQLite
        # writes), and fewer threads contending for the GIL cost less CPU per request
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if not settings.supervised:
            db.migrate()
            fail_interrupted(db)
            jobs.start()
        log.info(
            "escalation service ready (database %s)",
            db.engine.url.render_as_string(hide_password=True),
        )
        try:
            yield
        finally:
            if not settings.supervised:
                jobs.stop()
            db.dispose()

    app = _Service(
        title="escalation",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served from local assets (api.docs_offline)
        redoc_url=None,
        dependencies=[Depends(reject_unknown_query)],
        openapi_tags=[
            {"name": "decisions", "description": "Stateless: a trial document in, a decision out"},
            {"name": "trials", "description": "Trials and their protocol"},
            {"name": "patients", "description": "The data system's patient records"},
            {"name": "recommendations", "description": "Stored, reproducible recommendations"},
            {"name": "SRC decisions", "description": "The safety review committee's decisions"},
            {"name": "audit", "description": "The append-only, hash-chained audit trail"},
            {"name": "simulations", "description": "Background simulation jobs"},
            {"name": "keys", "description": "API keys (admin)"},
            {"name": "health", "description": "Liveness and readiness"},
        ],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.jobs = jobs
    install_error_handlers(app)
    app.include_router(api_router)
    install_offline_docs(app)
    install_ui(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def create_worker_app() -> FastAPI:
    """The application of one HTTP worker process under ``escalation serve --workers N``
    (settings from the environment the supervising process set)."""
    app = create_app(dataclasses.replace(Settings(), supervised=True))
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Exempt what start-up made (modules, the app, mappers: about 170,000 objects) from garbage
    collection: a serving process keeps them all, and a full collection that walks them stops
    the event loop for about 85 ms (measured on the 2-core development machine), a pause every
    request in flight would wait out."""
    gc.collect()
    gc.freeze()
