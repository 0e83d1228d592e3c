"""A real browser for the committee's pages: Playwright driving Debian's Chromium.

No browser is downloaded (``playwright install`` is never run): the tests use /usr/bin/chromium,
which ``make test`` installs with apt-get when it is missing. Without it the tests skip, saying so,
except under CI=true, where they fail.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.services.admin import create_key
from tests.api.conftest import ROLES, Api, Server, make_trial, start_api
from tests.conftest import EXAMPLE

CHROMIUM = Path(os.environ.get("ESCALATION_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium not found at {CHROMIUM}: `apt-get install chromium` (make test does)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Demo:
    """A running service with the example trial and a key for every role."""

    api: Api
    trial_id: int
    example: dict[str, Any]


def start_demo(tmp: Path) -> tuple[Server, Api]:
    """The service on a new SQLite database with a key for every role (not yet started)."""
    server, db = start_api(f"sqlite:///{tmp / 'browser.db'}")
    keys = {role: create_key(db, role=role, name=f"dr {role}", actor="test")[1] for role in ROLES}
    return server, Api(server=server, db=db, keys=keys)


def example_document() -> dict[str, Any]:
    return copy.deepcopy(json.loads(EXAMPLE.read_text()))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_chromium()
    server, api = start_demo(tmp_path_factory.mktemp("browser"))
    example = example_document()
    with server:
        trial_id = make_trial(api, example)
        yield Demo(api=api, trial_id=trial_id, example=example)
    api.db.dispose()


@pytest.fixture(scope="module")
def browser(demo: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()
