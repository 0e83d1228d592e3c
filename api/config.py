"""Service settings: where the database is, how simulation jobs run.

Settings come from keyword arguments (tests, ``escalation serve`` options) or from the environment
(``ESCALATION_DATABASE_URL``, ``ESCALATION_SIMULATION_WORKERS``); nothing else is global.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AS_OF_TOLERANCE_DAYS", "DEFAULT_DATABASE_URL", "Settings", "normalize_database_url"]

#: how far past the server's today an ``as_of`` may lie (the caller's time zone may be ahead);
#: infusions, DLTs and withdrawals must not lie after the server's today at all
AS_OF_TOLERANCE_DAYS = 1

DEFAULT_DATABASE_URL = "sqlite:///./var/escalation.db"


def normalize_database_url(url: str) -> str:
    """The SQLAlchemy URL for ``url``: ``postgresql://`` means psycopg 3 (``postgresql+psycopg://``)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _default_url() -> str:
    return os.environ.get("ESCALATION_DATABASE_URL", DEFAULT_DATABASE_URL)


def _default_workers() -> int:
    return int(os.environ.get("ESCALATION_SIMULATION_WORKERS", "1"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Everything the application needs to start.

    Parameters
    ----------
    database_url
        SQLAlchemy URL: ``sqlite:///path.db`` (default ``./var/escalation.db``) or
        ``postgresql+psycopg://user@host:port/db``.
    simulation_workers
        How many simulation jobs run at once, each in its own worker process.
    simulation_runner
        ``module:function`` that runs a simulation spec (``simulations:run_simulation``).
    simulation_validator
        ``module:function`` that validates a spec when it is submitted, raising an error with
        ``.problems`` (``simulations:parse_spec``); None leaves validation to the job.
    threads
        Worker threads for request handlers (``ESCALATION_THREADS``, default 8).
    auth_failure_limit
        Failed authentications a client may make in a minute before it gets 429
        (``ESCALATION_AUTH_FAILURE_LIMIT``, default 20; per worker process).
    max_body_bytes
        The largest request body accepted, in bytes (``ESCALATION_MAX_BODY_BYTES``, default
        1,000,000); a larger one gets 413.
    max_simulation_trials
        The most simulated trials one job may ask for, trials x scenarios x designs
        (``ESCALATION_MAX_SIMULATION_TRIALS``, default 1,000,000); more gets 422.
    supervised
        The application is one of the HTTP worker processes of ``escalation serve --workers N``:
        the supervising process brought the schema up to date, marked interrupted jobs failed and
        runs the simulation jobs, so this application only serves (and queues jobs).
    today
        The server's clock: today's date (``datetime.date.today``). The default ``as_of`` of a
        recommendation, and the latest date a patient's infusion, DLT or withdrawal may have;
        tests give a fixed one.
    """

    database_url: str = field(default_factory=_default_url)
    simulation_workers: int = field(default_factory=_default_workers)
    simulation_runner: str = "simulations:run_simulation"
    simulation_validator: str | None = "simulations:parse_spec"
    threads: int = field(default_factory=lambda: int(os.environ.get("ESCALATION_THREADS", "8")))
    auth_failure_limit: int = field(
        default_factory=lambda: int(os.environ.get("ESCALATION_AUTH_FAILURE_LIMIT", "20"))
    )
    max_body_bytes: int = field(
        default_factory=lambda: int(os.environ.get("ESCALATION_MAX_BODY_BYTES", "1000000"))
    )
    max_simulation_trials: int = field(
        default_factory=lambda: int(os.environ.get("ESCALATION_MAX_SIMULATION_TRIALS", "1000000"))
    )
    supervised: bool = False
    today: Callable[[], dt.date] = dt.date.today

    def __post_init__(self) -> None:
        object.__setattr__(self, "database_url", normalize_database_url(self.database_url))
        if self.simulation_workers < 1:
            raise ValueError("simulation_workers must be >= 1")
        if self.threads < 1:
            raise ValueError("threads must be >= 1")
        if self.auth_failure_limit < 1 or self.max_body_bytes < 1:
            raise ValueError("auth_failure_limit and max_body_bytes must be >= 1")

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for a file SQLite URL, else None."""
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            return None
        rest = self.database_url[len(prefix) :].split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest)
