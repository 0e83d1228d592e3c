"""In continuous integration an unreachable PostgreSQL fails the PostgreSQL tests; elsewhere they
are skipped. Checked on one quick test run in a pytest subprocess against a closed port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import in_ci

REPO = Path(__file__).resolve().parents[2]
TEST = "tests/api/test_service.py::test_healthz_needs_no_key[postgresql]"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


def _run(ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["ESCALATION_TEST_POSTGRES"] = (
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test"
    )
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider", "-rfs"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=env,
    )


def test_unreachable_postgres_fails_in_ci() -> None:
    out = _run("true")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 error" in out.stdout or "1 failed" in out.stdout, out.stdout
    assert "PostgreSQL unreachable" in out.stdout
    assert "the PostgreSQL tests must run" in out.stdout


def test_unreachable_postgres_is_skipped_outside_ci() -> None:
    out = _run(None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 skipped" in out.stdout and "PostgreSQL unreachable" in out.stdout


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("True", True), ("1", True), ("yes", True), ("false", False), ("", False)],
)
def test_what_counts_as_ci(value: str, expected: bool) -> None:
    assert in_ci({"CI": value}) is expected
    assert in_ci({}) is False
