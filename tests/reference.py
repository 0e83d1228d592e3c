"""Loaders for the reference values computed with the R implementations.

The files live in the repository, in ``tests/data/reference/`` (their provenance is in the README
there), so that a fresh clone tests on its own. ``ESCALATION_REFERENCE_DIR`` points elsewhere, for
example at a newer delivery of the same files. A missing file is an error, never a skip: these
values are the engine's independent check.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "tests" / "data" / "reference"


def reference_dir() -> Path:
    """The folder of reference files: ``ESCALATION_REFERENCE_DIR`` or the bundled copy."""
    override = os.environ.get("ESCALATION_REFERENCE_DIR")
    path = Path(override) if override else BUNDLED
    if not path.is_dir():
        raise FileNotFoundError(
            f"reference directory {path} not found (ESCALATION_REFERENCE_DIR={override!r}); "
            f"the bundled copy is {BUNDLED}"
        )
    return path


@cache
def load(name: str) -> Any:
    """The parsed JSON of one reference file, e.g. ``load("boin_boundaries.json")``."""
    return json.loads((reference_dir() / name).read_text(encoding="utf-8"))
