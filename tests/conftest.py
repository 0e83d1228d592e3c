"""Shared fixtures: trial documents and the installed console script."""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

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
