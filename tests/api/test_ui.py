"""The committee's pages over plain HTTP: sign-in, the session cookie, CSRF, roles, the pages'
content, the API's pathways endpoint. (The same pages in a real browser: tests/browser.)"""

from __future__ import annotations

import json
import re
from contextlib import closing
from typing import Any

import httpx
import pytest

from api.services.admin import create_key
from tests.api.conftest import Api, make_trial
from tests.conftest import REPO


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form must carry a CSRF token"
    return found.group(1)


def sign_in(api: Api, role: str, **headers: str) -> tuple[httpx.Client, httpx.Response]:
    c = httpx.Client(base_url=api.url, timeout=60, headers=headers)
    form = c.get("/")
    assert form.status_code == 200 and 'name="key"' in form.text
    r = c.post("/ui/login", data={"key": api.keys[role], "csrf_token": _csrf(form.text)})
    return c, r


def test_sign_in_sets_a_strict_http_only_session_cookie(api: Api) -> None:
    c, r = sign_in(api, "src")
    with closing(c):
        assert r.status_code == 303 and r.headers["location"] == "/ui/trials"
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("escalation_session=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
        assert "Secure" not in cookie  # plain HTTP on localhost (the demo)
        page = c.get("/ui/trials")
        assert page.status_code == 200 and "Trials" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert c.get("/").headers.get("location") == "/ui/trials"


def test_the_cookie_is_secure_behind_tls(api: Api) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy
    https = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=api.url, timeout=60, headers=https) as c:
        form = c.get("/")
        login_cookie = form.headers["set-cookie"]
        assert "Secure" in login_cookie
        token = login_cookie.split(";")[0].split("=", 1)[1]
        # httpx keeps Secure cookies for https: send it by hand, as the browser would over TLS
        c.cookies.clear()
        r = c.post(
            "/ui/login",
            data={"key": api.keys["src"], "csrf_token": _csrf(form.text)},
            headers={"Cookie": f"escalation_login_csrf={token}"},
        )
    assert r.status_code == 303
    assert "Secure" in r.headers["set-cookie"]


@pytest.mark.parametrize(
    "path", ["/ui/trials", "/ui/trials/1", "/ui/keys", "/ui/trials/1?as_of=2026-08-20"]
)
def test_every_page_without_a_session_redirects_to_sign_in(api: Api, path: str) -> None:
    with httpx.Client(base_url=api.url, cookies={"escalation_session": "forged"}) as c:
        r = c.get(path)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_sign_in_refuses_bad_keys_forms_without_csrf_and_the_data_system(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=60) as c:
        token = _csrf(c.get("/").text)
        bad = c.post("/ui/login", data={"key": "esk_nope", "csrf_token": token})
        assert bad.status_code == 401 and "Unknown or revoked key" in bad.text
        assert "escalation_session" not in bad.headers.get("set-cookie", "")
        token = _csrf(bad.text)
        no_csrf = c.post("/ui/login", data={"key": api.keys["src"], "csrf_token": "x" + token})
        assert no_csrf.status_code == 403
        token = _csrf(no_csrf.text)
        data_system = c.post(
            "/ui/login", data={"key": api.keys["data-system"], "csrf_token": token}
        )
        assert data_system.status_code == 403 and "has no pages" in data_system.text
    # a cross-site form has no login CSRF cookie at all
    with httpx.Client(base_url=api.url) as other:
        r = other.post("/ui/login", data={"key": api.keys["src"], "csrf_token": token})
        assert r.status_code == 403


