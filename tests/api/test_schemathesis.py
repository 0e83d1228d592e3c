"""Schemathesis against the OpenAPI schema: generated requests (bounded) never get a 5xx, and
every response matches the schema (status code, content type, headers, body); requests that
violate the schema are rejected; requests the schema allows are accepted (ST202) unless a rule no
JSON schema can express refused them (a cross-field rule of the engine); endpoints refuse requests
without the key.

Run ``pytest -n 0 tests/api/test_schemathesis.py -q -s`` to see the number of cases and of ST202
rejections of each kind."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.errors import FailureGroup

from api.auth import hash_key, new_key
from api.config import Settings
from api.demo import load_demo_trial
from api.main import create_app
from api.storage.models import ApiKey, utcnow
from tests.api.conftest import Server, server_today, start_api
from tests.conftest import EXAMPLE

MAX_EXAMPLES = 8


@pytest.fixture(scope="module")
def st_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """A service of its own (generated requests may revoke keys), the demo trial loaded."""
    url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'st.db'}"
    server, db = start_api(url)
    with db.write() as s:  # the key the auth provider sends (cases are built at collection)
        s.add(
            ApiKey(
                name="schemathesis",
                role="admin",
                key_hash=hash_key(ADMIN_KEY),
                key_prefix=ADMIN_KEY[:10],
                created_at=utcnow(),
            )
        )
    load_demo_trial(db, Path(EXAMPLE), actor="test")
    with server:
        yield server, ADMIN_KEY
    db.dispose()


def without_stopping_expressions(openapi: dict[str, Any]) -> dict[str, Any]:
    """The schema without the design blocks' ``stopping`` expression (its all/any nest 4 deep:
    generating cases through those unions takes schemathesis tens of minutes per operation). The
    expression is checked by its own tests: tests/test_stopping_grammar.py (parser, field paths,
    logic) and tests/api/test_stopping_grammar_api.py (over HTTP)."""
    for component in openapi["components"]["schemas"].values():
        component.get("properties", {}).pop("stopping", None)
    return openapi


# the schema the service serves at /openapi.json (built without starting anything)
schema = schemathesis.openapi.from_dict(
    without_stopping_expressions(
        create_app(Settings(database_url="sqlite://", today=server_today)).openapi()
    )
)
ADMIN_KEY = new_key()


@schema.auth()
class AdminKey:
    """The admin key, sent as the schema's security scheme says (schemathesis also tries without)."""

    def get(self, case: schemathesis.Case, ctx: object) -> str:
        return ADMIN_KEY

    def set(self, case: schemathesis.Case, data: str, ctx: object) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, st_server: tuple[Server, str]) -> None:
    server, _ = st_server
    response = case.call(base_url=server.url)
    STATS["cases"] += 1
    try:
        case.validate_response(response)
    except FailureGroup as group:
        left = []
        for failure in group.exceptions:
            why = cross_field_rejection(failure, response.status_code, response.content)
            if why is None:
                left.append(failure)
            else:
                STATS[why] += 1
        if left:
            STATS["failures"] += 1
            raise FailureGroup(left, str(group)) from None


# what a JSON schema can say, and so the OpenAPI schema does: a rejection with one of these
# reasons means that the schema allowed a value the server refuses (ST202 counted as a failure)
SCHEMA_EXPRESSIBLE = re.compile(
    r"expected a whole number from|expected a number from|expected a finite number|is outside|"
    r"is after today|unknown field|unknown option|NUL characters|lone surrogate|longer than|"
    r"expected a string|expected true or false|malformed date|expected a date|expected an integer|"
    r"expected an object|expected a list|^missing$|not part of a trial's protocol"
)
STATS: Counter[str] = Counter()


def cross_field_rejection(failure: Exception, status: int, body: bytes) -> str | None:
    """Why a schema-valid request was rightly refused (None: the schema should have said so).

    A document the schema allows can break a rule between fields, which no JSON schema states:
    a DLT after its window, a dose level above the number of doses, patients and counts together,
    a recommendation of another trial; and a trial's protocol changes only with If-Match (428).
    """
    if getattr(failure, "code", None) != "ST202":
        return None
    if status == 428:
        return "ST202 allowed: If-Match required"
    if status != 422:
        return None
    problems: list[dict[str, Any]] = json.loads(body)["problems"]
    if any(SCHEMA_EXPRESSIBLE.search(p["message"]) for p in problems):
        return None
    return "ST202 allowed: cross-field rule"


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    """Print the numbers of cases, failures and allowed rejections (``-s`` shows them)."""
    yield
    print(f"\nschemathesis: {dict(sorted(STATS.items()))}")
