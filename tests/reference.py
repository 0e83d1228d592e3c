"""Loaders for the reference values computed with the R implementations (../shared/reference).

The directory sits beside the repository (``<repo>/../shared/reference``), in CI as in development;
``ESCALATION_REFERENCE_DIR`` overrides it. A missing directory is an error, never a skip: these
values are the engine's independent check.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def reference_dir() -> Path:
    override = os.environ.get("ESCALATION_REFERENCE_DIR")
    path = Path(override) if override else REPO.parent / "shared" / "reference"
    if not path.is_dir():
        raise FileNotFoundError(
            f"reference directory {path} not found: the R reference values live in "
            "../shared/reference beside the repository (or set ESCALATION_REFERENCE_DIR)"
        )
    return path


@cache
def load(name: str) -> Any:
    """The parsed JSON of one reference file, e.g. ``load("boin_boundaries.json")``."""
    return json.loads((reference_dir() / name).read_text(encoding="utf-8"))
