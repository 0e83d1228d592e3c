"""The meeting page of a whole trial in a real browser (Chromium via Playwright): the expansion
cohorts' monitoring table with its stop flag in words, every patient's cohort and indication, and
both in the printed record."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from tests.api.whole_trial import make_whole_trial, whole_document
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Demo, require_chromium, start_demo
from tests.browser.test_meeting_page import sign_in


@pytest.fixture(scope="module")
def whole_trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The service with the whole-trial example, a third DLT making the AAV cohort stop."""
    require_chromium()
    server, api = start_demo(Path(tmp_path_factory.mktemp("browser-whole")))
    document = whole_document()
    a04 = next(p for p in document["patients"] if p["id"] == "A04")
    a04 |= {"dlt": True, "dlt_on": "2026-08-08"}
    with server:
        yield Demo(api=api, trial_id=make_whole_trial(api, document), example=document)
    api.db.dispose()


@pytest.fixture
def page(whole_trial: Demo) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        context.close()
        browser.close()


def test_the_committee_sees_expansion_and_cohorts_on_screen_and_on_paper(
    page: Any, whole_trial: Demo
) -> None:
    api, trial_id, document = whole_trial.api, whole_trial.trial_id, whole_trial.example
    sign_in(page, whole_trial, "src")
    page.goto(f"{api.url}/ui/trials/{trial_id}?as_of={document['as_of']}")

    table = page.locator("#expansion-status")
    headers = table.locator("thead th").all_inner_texts()
    assert headers[:7] == [
        "Indication",
        "Dose level",
        "Evaluable (n)",
        "DLTs",
        "Pending",
        "Stop at DLTs ≥",
        "Action",
    ]
    aav = table.locator("tr[data-indication='AAV']")
    sle = table.locator("tr[data-indication='SLE']")
    assert aav.locator("th").inner_text() == "AAV"  # the row's header: its indication
    assert aav.locator("td.action").inner_text() == "⚠ STOP"
    assert sle.locator("td.action").inner_text() == "continue"
    assert "STOP the AAV cohort at dose level 3" in page.inner_text("#expansion-summary")
    assert page.get_attribute("#expansion-summary", "role") == "status"

    patients = page.locator("#patient-list tbody tr")
    assert patients.count() == len(document["patients"])
    p016 = page.locator("#patient-list tr[data-patient='P016'] td").all_inner_texts()
    assert p016[1:3] == ["backfill", "SLE"]
    a01 = page.locator("#patient-list tr[data-patient='A01'] td").all_inner_texts()
    assert a01[1:3] == ["expansion", "AAV"]
    assert page.locator("#timeline g[data-patient='S01'] text.pid").text_content() == (
        "S01 · SLE · expansion"
    )

    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    text = text.replace("\ufb01", "fi")  # the font's fi ligature
    assert "Expansion cohorts: toxicity monitoring by indication" in text
    assert "STOP the AAV cohort at dose level 3" in text
    assert "P016 2 backfill SLE" in text
