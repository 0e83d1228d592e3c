"""The stored-recommendation fast path answers exactly what the route would answer, and hands
every other request to the route."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Connection, text
from starlette.types import Message, Receive, Scope, Send

from api.config import Settings
from api.fast_path import StoredRecommendations
from api.main import create_app
from api.services.admin import create_key, revoke_key
from api.services.recommendations import Lookup, lookup_on
from api.storage.db import Database
from tests.api.conftest import SERVER_TODAY, Api, make_trial, patient_body, server_today

HANDED_ON = 599  # what the stand-in for the application answers


@pytest.fixture
def route_only(api: Api) -> Iterator[FastAPI]:
    """The same application on the same database, without the fast path."""
    app = create_app(Settings(database_url=api.db.url, today=server_today))
    app.middleware_stack = FastAPI.build_middleware_stack(app)  # without the fast path in front
    assert not isinstance(app.middleware_stack, StoredRecommendations)
    yield app
    app.state.db.dispose()


def through(app: FastAPI, method: str, url: str, headers: dict[str, str]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            return await c.request(method, url, headers=headers)

    return asyncio.run(call())


def headers_of(response: httpx.Response) -> list[tuple[str, str]]:
    """The application's headers (without those uvicorn adds; a redirect's location without the
    host, which differs between the two clients)."""
    return [
        (k, httpx.URL(v).raw_path.decode() if k == "location" else v)
        for k, v in response.headers.multi_items()
        if k not in ("date", "server")
    ]


def fast_path_alone(
    api: Api,
    method: str,
    url: str,
    headers: dict[str, str],
    *,
    db: Database | None = None,
    fast: StoredRecommendations | None = None,
) -> tuple[int, Any]:
    """The fast path (``fast``, or a new one, on ``db``) in front of a stand-in that answers 599:
    (status, body or None)."""
    handed_on = False

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal handed_on
        handed_on = True
        await send({"type": "http.response.start", "status": HANDED_ON, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    path, _, query = url.partition("?")
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    if fast is None:
        fast = StoredRecommendations(app, db=db or api.db, today=server_today)
    else:
        fast.app = app
    asyncio.run(fast(scope, receive, send))
    status = sent[0]["status"]
    assert handed_on == (status == HANDED_ON)
    return status, (sent[1]["body"] if not handed_on else None)


@pytest.fixture
def stored(api: Api, example: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """A trial and its recommendation as of the example's date, stored."""
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": example["as_of"]})
    assert r.status_code == 200, r.text
    return trial_id, r.json()


def test_a_stored_recommendation_is_answered_as_the_route_answers_it(
    api: Api, route_only: FastAPI, stored: tuple[int, dict[str, Any]]
) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    status, body = fast_path_alone(api, "GET", url, headers)
    assert status == 200  # answered without the application
    with api.client("src") as c:
        fast = c.get(url)
    route = through(route_only, "GET", url, headers)
    assert fast.status_code == route.status_code == 200
    assert fast.content == route.content == body
    assert fast.json() == rec
    assert headers_of(fast) == headers_of(route)
    assert fast.headers["location"] == f"/v1/recommendations/{rec['id']}"


