"""Short commands stay short: importing the library (and the CLI that ``escalation --version``
runs) loads neither scipy nor PyMC nor matplotlib; each is imported where it is used; the public
names are imported on first use. Checked on the modules a fresh interpreter holds, not on a
timing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("scipy", "pymc", "pytensor", "arviz", "matplotlib")


@pytest.mark.parametrize(
    "statement", ["from escalation import *", "import escalation.cli", "import simulations.cli"]
)
def test_import_loads_no_heavy_library(statement: str) -> None:
    """Every public name of the library, the CLI, and the harness's command registration."""
    code = (
        f"import json, sys; {statement}; "
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


def test_import_escalation_alone_imports_no_submodule() -> None:
    code = "import json, sys; import escalation; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = set(json.loads(out.stdout))
    assert "escalation" in loaded
    assert not {m for m in loaded if m.startswith("escalation.")}
    assert "numpy" not in loaded


def test_every_public_name_has_its_lazy_source_and_type_checking_import() -> None:
    """The lazy table (_SOURCES) and the imports type checkers read say the same, and cover
    __all__."""
    import ast
    from pathlib import Path

    import escalation

    tree = ast.parse(Path(escalation.__file__).read_text())
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("escalation")
        ):
            for alias in node.names:
                checked[alias.asname or alias.name] = node.module
    lazy = {n: m for m, names in escalation._SOURCES.items() for n in names}
    assert checked == lazy
    assert set(escalation.__all__) == set(lazy) | {"__version__"}
    for name in escalation.__all__:
        assert getattr(escalation, name) is not None
    with pytest.raises(AttributeError):
        escalation.NotAName  # noqa: B018


def test_the_console_script_prints_the_version_without_the_library() -> None:
    code = (
        "import sys; from escalation._console import main; main(['--version']); "
        "print(sorted(m for m in sys.modules if m.startswith('escalation.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    version, modules = out.stdout.splitlines()
    assert version.startswith("escalation ")
    assert modules == "['escalation._console']"
