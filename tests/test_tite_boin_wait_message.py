"""TITE-BOIN's wait message: when accrual may resume, and when each DLT window closes, separately
(issue 10, section 5). Accrual resumes once enough pending windows have closed, which is not the
day the last one closes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from escalation import Action
from escalation.cli import main
from escalation.documents import decision_to_json, parse_document

DOCUMENT = {
    "name": "TITE-BOIN suspension",
    "design": {"method": "tite-boin", "target": 0.3},
    "doses": [{"level": 1, "label": "0.5e6/kg"}, {"level": 2, "label": "1e6/kg"}],
    "dlt_window_days": 30,
    "as_of": "2026-09-28",
    "patients": [
        {"id": "P001", "dose_level": 1, "infused_on": "2026-07-01", "dlt": False},
        {"id": "P002", "dose_level": 1, "infused_on": "2026-07-08", "dlt": False},
        {"id": "P003", "dose_level": 1, "infused_on": "2026-07-15", "dlt": False},
        {"id": "P004", "dose_level": 2, "infused_on": "2026-08-20", "dlt": False},
        {"id": "P005", "dose_level": 2, "infused_on": "2026-09-17", "dlt": False},
        {"id": "P006", "dose_level": 2, "infused_on": "2026-09-24", "dlt": False},
    ],
}


def test_the_wait_gives_the_resume_date_and_each_window_s_closing_date() -> None:
    doc = parse_document(DOCUMENT)
    decision = doc.design.decide(doc.data)
    assert decision.action is Action.WAIT
    payload = decision_to_json(decision, doc)
    # 2 of 3 patients at level 2 pending > 0.5: accrual resumes when one of them completes
    assert payload["wait_until"] == "2026-10-17"
    reason = payload["reason"]
    assert "Accrual may resume on 2026-10-17 at the latest" in reason
    assert (
        "DLT windows still open at dose level 2 close: P005 on 2026-10-17, P006 on 2026-10-24."
        in reason
    )
    assert "last of these windows" not in reason


def test_a_boin_wait_lists_the_windows_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "boin.json"
    path.write_text(json.dumps(DOCUMENT | {"design": {"method": "boin", "target": 0.3}}))
    assert main(["recommend", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Recommendation: WAIT until 2026-10-24" in out  # BOIN waits for every window at the dose
    assert "Accrual may resume on 2026-10-24 at the latest" in out
    assert "close: P005 on 2026-10-17, P006 on 2026-10-24." in out