def test_today_is_the_default_date_on_the_fast_path_too(
    api: Api, route_only: FastAPI, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/recommendation"
    headers = {"Authorization": f"Bearer {api.keys['statistician']}"}
    made = through(route_only, "GET", url, headers)  # made and stored by the route
    assert made.status_code == 200 and made.json()["as_of"] == SERVER_TODAY.isoformat()
    status, body = fast_path_alone(api, "GET", url, headers)
    assert (status, body) == (200, made.content)


HANDED_ON_CASES = [
    pytest.param("src", "/v1/trials/{id}/recommendation?as_of=2026-08-21", id="not stored yet"),
    pytest.param(
        "src", "/v1/trials/{id}/recommendation?as_of=2026-08-20&x=1", id="another parameter"
    ),
    pytest.param(
        "src", "/v1/trials/{id}/recommendation?asof=2026-08-20", id="a misspelt parameter"
    ),
    pytest.param("src", "/v1/trials/{id}/recommendation?as_of=2026-02-30", id="not a date"),
    pytest.param("src", "/v1/trials/{id}/recommendation?as_of=3000-01-01", id="out of range"),
    pytest.param(
        "src", "/v1/trials/{id}/recommendation?as_of=2026%2D08%2D20", id="percent-encoded"
    ),
    pytest.param("src", "/v1/trials/{id}/recommendation/?as_of=2026-08-20", id="a trailing slash"),
    pytest.param("src", "/v1/trials/0{id}/recommendation?as_of=2026-08-20", id="a leading zero"),
    pytest.param("src", "/v1/trials/424242/recommendation?as_of=2026-08-20", id="no such trial"),
    pytest.param(
        "src", "/v1/trials/99999999999/recommendation?as_of=2026-08-20", id="id out of range"
    ),
    pytest.param(
        "data-system", "/v1/trials/{id}/recommendation?as_of=2026-08-20", id="may not read"
    ),
    pytest.param(None, "/v1/trials/{id}/recommendation?as_of=2026-08-20", id="no key"),
    pytest.param("unknown", "/v1/trials/{id}/recommendation?as_of=2026-08-20", id="an unknown key"),
    pytest.param("revoked", "/v1/trials/{id}/recommendation?as_of=2026-08-20", id="a revoked key"),
    pytest.param(
        "lowercase", "/v1/trials/{id}/recommendation?as_of=2026-08-20", id="bearer, lowercase"
    ),
]


@pytest.mark.parametrize(("role", "url"), HANDED_ON_CASES)
def test_everything_else_is_handed_to_the_route(
    api: Api,
    route_only: FastAPI,
    stored: tuple[int, dict[str, Any]],
    role: str | None,
    url: str,
) -> None:
    trial_id, _ = stored
    url = url.replace("{id}", str(trial_id))
    headers = {}
    if role == "unknown":
        headers["Authorization"] = "Bearer esk_" + "A" * 43
    elif role == "revoked":
        record, key = create_key(api.db, role="src", name="to revoke", actor="test")
        revoke_key(api.db, record.id, actor="test")
        headers["Authorization"] = f"Bearer {key}"
    elif role == "lowercase":
        headers["Authorization"] = f"bearer {api.keys['src']}"
    elif role is not None:
        headers["Authorization"] = f"Bearer {api.keys[role]}"
    status, _ = fast_path_alone(api, "GET", url, headers)
    assert status == HANDED_ON
    with httpx.Client(base_url=api.url, headers=headers, timeout=60) as c:
        served = c.get(url)
    route = through(route_only, "GET", url, headers)
    assert served.status_code == route.status_code
    assert served.content == route.content
    assert headers_of(served) == headers_of(route)


def test_only_get_is_answered(api: Api, stored: tuple[int, dict[str, Any]]) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    assert fast_path_alone(api, "HEAD", url, headers)[0] == HANDED_ON
    assert fast_path_alone(api, "POST", url, headers)[0] == HANDED_ON


def test_the_service_has_the_fast_path_in_front(api: Api) -> None:
    with api.client() as c:
        c.get("/healthz").raise_for_status()  # the stack is built on the first request
    assert isinstance(api.server.app.middleware_stack, StoredRecommendations)


def test_a_failing_read_hands_the_request_on(
    api: Api, stored: tuple[int, dict[str, Any]], tmp_path: Path
) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    empty = Database(f"sqlite:///{tmp_path / 'no-tables.db'}")  # every read fails
    try:
        assert fast_path_alone(api, "GET", url, headers, db=empty)[0] == HANDED_ON
    finally:
        empty.dispose()


def data_version(db: Database, trial_id: int) -> int:
    with db.connect() as conn:
        version: int = conn.execute(
            text("SELECT data_version FROM trials WHERE id = :id"), {"id": trial_id}
        ).scalar_one()
    return version


def change(db: Database, statement: str, **params: Any) -> None:
    """A hand-written change, made outside the service (as a script or a console would)."""
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_the_database_raises_the_data_version_on_every_change(
    api: Api, example: dict[str, Any], stored: tuple[int, dict[str, Any]]
) -> None:
    started_us = time.time_ns() // 1000
    trial_id = make_trial(api, example, with_patients=False)
    seen = [data_version(api.db, trial_id)]
    assert seen[0] >= started_us - 1_000_000  # a new trial starts at the clock

    def rose(by: int | None = None) -> bool:
        seen.append(data_version(api.db, trial_id))
        return seen[-1] > seen[-2] if by is None else seen[-1] == seen[-2] + by

    p = example["patients"][0]
    with api.client("data-system") as c:
        r = c.put(f"/v1/trials/{trial_id}/patients/{p['id']}", json=patient_body(p))
        assert r.status_code == 201, r.text
        assert rose()  # a new patient
        r = c.put(f"/v1/trials/{trial_id}/patients/{p['id']}", json=patient_body(p))
        assert r.status_code == 200, r.text
        assert not rose()  # the same record again changes nothing
    where = "trial_id = :t AND patient_id = :p"
    change(api.db, f"UPDATE patients SET dlt = NOT dlt WHERE {where}", t=trial_id, p=p["id"])
    assert rose(by=1)  # a patient changed by hand
    change(api.db, f"DELETE FROM patients WHERE {where}", t=trial_id, p=p["id"])
    assert rose(by=1)  # a patient deleted by hand
    change(api.db, "UPDATE trials SET dlt_window_days = 28 WHERE id = :t", t=trial_id)
    assert rose(by=1)  # the protocol changed by hand
    change(api.db, "UPDATE trials SET data_version = data_version + 5 WHERE id = :t", t=trial_id)
    assert rose(by=5)  # set higher by hand: a value this trial never had, counted once
    change(api.db, "UPDATE trials SET data_version = 7, name = 'x' WHERE id = :t", t=trial_id)
    assert rose(by=1)  # set lower by hand: it rises all the same

    # the stored recommendations count too: deleting one by hand, or changing its body
    other, rec = stored
    before = data_version(api.db, other)
    change(api.db, "UPDATE recommendations SET created_by = 'x' WHERE id = :r", r=rec["id"])
    assert data_version(api.db, other) == before + 1
    change(api.db, "DELETE FROM recommendations WHERE id = :r", r=rec["id"])
    assert data_version(api.db, other) == before + 2


def count_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The trial ids of the fast path's full lookups (snapshot, hashes, stored one), from now on."""
    calls: list[int] = []

    def counted(conn: Connection, trial_id: int, as_of: dt.date) -> Lookup:
        calls.append(trial_id)
        return lookup_on(conn, trial_id, as_of)

    monkeypatch.setattr("api.fast_path.lookup_on", counted)
    return calls


def test_what_is_remembered_is_never_served_for_changed_data(
    api: Api,
    example: dict[str, Any],
    stored: tuple[int, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    fast = StoredRecommendations(lambda *_: None, db=api.db, today=server_today)  # type: ignore[arg-type]
    lookups = count_lookups(monkeypatch)
    first = fast_path_alone(api, "GET", url, headers, fast=fast)
    assert first[0] == 200 and json.loads(first[1]) == rec
    assert len(fast._served) == 1 and len(lookups) == 1
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == first
    assert len(lookups) == 1  # from memory: the patients were not read again

    # a DLT recorded by hand, outside the service: the stored recommendation is no longer the
    # one for these data, and the new one is not made yet
    patient = next(p for p in example["patients"] if not p.get("dlt"))
    set_dlt = "UPDATE patients SET dlt = :dlt, dlt_on = :on WHERE trial_id = :t AND patient_id = :p"
    day_5 = dt.date.fromisoformat(patient["infused_on"]) + dt.timedelta(days=5)
    change(api.db, set_dlt, dlt=True, on=day_5, t=trial_id, p=patient["id"])
    assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == HANDED_ON
    with api.client("src") as c:
        made = c.get(url)
    assert made.status_code == 200 and made.json()["id"] != rec["id"]
    assert made.json()["data_hash"] != rec["data_hash"]
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == (200, made.content)

    # changed back: the data are those of the first recommendation again, and so is the answer
    change(api.db, set_dlt, dlt=False, on=None, t=trial_id, p=patient["id"])
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == first

    # the stored recommendation deleted by hand (to have it made again): not sent from memory
    n = len(lookups)
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == first
    assert len(lookups) == n  # remembered
    change(api.db, "DELETE FROM recommendations WHERE id = :r", r=rec["id"])
    assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == HANDED_ON
    with api.client("src") as c:
        again = c.get(url)
    assert again.status_code == 200 and again.json()["id"] not in (rec["id"], made.json()["id"])
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == (200, again.content)


def test_a_failing_read_forgets_what_was_remembered(
    api: Api, stored: tuple[int, dict[str, Any]], tmp_path: Path
) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    fast = StoredRecommendations(lambda *_: None, db=api.db, today=server_today)  # type: ignore[arg-type]
    assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == 200
    assert len(fast._served) == 1
    fast.db = Database(f"sqlite:///{tmp_path / 'no-tables.db'}")  # every read fails
    try:
        assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == HANDED_ON
    finally:
        fast.db.dispose()
    assert not fast._served


def test_a_revoked_key_is_refused_even_when_the_answer_is_remembered(
    api: Api, stored: tuple[int, dict[str, Any]]
) -> None:
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    record, key = create_key(api.db, role="src", name="revoked later", actor="test")
    headers = {"Authorization": f"Bearer {key}"}
    fast = StoredRecommendations(lambda *_: None, db=api.db, today=server_today)  # type: ignore[arg-type]
    assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == 200
    revoke_key(api.db, record.id, actor="test")
    assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == HANDED_ON
    with httpx.Client(base_url=api.url, headers=headers, timeout=60) as c:
        assert c.get(url).status_code == 401


def test_only_the_latest_answers_are_remembered(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    fast = StoredRecommendations(lambda *_: None, db=api.db, today=server_today, remembered=2)  # type: ignore[arg-type]
    days = ["2026-08-20", "2026-08-21", "2026-08-22"]
    with api.client("src") as c:
        for day in days:
            c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": day}).raise_for_status()
    for day in days:
        url = f"/v1/trials/{trial_id}/recommendation?as_of={day}"
        assert fast_path_alone(api, "GET", url, headers, fast=fast)[0] == 200
    assert [k[1].isoformat() for k in fast._served] == days[1:]


def test_making_a_recommendation_keeps_what_was_remembered(
    api: Api, stored: tuple[int, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new recommendation is written in one INSERT, body included: it changes no stored one,
    so the data version stays and the answers remembered for other dates are still sent."""
    trial_id, rec = stored
    url = f"/v1/trials/{trial_id}/recommendation?as_of={rec['as_of']}"
    headers = {"Authorization": f"Bearer {api.keys['src']}"}
    fast = StoredRecommendations(lambda *_: None, db=api.db, today=server_today)  # type: ignore[arg-type]
    first = fast_path_alone(api, "GET", url, headers, fast=fast)
    version = data_version(api.db, trial_id)
    with api.client("src") as c:
        made = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-21"})
    assert made.status_code == 200 and made.json()["id"] != rec["id"]
    assert data_version(api.db, trial_id) == version
    lookups = count_lookups(monkeypatch)
    assert fast_path_alone(api, "GET", url, headers, fast=fast) == first
    assert not lookups
    with api.client("src") as c:
        by_id = c.get(f"/v1/recommendations/{made.json()['id']}")
    assert by_id.content == made.content
