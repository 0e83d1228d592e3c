"""The examples in the docstrings of the core library and the simulation harness run and show
what they print."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import escalation
import simulations

MODULES = sorted(
    info.name
    for package in (escalation, simulations)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
