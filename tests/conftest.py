"""Shared fixtures: trial documents and the installed console script."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# CI runs the same examples every time (a failure there reproduces locally with HYPOTHESIS_PROFILE=ci)
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# the audit chain's key (api.storage.audit.load_key): one for the whole test session, servers
# started as subprocesses included, so that no test writes ./var/audit.key
os.environ.setdefault("ESCALATION_AUDIT_KEY", "test-audit-key-" + "5" * 48)
# the access-control tests make many failed authentications from one address on purpose; the
# limit itself is tested with a server of its own (tests/api/test_guard.py)
os.environ.setdefault("ESCALATION_AUTH_FAILURE_LIMIT", "1000000")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "lcar_aio_example.json"


@pytest.fixture
def example_doc() -> dict[str, Any]:
    """The bundled example trial document (a fresh copy each time)."""
    return copy.deepcopy(json.loads(EXAMPLE.read_text()))


@pytest.fixture(scope="session")
def console_script() -> str:
    """Path of the installed ``escalation`` console script (next to the running interpreter)."""
    candidate = Path(sys.executable).parent / "escalation"
    found = str(candidate) if candidate.exists() else shutil.which("escalation")
    if not found:
        pytest.fail("the escalation console script is not installed: run `make test`")
    return found


def boin_doc(
    patients: list[dict[str, Any]], *, as_of: str = "2026-06-01", **design: Any
) -> dict[str, Any]:
    """A small BOIN document with five levels."""
    return {
        "design": {"method": "boin", "target": 0.3, **design},
        "doses": [{"level": k, "label": f"L{k}"} for k in range(1, 6)],
        "as_of": as_of,
        "patients": patients,
    }
