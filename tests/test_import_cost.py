"""Short commands stay short: importing the library (and the CLI that ``escalation --version``
runs) loads neither scipy nor PyMC nor matplotlib; each is imported where it is used. Checked on
the modules a fresh interpreter holds, not on a timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy", "pymc", "pytensor", "arviz", "matplotlib")


@pytest.mark.parametrize("module", ["escalation", "escalation.cli"])
def test_import_loads_no_heavy_library(module: str) -> None:
    code = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(out.stdout))
    assert "numpy" in loaded  # the check sees what was imported
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_a_posterior_imports_scipy_special_when_needed() -> None:
    code = (
        "import sys; import escalation; "
        "assert 'scipy.special' not in sys.modules; "
        "escalation.CRM(n_doses=3, target=0.3, skeleton=[0.1, 0.2, 0.3]).decide("
        "escalation.TrialData.from_counts([3, 0, 0], [0, 0, 0], current_level=1)); "
        "print('scipy.special' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "True"
