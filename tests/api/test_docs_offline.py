"""/docs and /redoc work offline: every script, style and image they reference is served here."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import Api


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_reference_only_local_urls(api: Api, page: str) -> None:
    with api.client() as c:
        r = c.get(page)
        assert r.status_code == 200
        html = r.text
        assert "http://" not in html and "https://" not in html and "//cdn" not in html
        urls = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html) + re.findall(
            r"url: ?'([^']+)'", html
        )
        assert any(u.endswith(".js") for u in urls), "the page must load its script"
        for url in urls:
            assert url.startswith("/"), url
            got = c.get(url)
            assert got.status_code == 200, url
            assert len(got.content) > 1000 or url.endswith(".json"), url


def test_redoc_script_names_no_cdn(api: Api) -> None:
    with api.client() as c:
        script = c.get("/static/docs/redoc.standalone.js")
    assert script.status_code == 200
    assert b"cdn.redoc.ly" not in script.content
