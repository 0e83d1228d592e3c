"""The examples in the harness's docstrings run as shown."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import simulations

MODULES = sorted(m.name for m in pkgutil.walk_packages(simulations.__path__, prefix="simulations."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