def test_sign_out_ends_the_session_for_good(api: Api) -> None:
    c, _ = sign_in(api, "statistician")
    with closing(c):
        page = c.get("/ui/trials")
        cookie = c.cookies["escalation_session"]
        refused = c.post("/ui/logout", data={"csrf_token": "wrong"})
        assert refused.status_code == 403
        out = c.post("/ui/logout", data={"csrf_token": _csrf(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/"
    # the old cookie, replayed, opens nothing
    with httpx.Client(base_url=api.url, cookies={"escalation_session": cookie}) as again:
        assert again.get("/ui/trials").status_code == 303


def test_revoking_the_key_ends_its_sessions(api: Api) -> None:
    record, secret = create_key(api.db, role="src", name="ui session to revoke", actor="test")
    api_keys = dict(api.keys, temp=secret)
    c, _ = sign_in(Api(server=api.server, db=api.db, keys=api_keys), "temp")
    with closing(c), api.client("admin") as admin:
        assert c.get("/ui/trials").status_code == 200
        assert admin.delete(f"/v1/keys/{record.id}").status_code == 200
        assert c.get("/ui/trials").status_code == 303


def _meeting(c: httpx.Client, trial_id: int) -> httpx.Response:
    return c.get(f"/ui/trials/{trial_id}", params={"as_of": "2026-08-20"})


def test_meeting_page_shows_the_trial(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "statistician")
    with closing(c):
        r = _meeting(c, trial_id)
        listing = c.get("/ui/trials").text
    assert r.status_code == 200, r.text
    html = r.text
    assert "STAY at dose level 3" in html
    assert all(f'data-patient="{p["id"]}"' in html for p in example["patients"])
    for section in ("timeline", "doses", "rules", "decision-table", "posterior", "pathways"):
        assert f'id="{section}"' in html
    assert "NNT</span> at level 3" in html  # the pathways of the next cohorts
    # the stopping rules in words, not as the design block's JSON
    assert (
        '<dd id="stopping-rules">StopAtN(24) | StopWhenNAtDose(12, when_staying=True)</dd>' in html
    )
    assert "Pr(DLT rate &gt; target" in html  # what P(overdose) means
    assert "decision-form" not in html and "only the committee (src) records" in html
    assert f"/ui/trials/{trial_id}?as_of=2026-08-20" in listing  # the last recommendation
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")


def _decision_form(html: str) -> dict[str, str]:
    return {
        "csrf_token": _csrf(html),
        "recommendation_id": re.search(r'name="recommendation_id" value="(\d+)"', html).group(1),  # type: ignore[union-attr]
        "as_of": "2026-08-20",
    }


def test_src_records_decisions_through_the_form(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "src")
    with closing(c):
        html = _meeting(c, trial_id).text
        form = _decision_form(html)
        url = f"/ui/trials/{trial_id}/decisions"
        no_csrf = c.post(url, data=form | {"csrf_token": "x", "action": "accept"})
        assert no_csrf.status_code == 403
        risky = form | {"action": "override", "dose_level": "5", "rationale": "sponsor request"}
        refused = c.post(url, data=risky)
        assert refused.status_code == 422
        assert "confirm_risk" in refused.text and "skips untried dose level 4" in refused.text
        done = c.post(url, data=risky | {"confirm_risk": "yes"})
        assert done.status_code == 303, done.text
        page = c.get(done.headers["location"]).text
        assert "sponsor request" in page and "skips untried dose level 4" in page
        assert "decision.create" in page
        # a second decision must supersede the first, with a reason
        again = _decision_form(page)
        first_id = re.search(r'name="supersedes" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        no_reason = c.post(url, data=again | {"action": "accept", "supersedes": first_id})
        assert no_reason.status_code == 422 and "supersede_reason" in no_reason.text
        fixed = c.post(
            url,
            data=again
            | {"action": "accept", "supersedes": first_id, "supersede_reason": "wrong level"},
        )
        assert fixed.status_code == 303
        final = c.get(fixed.headers["location"]).text
    assert "superseded by #" in final and "decision.supersede" in final


def test_a_statistician_cannot_record(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "statistician")
    with closing(c):
        html = _meeting(c, trial_id).text
        rid = re.search(r"Recommendation #(\d+)", html).group(1)  # type: ignore[union-attr]
        r = c.post(
            f"/ui/trials/{trial_id}/decisions",
            data={"csrf_token": _csrf(html), "recommendation_id": rid, "action": "accept"},
        )
    assert r.status_code == 403
    with api.client("src") as src:
        assert src.get(f"/v1/trials/{trial_id}/decisions").json()["items"] == []


def test_admin_manages_keys_on_a_page(api: Api) -> None:
    c, _ = sign_in(api, "admin")
    with closing(c):
        page = c.get("/ui/keys")
        assert page.status_code == 200
        made = c.post(
            "/ui/keys",
            data={"csrf_token": _csrf(page.text), "role": "src", "name": "dr page"},
        )
        assert made.status_code == 201
        secret = re.search(r'id="new-key">(esk_[^<]+)<', made.text).group(1)  # type: ignore[union-attr]
        with api.client(key=secret) as new:
            assert new.get("/v1/trials").status_code == 200
        key_id = re.findall(r'action="/ui/keys/(\d+)/revoke"', made.text)[-1]
        revoked = c.post(f"/ui/keys/{key_id}/revoke", data={"csrf_token": _csrf(made.text)})
        assert revoked.status_code == 303
        with api.client(key=secret) as new:
            assert new.get("/v1/trials").status_code == 401
    s, _ = sign_in(api, "statistician")
    with closing(s):
        assert s.get("/ui/keys").status_code == 403


def test_paths_endpoint(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    with api.client("src") as c:
        r = c.get(
            f"/v1/trials/{trial_id}/paths",
            params={
                "as_of": "2026-08-20",
                "cohorts": "3,3",
                "true_dlt_probs": "0.05,0.1,0.2,0.3,0.45",
            },
        )
        bad = c.get(f"/v1/trials/{trial_id}/paths", params={"cohorts": "3,x"})
        too_many = c.get(f"/v1/trials/{trial_id}/paths", params={"cohorts": "12,12,12,12"})
        wrong_probs = c.get(f"/v1/trials/{trial_id}/paths", params={"true_dlt_probs": "0.1,0.2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["nodes"]) == 1 + 4 + 16
    assert body["nodes"][0]["next_dose"] == 3
    assert sum(x["probability"] for x in body["recommendation_probs"]) == pytest.approx(1.0)
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "cohorts"
    assert too_many.status_code == 422 and too_many.json()["problems"][0]["field"] == "cohorts"
    assert wrong_probs.status_code == 422
    assert wrong_probs.json()["problems"][0]["field"] == "true_dlt_probs"


@pytest.mark.parametrize(
    ("example_file", "expected"),
    [
        ("tite_example.json", ["pending to 2026-", "Patients still pending are taken"]),
        (
            "blrm_example.json",
            ["is model-based: no fixed table", "overdose cutoff are not eligible"],
        ),
    ],
)
def test_meeting_page_for_other_designs(api: Api, example_file: str, expected: list[str]) -> None:
    document = json.loads((REPO / "examples" / example_file).read_text())
    trial_id = make_trial(api, document)
    c, _ = sign_in(api, "src")
    with closing(c):
        r = c.get(f"/ui/trials/{trial_id}", params={"as_of": document["as_of"]})
    assert r.status_code == 200, r.text
    for text in expected:
        assert text in r.text
    assert r.text.count('<li><span class="outcome">') == 4 + 16


@pytest.mark.parametrize("deescalating", [False, True])
def test_meeting_page_shows_the_three_plus_three_rules(
    api: Api, example: dict[str, Any], deescalating: bool
) -> None:
    """A 3+3 trial gets its own rule table, not the model-based note (with the variant's rule)."""
    document = example | {"design": {"method": "3+3", "allow_deescalation": deescalating}}
    trial_id = make_trial(api, document)
    c, _ = sign_in(api, "src")
    with closing(c):
        r = c.get(f"/ui/trials/{trial_id}", params={"as_of": document["as_of"]})
    assert r.status_code == 200, r.text
    assert 'id="three-plus-three-rules"' in r.text
    assert "Stay: expand this dose to 6 patients" in r.text
    assert "is model-based" not in r.text
    assert ("De-escalate while the dose below" in r.text) is deescalating


def test_the_pathways_of_one_or_two_cohorts(api: Api, example: dict[str, Any]) -> None:
    trial_id = make_trial(api, example)
    c, _ = sign_in(api, "src")
    with closing(c):
        one = c.get(f"/ui/trials/{trial_id}", params={"as_of": "2026-08-20", "cohorts": "1"})
        two = c.get(f"/ui/trials/{trial_id}", params={"as_of": "2026-08-20", "cohorts": "2"})
    assert one.status_code == two.status_code == 200
    assert one.text.count('<li><span class="outcome">') == 4
    assert "the next cohort</h2>" in one.text
    assert two.text.count('<li><span class="outcome">') == 4 + 16


def test_no_pathways_on_the_page_for_mcmc(api: Api) -> None:
    document = json.loads((REPO / "examples" / "blrm_example.json").read_text())
    document["design"]["engine"] = "mcmc"
    trial_id = make_trial(api, document)
    c, _ = sign_in(api, "src")
    with closing(c):
        r = c.get(f"/ui/trials/{trial_id}", params={"as_of": document["as_of"]})
    assert r.status_code == 200
    assert "Not drawn for the MCMC engine" in r.text
    assert '<li><span class="outcome">' not in r.text
