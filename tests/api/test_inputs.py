"""Every bad input refused over HTTP with a 422 naming its field (issue 10 section 6, issue 15
sections 3 and 4): dates after the server's today or of implausible years, unbounded options,
NaN, lone surrogates; a 500 does not cost the client its connection; the patient list as of a
date. Every test runs on SQLite and on PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from api.services import trials as trials_service
from tests.api.conftest import SERVER_TODAY, Api, make_trial, protocol


def fields(response: httpx.Response) -> list[tuple[str, str | None]]:
    """(field, patient id) of every problem of an error response."""
    return [(p["field"], p["patient_id"]) for p in response.json()["problems"]]


def raw_json(obj: Any) -> bytes:
    """``obj`` as JSON text, NaN and lone surrogates written as JSON allows them to be written."""
    return json.dumps(obj, allow_nan=True).encode()


# ---- dates ----------------------------------------------------------------------------------------
def test_an_infusion_after_the_servers_today_is_refused(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example, with_patients=False)
    tomorrow = (SERVER_TODAY + dt.timedelta(days=1)).isoformat()
    with api.client("data-system") as c:
        r = c.put(
            f"/v1/trials/{trial_id}/patients/P100",
            json={"dose_level": 1, "infused_on": tomorrow, "dlt": False},
        )
        assert r.status_code == 422, r.text
        assert fields(r) == [("infused_on", "P100")]
        assert "after today" in r.json()["problems"][0]["message"]
        # a DLT dated after today is refused the same way
        r = c.put(
            f"/v1/trials/{trial_id}/patients/P101",
            json={
                "dose_level": 1,
                "infused_on": SERVER_TODAY.isoformat(),
                "dlt": True,
                "dlt_on": tomorrow,
            },
        )
        assert r.status_code == 422 and fields(r) == [("dlt_on", "P101")]
        # today itself is fine
        r = c.put(
            f"/v1/trials/{trial_id}/patients/P100",
            json={"dose_level": 1, "infused_on": SERVER_TODAY.isoformat(), "dlt": False},
        )
        assert r.status_code == 201, r.text
        assert c.get(f"/v1/trials/{trial_id}/patients/P101").status_code == 404  # nothing written


@pytest.mark.parametrize("day", ["0202-03-01", "1999-12-31", "9999-12-31", "2012-01-01"])
def test_an_implausible_infusion_year_is_refused(
    api: Api, example: dict[str, Any], day: str
) -> None:
    """Before 2000, after 2099, or more than 10 years before the server's today (2026-09-01)."""
    trial_id = make_trial(api, example, with_patients=False)
    with api.client("data-system") as c:
        r = c.put(
            f"/v1/trials/{trial_id}/patients/P001",
            json={"dose_level": 1, "infused_on": day, "dlt": False},
        )
    assert r.status_code == 422, r.text
    assert fields(r) == [("infused_on", "P001")]


@pytest.mark.parametrize(
    "as_of",
    ["9999-12-31", "1999-12-31", (SERVER_TODAY + dt.timedelta(days=2)).isoformat()],
)
def test_an_as_of_out_of_range_is_422(api: Api, example: dict[str, Any], as_of: str) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        for path in ("recommendation", "final-selection", "patients"):
            r = c.get(f"/v1/trials/{trial_id}/{path}", params={"as_of": as_of})
            assert r.status_code == 422, (path, r.text)
            assert fields(r) == [("as_of", None)]


def test_as_of_tomorrow_is_within_the_tolerance(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    tomorrow = (SERVER_TODAY + dt.timedelta(days=1)).isoformat()
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": tomorrow})
    assert r.status_code == 200, r.text
    assert r.json()["as_of"] == tomorrow


def test_a_stateless_decision_refuses_implausible_dates(example: dict[str, Any], api: Api) -> None:
    example["as_of"] = "9999-12-31"
    example["patients"][0]["infused_on"] = "0202-01-07"
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=example)
    assert r.status_code == 422, r.text
    assert set(fields(r)) == {("as_of", None), ("patients[0].infused_on", "P001")}


