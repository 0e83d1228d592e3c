"""The committee's meeting in a real browser (Chromium via Playwright): sign in, read the page,
record an override, print the record, sign out; and nothing the pages load leaves 127.0.0.1."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from tests.browser.conftest import Demo

AS_OF = "2026-08-20"


@pytest.fixture
def requests_seen() -> list[str]:
    return []


@pytest.fixture
def context(browser: Any, requests_seen: list[str]) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.on("request", lambda request: requests_seen.append(request.url))
    yield ctx
    ctx.close()
    # every request the pages made went to the service on loopback: no CDN, no font, no tracker
    assert requests_seen
    # (a blob: URL is made in the page, named after the page's origin)
    hosts = {
        urlsplit(u.removeprefix("blob:")).hostname
        for u in requests_seen
        if not u.startswith(("data:", "about:"))
    }
    assert hosts == {"127.0.0.1"}, sorted(set(requests_seen))


def sign_in(page: Any, demo: Demo, role: str) -> None:
    page.goto(demo.api.url + "/")
    page.fill("#key", demo.api.keys[role])
    page.click("#sign-in")
    page.wait_for_url("**/ui/trials")


def test_src_meeting_override_print_and_sign_out(context: Any, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "src")
    page.click(f"a[href^='/ui/trials/{demo.trial_id}']")
    page.goto(f"{demo.api.url}/ui/trials/{demo.trial_id}?as_of={AS_OF}")

    # the patients, the recommendation, the pathways
    for p in demo.example["patients"]:
        assert page.locator(f"#timeline g[data-patient='{p['id']}']").count() == 1
    recommendation = page.inner_text("#recommendation-text")
    assert "STAY at dose level 3" in recommendation
    assert page.locator("#pathways .paths li").count() == 4 + 16
    assert "NNT" in page.inner_text("#pathways")
    assert page.locator("#doses tbody tr").count() == 5

    # an override into an untried level above the next one: warned, refused unconfirmed
    page.check("#action-override")
    page.select_option("#dose-level", "5")
    assert page.is_visible("#risk-warning")
    assert "skips untried dose level 4" in page.inner_text("#risk-warning")
    page.fill("#rationale", "Sponsor and SRC agree to test the top dose after review")
    page.click("#record")
    assert "confirm_risk" in page.inner_text("#form-error")
    page.check("#confirm-risk")
    page.click("#record")
    page.wait_for_url("**#history")
    history = page.inner_text("#history")
    assert "Sponsor and SRC agree to test the top dose" in history
    assert "skips untried dose level 4" in history
    audit = page.inner_text("#audit")
    assert "decision.create" in audit and "dr src" in audit

    # the printed record holds the recommendation and the decision
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "STAY at dose level 3" in text
    assert "Sponsor and SRC agree" in text
    assert "Record the decision" not in text  # the form is not part of the record
    page.emulate_media(media="screen")

    page.click("#sign-out")
    page.wait_for_url(demo.api.url + "/")
    page.goto(demo.api.url + "/ui/trials")
    assert urlsplit(page.url).path == "/"
    assert page.is_visible("#key")


def test_a_statistician_views_but_cannot_record(context: Any, demo: Demo) -> None:
    page = context.new_page()
    sign_in(page, demo, "statistician")
    page.goto(f"{demo.api.url}/ui/trials/{demo.trial_id}?as_of={AS_OF}")
    assert "STAY at dose level 3" in page.inner_text("#recommendation-text")
    assert page.locator("#decision-form").count() == 0
    assert page.is_visible("#read-only")
    # posting the form anyway, with the session's own CSRF token, is refused by the server
    token = page.get_attribute("input[name=csrf_token]", "value")
    response = page.request.post(
        f"{demo.api.url}/ui/trials/{demo.trial_id}/decisions",
        form={"csrf_token": token or "", "recommendation_id": "1", "action": "accept"},
    )
    assert response.status == 403


def test_the_data_system_has_no_pages(context: Any, demo: Demo) -> None:
    page = context.new_page()
    page.goto(demo.api.url + "/")
    page.fill("#key", demo.api.keys["data-system"])
    page.click("#sign-in")
    assert "has no pages" in page.inner_text("main")
    page.goto(demo.api.url + "/ui/trials")
    assert urlsplit(page.url).path == "/"


def test_docs_load_offline(context: Any, demo: Demo) -> None:
    page = context.new_page()
    page.goto(demo.api.url + "/docs")
    page.wait_for_selector(".swagger-ui .info")
    assert "escalation" in page.inner_text(".swagger-ui .info")
    page.goto(demo.api.url + "/redoc")
    page.wait_for_selector("h1")
