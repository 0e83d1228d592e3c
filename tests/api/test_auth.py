"""Keys and roles: every endpoint but /healthz refuses a request without a valid key, and each
role reaches exactly what the issue grants it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.main import create_app
from tests.api.conftest import Api

READ, READ_PATIENTS, PATIENTS, DECIDE, TRIALS, SIMULATE, KEYS = (
    "read",
    "read patients",
    "write patients",
    "decide",
    "write trials",
    "simulate",
    "manage keys",
)
# the rights of each role, as issue 5 states them (issue 10: the data system reads back the
# patients it writes)
GRANTS = {
    "data-system": {PATIENTS, READ_PATIENTS},
    "src": {READ, READ_PATIENTS, DECIDE},
    "statistician": {READ, READ_PATIENTS, TRIALS, SIMULATE},
    "admin": {READ, READ_PATIENTS, PATIENTS, DECIDE, TRIALS, SIMULATE, KEYS},
}
# every operation and the right it needs (None: any valid key)
OPERATIONS: dict[tuple[str, str], str | None] = {
    ("GET", "/readyz"): None,
    ("POST", "/v1/decisions"): READ,
    ("POST", "/v1/trials"): TRIALS,
    ("GET", "/v1/trials"): READ,
    ("GET", "/v1/trials/{trial_id}"): READ,
    ("PUT", "/v1/trials/{trial_id}"): TRIALS,
    ("PUT", "/v1/trials/{trial_id}/patients/{patient_id}"): PATIENTS,
    ("GET", "/v1/trials/{trial_id}/patients"): READ_PATIENTS,
    ("GET", "/v1/trials/{trial_id}/patients/{patient_id}"): READ_PATIENTS,
    ("GET", "/v1/trials/{trial_id}/recommendation"): READ,
    ("GET", "/v1/trials/{trial_id}/recommendations"): READ,
    ("GET", "/v1/recommendations/{recommendation_id}"): READ,
    ("GET", "/v1/recommendations/{recommendation_id}/reproduce"): READ,
    ("GET", "/v1/trials/{trial_id}/final-selection"): READ,
    ("GET", "/v1/trials/{trial_id}/paths"): READ,
    ("POST", "/v1/trials/{trial_id}/decisions"): DECIDE,
    ("GET", "/v1/trials/{trial_id}/decisions"): READ,
    ("GET", "/v1/trials/{trial_id}/audit"): READ,
    ("GET", "/v1/audit"): KEYS,
    ("POST", "/v1/simulations"): SIMULATE,
    ("GET", "/v1/simulations"): READ,
    ("GET", "/v1/simulations/{job_id}"): READ,
    ("DELETE", "/v1/simulations/{job_id}"): SIMULATE,
    ("POST", "/v1/keys"): KEYS,
    ("GET", "/v1/keys"): KEYS,
    ("DELETE", "/v1/keys/{key_id}"): KEYS,
}
UNKNOWN_ID = "987654"


def schema_operations() -> set[tuple[str, str]]:
    schema = create_app().openapi()
    return {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    }


def test_the_table_covers_every_operation_in_the_schema() -> None:
    assert schema_operations() == set(OPERATIONS) | {("GET", "/healthz")}


def request(client: httpx.Client, method: str, path: str) -> httpx.Response:
    url = path.format(
        trial_id=UNKNOWN_ID,
        patient_id="P001",
        recommendation_id=UNKNOWN_ID,
        job_id=UNKNOWN_ID,
        key_id=UNKNOWN_ID,
    )
    body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
    if path == "/v1/simulations":
        body = {"n": 1}
    return client.request(method, url, json=body)


def test_no_key_or_a_bad_key_is_401_on_every_endpoint(api: Api) -> None:
    failures = []
    for headers in ({}, {"Authorization": "Bearer esk_not-a-key"}, {"Authorization": "Basic eDp5"}):
        with httpx.Client(base_url=api.url, headers=headers, verify=False) as c:
            for method, path in sorted(OPERATIONS):
                r = request(c, method, path)
                if (
                    r.status_code != 401
                    or r.json()["problems"][0]["field"] != "Authorization"
                    or r.headers.get("WWW-Authenticate") != "Bearer"
                ):
                    failures.append((headers, method, path, r.status_code, r.text))
    assert not failures


def test_a_revoked_key_is_401(api: Api) -> None:
    from api.services.admin import create_key, revoke_key

    record, key = create_key(api.db, role="admin", name="to revoke", actor="test")
    with api.client(key=key) as c:
        assert c.get("/readyz").status_code == 200
        revoke_key(api.db, record.id, actor="test")
        assert c.get("/readyz").status_code == 401


@pytest.mark.parametrize("role", sorted(GRANTS))
def test_role_boundaries(api: Api, role: str) -> None:
    """Each operation: 403 for a role without the right, anything but 401/403/5xx with it."""
    failures = []
    with api.client(role) as c:
        for method, path in sorted(OPERATIONS):
            needed = OPERATIONS[(method, path)]
            r = request(c, method, path)
            if needed is None or needed in GRANTS[role]:
                if r.status_code in (401, 403) or r.status_code >= 500:
                    failures.append((method, path, "should be allowed", r.status_code, r.text))
            elif r.status_code != 403 or role not in r.json()["message"]:
                failures.append((method, path, "should be forbidden", r.status_code, r.text))
    assert not failures


def test_healthz_and_docs_are_open(api: Api) -> None:
    with httpx.Client(base_url=api.url, verify=False) as c:
        assert c.get("/healthz").status_code == 200
        assert c.get("/openapi.json").status_code == 200
        assert c.get("/docs").status_code == 200