# ---- bounds ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("window", [0, 366, 3_000_000, 1_000_000_000, 2**31, 2**63])
def test_a_dlt_window_out_of_range_is_422_and_nothing_is_created(
    api: Api, example: dict[str, Any], window: int
) -> None:
    body = protocol(example) | {"dlt_window_days": window}
    with api.client("statistician") as c:
        before = c.get("/v1/trials", params={"limit": 500}).json()
        r = c.post("/v1/trials", json=body)
        assert r.status_code == 422, r.text
        assert fields(r) == [("dlt_window_days", None)]
        assert c.get("/v1/trials", params={"limit": 500}).json() == before
        example["dlt_window_days"] = window
        r = c.post("/v1/decisions", json=example)
        assert r.status_code == 422 and fields(r) == [("dlt_window_days", None)], r.text


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("max_patients", 2**31),
        ("cohort_size", 10_000),
        ("n_stop", 2**40),
        ("max_patients", 0),
    ],
)
def test_design_options_out_of_range_are_422(
    api: Api, example: dict[str, Any], option: str, value: int
) -> None:
    body = protocol(example)
    body["design"][option] = value
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=body)
    assert r.status_code == 422, r.text
    assert fields(r) == [(f"design.{option}", None)]


def test_counts_out_of_range_are_422(api: Api, example: dict[str, Any]) -> None:
    del example["patients"]
    example["counts"] = [{"level": 1, "n": 2**31, "dlt": 0}, {"level": 2, "n": 3, "dlt": 2**31}]
    example["current_level"] = 2
    with api.client("src") as c:
        r = c.post("/v1/decisions", json=example)
    assert r.status_code == 422, r.text
    assert {("counts[0].n", None), ("counts[1].dlt", None)} <= set(fields(r))


def test_nan_and_infinite_amounts_are_422(api: Api, example: dict[str, Any]) -> None:
    """BOIN does not use amounts, but a NaN is not a dose: refused, not silently accepted."""
    example["doses"][0]["amount"] = float("nan")
    example["doses"][1]["amount"] = float("inf")
    headers = {"Content-Type": "application/json"}
    with api.client("admin") as c:
        r = c.post("/v1/decisions", content=raw_json(example), headers=headers)
        assert r.status_code == 422, r.text
        assert set(fields(r)) == {("doses[0].amount", None), ("doses[1].amount", None)}
        r = c.post("/v1/trials", content=raw_json(protocol(example)), headers=headers)
        assert r.status_code == 422, r.text
        assert set(fields(r)) == {("doses[0].amount", None), ("doses[1].amount", None)}
        example["doses"][0]["amount"], example["doses"][1]["amount"] = 1e5, 5e5
        example["design"]["target"] = float("nan")
        r = c.post("/v1/decisions", content=raw_json(example), headers=headers)
        assert r.status_code == 422 and fields(r) == [("design.target", None)], r.text


# ---- lone surrogates ------------------------------------------------------------------------------
def test_lone_surrogates_are_422_with_the_field(api: Api, example: dict[str, Any]) -> None:
    """``"\\ud800"`` is valid JSON but no text: refused in names, labels, ids and keys."""
    bad = "P\ud800"
    headers = {"Content-Type": "application/json"}
    with api.client("admin") as c:
        body = copy.deepcopy(protocol(example, name="trial \ud800"))
        body["doses"][2]["label"] = "1e6 \udfff"
        r = c.post("/v1/trials", content=raw_json(body), headers=headers)
        assert r.status_code == 422, r.text
        assert set(fields(r)) == {("name", None), ("doses[2].label", None)}
        example["patients"][3]["id"] = bad
        r = c.post("/v1/decisions", content=raw_json(example), headers=headers)
        assert r.status_code == 422, r.text
        assert fields(r) == [("patients[3].id", None)]
        example["patients"][3]["id"] = "P004"
        example["design"]["\ud800"] = 1
        r = c.post("/v1/decisions", content=raw_json(example), headers=headers)
        assert r.status_code == 422, r.text
        assert fields(r) == [("design.\\ud800", None)]
        del example["design"]["\ud800"]
        trial_id = make_trial(api, example, with_patients=False)
        record = {"id": bad, "dose_level": 1, "infused_on": "2026-08-01", "dlt": False}
        r = c.put(f"/v1/trials/{trial_id}/patients/P100", content=raw_json(record), headers=headers)
        assert r.status_code == 422 and fields(r) == [("id", None)], r.text


