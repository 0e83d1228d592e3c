"""The meeting page of a whole trial (escalation, backfill, expansion per indication): the
expansion cohorts' monitoring status with a stop flag in words, the backfill status, and every
patient's cohort and indication; a dose-escalation trial's page is unchanged."""

from __future__ import annotations

import re
from contextlib import closing
from html import escape
from typing import Any

import pytest

from api.services import meeting as meeting_service
from tests.api.conftest import Api, make_trial
from tests.api.test_ui import sign_in
from tests.api.whole_trial import make_whole_trial, whole_document

_SECTIONS = ('id="expansion"', 'id="backfill"', 'id="patient-list"')


def _row(html: str, attribute: str) -> str:
    """The table row carrying ``attribute`` (e.g. ``data-indication="AAV"``)."""
    found = re.search(rf"<tr[^>]*{re.escape(attribute)}[^>]*>(.*?)</tr>", html, re.S)
    assert found, attribute
    return found.group(1)


def _stopping_aav() -> dict[str, Any]:
    """The whole-trial example with a third DLT in the AAV expansion cohort (A04): it stops."""
    document = whole_document()
    a04 = next(p for p in document["patients"] if p["id"] == "A04")
    a04 |= {"dlt": True, "dlt_on": "2026-08-08"}
    return document


def test_the_page_shows_expansion_status_and_every_patients_cohort(api: Api) -> None:
    document = _stopping_aav()
    trial_id = make_whole_trial(api, document)
    c, _ = sign_in(api, "src")
    with closing(c):
        r = c.get(f"/ui/trials/{trial_id}", params={"as_of": document["as_of"]})
    with api.client("src") as c:
        rec = c.get(f"/v1/trials/{trial_id}/recommendation", params={"as_of": document["as_of"]})
    assert r.status_code == 200, r.text
    html = r.text
    expansion = rec.json()["decision"]["expansion"]
    assert expansion["AAV"]["action"] == "stop" and expansion["SLE"]["action"] == "continue"

    # the monitoring table: one row per indication, with the numbers of the recommendation
    assert 'id="expansion"' in html
    # the backfill card exactly when the recommendation has a backfill status (the example
    # backfills; its stop closes every level)
    backfill = rec.json()["decision"].get("backfill")
    assert ('id="backfill"' in html) == (backfill is not None)
    assert backfill is not None and backfill["open_levels"] == []
    for indication, status in expansion.items():
        cells = re.findall(
            r"<t[hd][^>]*>(.*?)</t[hd]>", _row(html, f'data-indication="{indication}"')
        )
        assert cells[:6] == [
            indication,
            str(status["dose_level"]),
            str(status["n"]),
            str(status["dlt"]),
            str(status["pending"]),
            str(status["stop_at_least"]),
        ]
        assert escape(status["reason"], quote=False) in html
    assert "STOP" in _row(html, 'data-indication="AAV"')  # the flag is a word, not a colour
    assert "STOP" not in _row(html, 'data-indication="SLE"')
    summary = re.search(r'<div id="expansion-summary"[^>]*>(.*?)</div>', html, re.S)
    assert (
        summary
        and "STOP" in summary.group(1)
        and "STOP the AAV cohort at dose level 3" in summary.group(1)
    )
    assert '<th scope="col">Stop at DLTs ≥</th>' in html

    plan = re.search(r'<dd id="expansion-plan">(.*?)</dd>', html, re.S)
    assert plan and plan.group(1).startswith("SLE, AAV at dose level 3, at most 30 patients")
    assert "declares no indications" not in html  # the pathways see the trial's indications

    # every patient with its cohort and indication, in the list and in the timeline's labels
    for p in document["patients"]:
        cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", _row(html, f'data-patient="{p["id"]}"'))
        assert cells[:4] == [
            p["id"],
            str(p["dose_level"]),
            p.get("cohort", "escalation"),
            p.get("indication", "-"),
        ]
    assert ">P016 · SLE · backfill</text>" in html and ">S01 · SLE · expansion</text>" in html
    assert ">P013 · AAV</text>" in html
    # the cohort under review is the last escalation cohort, not the backfill patients
    cohort = re.search(r'<dd id="cohort">(.*?)</dd>', html, re.S)
    assert cohort and "P013" in cohort.group(1) and "S0" not in cohort.group(1)


def test_the_page_shows_the_backfill_status_of_the_decision(
    api: Api, example: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision JSON with a ``backfill`` block (designs with the backfill option add it): the
    page lists the open levels and each closed level with its reason."""
    made = meeting_service.meeting

    def with_backfill(*args: Any, **kwargs: Any) -> meeting_service.Meeting:
        m = made(*args, **kwargs)
        m.recommendation["decision"]["backfill"] = {
            "open_levels": [1, 2],
            "closed": {"4": "above the current dose", "3": "the current dose"},
            "assign": "highest",
            "assign_level": 2,
        }
        return m

    monkeypatch.setattr(meeting_service, "meeting", with_backfill)
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "src")
    with closing(c):
        html = c.get(f"/ui/trials/{trial_id}", params={"as_of": "2026-08-20"}).text
    opened = re.search(r'<p id="backfill-open">(.*?)</p>', html, re.S)
    assert opened
    assert "Open to backfill:</strong> dose level 1 (0.25e6 CAR+ T cells/kg); dose level 2" in (
        opened.group(1)
    )
    closed = re.search(r'<table[^>]*id="backfill-closed">(.*?)</table>', html, re.S)
    assert closed
    rows = re.findall(
        r"<tr><th scope=\"row\">(\d)</th><td>[^<]*</td><td>closed</td><td>([^<]*)</td>",
        closed.group(1),
    )
    assert rows == [("3", "the current dose"), ("4", "above the current dose")]
    assigned = re.search(r'<p id="backfill-assign">(.*?)</p>', html, re.S)
    assert assigned and "dose level 2 (0.5e6 CAR+ T cells/kg) (highest open level)" in (
        assigned.group(1)
    )
    assert 'id="patient-list"' in html  # the backfill design's patients are listed


def test_a_dose_escalation_page_has_no_whole_trial_sections(
    api: Api, example: dict[str, Any]
) -> None:
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "src")
    with closing(c):
        html = c.get(f"/ui/trials/{trial_id}", params={"as_of": "2026-08-20"}).text
    assert "STAY at dose level 3" in html
    assert not any(section in html for section in _SECTIONS)
    assert ">P001</text>" in html  # the timeline labels as before
