"""Layering: the core imports neither the service nor the harness, nor web or database libraries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = {
    "api",
    "simulations",
    "fastapi",
    "starlette",
    "pydantic",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "uvicorn",
    "httpx",
    "requests",
    "pandas",
    "matplotlib",
    "dask",
    "distributed",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


CORE_FILES = sorted((REPO / "escalation").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_outer_layer(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN_IN_CORE}
    assert not bad, f"{path.relative_to(REPO)} imports {sorted(bad)}"


def test_pymc_only_imported_inside_functions() -> None:
    """PyMC is heavy: never imported at module level in the core."""
    for path in CORE_FILES:
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                assert not any(m.split(".")[0] in {"pymc", "arviz", "pytensor"} for m in mods), path


def test_outer_layers_use_only_the_public_interface() -> None:
    """api/ and simulations/ import names exported by escalation/__init__.py only."""
    import escalation

    public = set(escalation.__all__)
    for package in ("api", "simulations"):
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ImportFrom)
                    and node.module
                    and node.module.startswith("escalation")
                ):
                    assert node.module == "escalation", f"{path}: imports private {node.module}"
                    assert {a.name for a in node.names} <= public, path