# ---- a 500 keeps the connection -------------------------------------------------------------------
def test_after_an_internal_error_the_connection_serves_the_next_request(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a bug, forced by the test")

    monkeypatch.setattr(trials_service, "list_trials", broken)
    ports = []
    with api.client("src") as c:
        for path, expected in (("/v1/trials", 500), ("/readyz", 200), ("/v1/trials", 500)):
            r = c.get(path)
            assert r.status_code == expected, r.text
            stream = r.extensions["network_stream"]
            ports.append(stream.get_extra_info("client_addr"))
        assert r.json()["error"] == "internal_error"
    assert ports[0] == ports[1] == ports[2]  # one keep-alive connection throughout


# ---- patients as of a date ------------------------------------------------------------------------
def test_patients_as_of_a_date_with_state_followup_and_window_end(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    with api.client("data-system") as c:  # the data system reads back what it wrote
        r = c.get(f"/v1/trials/{trial_id}/patients", params={"as_of": "2026-07-16"})
        assert r.status_code == 200, r.text
        items = {p["id"]: p for p in r.json()["items"]}
        one = c.get(f"/v1/trials/{trial_id}/patients/P011")
        assert one.status_code == 200 and one.json()["dlt_on"] == "2026-07-20"
        # as of today: every patient, P011's DLT known
        today = {p["id"]: p for p in c.get(f"/v1/trials/{trial_id}/patients").json()["items"]}
    # P001-P012 are infused by 2026-07-15: all listed; nobody infused later exists
    assert sorted(items) == [f"P{i:03d}" for i in range(1, 13)]
    states = {
        pid: (p["state"], p["followup_days"], p["window_ends_on"]) for pid, p in items.items()
    }
    assert states["P001"] == ("complete", 30, "2026-02-06")
    assert states["P006"] == ("dlt", 8, "2026-05-07")
    assert states["P010"] == ("pending", 15, "2026-07-31")
    assert states["P011"] == ("pending", 8, "2026-08-07")  # its DLT (07-20) not yet known
    assert states["P012"] == ("pending", 1, "2026-08-14")
    assert items["P011"]["as_of"] == "2026-07-16"
    assert items["P011"]["dlt"] is True  # the record itself, as stored
    assert today["P011"]["state"] == "dlt" and today["P011"]["followup_days"] == 12
    assert today["P012"]["state"] == "complete" and today["P001"]["as_of"] == "2026-09-01"


def test_patients_as_of_a_date_leaves_out_later_infusions(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        r = c.get(f"/v1/trials/{trial_id}/patients", params={"as_of": "2026-03-10", "limit": 2})
        page = r.json()
        assert [p["id"] for p in page["items"]] == ["P001", "P002"]
        assert page["next_offset"] == 2
        rest = c.get(
            f"/v1/trials/{trial_id}/patients",
            params={"as_of": "2026-03-10", "limit": 2, "offset": 2},
        ).json()
    assert [(p["id"], p["state"]) for p in rest["items"]] == [
        ("P003", "complete"),
        ("P004", "pending"),
    ]
    assert rest["next_offset"] is None


def test_the_data_system_still_cannot_read_recommendations(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    with api.client("data-system") as c:
        assert c.get(f"/v1/trials/{trial_id}/recommendation").status_code == 403
        assert c.get(f"/v1/trials/{trial_id}").status_code == 403


def test_lone_surrogates_in_small_requests_are_422(api: Api) -> None:
    """Requests validated by their pydantic models: a surrogate in a value or in a key (which
    cannot be echoed: the body is named)."""
    headers = {"Content-Type": "application/json"}
    with api.client("admin") as c:
        for body, field in (
            ({"role": "src", "name": "chair \ud800"}, "name"),
            ({"role": "src", "name": "chair", "\ud800": 1}, "body"),
        ):
            r = c.post("/v1/keys", content=raw_json(body), headers=headers)
            assert r.status_code == 422, r.text
            assert fields(r) == [(field, None)]
