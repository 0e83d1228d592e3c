"""Optimistic locking under concurrent writers: one write wins, the others get 409, never a
silent overwrite; the audit chain stays one unbroken chain."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from api.storage.audit import verify
from tests.api.conftest import Api, make_trial, patient_body, protocol

N_WRITERS = 8


def together(
    api: Api, role: str, call: Callable[[httpx.Client, int], httpx.Response]
) -> list[httpx.Response]:
    """Run ``call`` from N_WRITERS threads released at the same moment, each with its client."""
    barrier = threading.Barrier(N_WRITERS)
    clients = [api.client(role) for _ in range(N_WRITERS)]

    def run(i: int) -> httpx.Response:
        barrier.wait()
        return call(clients[i], i)

    try:
        with ThreadPoolExecutor(N_WRITERS) as pool:
            return list(pool.map(run, range(N_WRITERS)))
    finally:
        for c in clients:
            c.close()


def test_concurrent_patient_corrections_one_wins(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    url = f"/v1/trials/{trial_id}/patients/P010"
    base = patient_body(example["patients"][9])

    def correct(c: httpx.Client, i: int) -> httpx.Response:
        record = base | {"dlt": True, "dlt_on": f"2026-07-{2 + i:02d}"}  # each writer its own
        return c.put(url, json=record, headers={"If-Match": '"1"'})

    responses = together(api, "data-system", correct)
    codes = Counter(r.status_code for r in responses)
    assert codes == {200: 1, 409: N_WRITERS - 1}, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    with api.client("src") as c:
        now = c.get(url).json()
        audit = c.get(f"/v1/trials/{trial_id}/audit", params={"limit": 500}).json()["items"]
    assert now["version"] == 2 and now["dlt_on"] == winner["dlt_on"]
    updates = [e for e in audit if e["entity_id"] == "P010" and e["action"] == "patient.update"]
    assert len(updates) == 1 and updates[0]["after"]["dlt_on"] == winner["dlt_on"]


def test_concurrent_identical_upserts_make_one_record(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example, with_patients=False)
    record = patient_body(example["patients"][0])
    responses = together(
        api, "data-system", lambda c, i: c.put(f"/v1/trials/{trial_id}/patients/P001", json=record)
    )
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 200: N_WRITERS - 1}, [r.text for r in responses]
    assert {r.json()["version"] for r in responses} == {1}
    with api.client("src") as c:
        audit = c.get(f"/v1/trials/{trial_id}/audit").json()["items"]
    assert [e["action"] for e in audit] == ["trial.create", "patient.create"]


def test_concurrent_trial_updates_one_wins(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example, with_patients=False)

    def update(c: httpx.Client, i: int) -> httpx.Response:
        body = protocol(example, name=f"writer {i}")
        return c.put(f"/v1/trials/{trial_id}", json=body, headers={"If-Match": '"1"'})

    responses = together(api, "statistician", update)
    assert Counter(r.status_code for r in responses) == {200: 1, 409: N_WRITERS - 1}


def test_concurrent_src_decisions_one_answer(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-20"}).json()
    responses = together(
        api,
        "src",
        lambda c, i: c.post(
            f"/v1/trials/{trial_id}/decisions",
            json={"recommendation_id": rec["id"], "action": "accept", "rationale": f"member {i}"},
        ),
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: N_WRITERS - 1}


def test_concurrent_recommendations_are_one_stored_row(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    responses = together(
        api,
        "src",
        lambda c, i: c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": "2026-08-19"}),
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1


def test_audit_chain_intact_after_concurrent_writes(api: Api, example: dict[str, Any]) -> None:
    trial_ids = [make_trial(api, example, with_patients=False) for _ in range(2)]

    def write(c: httpx.Client, i: int) -> httpx.Response:
        p = example["patients"][i]
        return c.put(f"/v1/trials/{trial_ids[i % 2]}/patients/{p['id']}", json=patient_body(p))

    responses = together(api, "data-system", write)
    assert {r.status_code for r in responses} == {201}
    with api.db.read() as s:
        n, problem = verify(s)
    assert problem is None and n > N_WRITERS
