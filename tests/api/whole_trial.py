"""The whole-trial example (escalation, backfill, expansion in two indications) as a stored trial
of the test services, for the HTTP, page and browser tests."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from tests.api.conftest import SERVER_TODAY, Api, patient_body

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "whole_trial_example.json"
_DATES = ("as_of", "infused_on", "dlt_on", "withdrawn_on", "response_on")
#: how far the example is moved back in time
SHIFT_DAYS = -40


def shifted(value: Any, days: int) -> Any:
    """``value`` with every date field moved by ``days``."""
    if isinstance(value, list):
        return [shifted(v, days) for v in value]
    if isinstance(value, dict):
        return {
            k: (dt.date.fromisoformat(v) + dt.timedelta(days=days)).isoformat()
            if k in _DATES and isinstance(v, str)
            else shifted(v, days)
            for k, v in value.items()
        }
    return value


def whole_document() -> dict[str, Any]:
    """The whole-trial example moved 40 days earlier, so that everything in it (the last
    response is assessed on 2026-10-02) has happened by the test servers' today (2026-09-01)."""
    document: dict[str, Any] = shifted(json.loads(EXAMPLE.read_text()), SHIFT_DAYS)
    assert document["as_of"] <= SERVER_TODAY.isoformat()
    return document


def whole_protocol(document: dict[str, Any]) -> dict[str, Any]:
    """The trial-creation body of a whole-trial document (its indications included)."""
    keys = ("name", "design", "doses", "dlt_window_days", "indications")
    return {k: copy.deepcopy(document[k]) for k in keys if k in document}


def post_trial(api: Api, body: dict[str, Any], patients: list[dict[str, Any]]) -> int:
    """A stored trial: the protocol ``body`` posted by the statistician, then each of the
    document's ``patients`` posted by the data system."""
    with api.client("statistician") as c:
        r = c.post("/v1/trials", json=body)
        assert r.status_code == 201, r.text
        trial_id: int = r.json()["id"]
    with api.client("data-system") as c:
        for p in patients:
            r = c.put(f"/v1/trials/{trial_id}/patients/{p['id']}", json=patient_body(p))
            assert r.status_code == 201, r.text
    return trial_id


def make_whole_trial(api: Api, document: dict[str, Any]) -> int:
    """A stored trial of ``document``: its protocol, then each patient posted by the data system."""
    return post_trial(api, whole_protocol(document), document["patients"])
