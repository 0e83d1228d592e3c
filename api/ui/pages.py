"""The routes of the committee's pages (thin: sessions, forms and rendering; content from
``api.services``)."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections import defaultdict
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from api.auth import RIGHTS, ROLES, Right
from api.config import Settings
from api.deps import EARLIEST_AS_OF, MAX_ID, DbDep, TrialId, latest_as_of
from api.errors import ApiError, InvalidInput
from api.services import admin
from api.services import meeting as meeting_service
from api.services import recommendations as recs
from api.services import trials as trials_service
from api.services.common import PageRequest
from api.services.sessions import (
    SESSION_HOURS,
    SignedIn,
    end_session,
    find_session,
    open_session,
)
from api.storage.db import Database
from api.ui.figures import posterior_svg, timeline_svg
from escalation import PathNode, TrialDocument

__all__ = ["SESSION_COOKIE", "install_ui"]

SESSION_COOKIE = "escalation_session"
LOGIN_CSRF_COOKIE = "escalation_login_csrf"
PAGE_ROLES = frozenset(role for role in ROLES if Right.READ in RIGHTS[role])
# the pages' own assets only; inline SVG needs nothing else
CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

_env = Environment(
    loader=PackageLoader("api.ui", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


_env.filters["fmt"] = _fmt
_env.filters["compact_json"] = lambda v: "" if v is None else json.dumps(v, sort_keys=True)


class SignInRequired(Exception):
    """No open session: the page redirects to the sign-in form."""


def _render(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers=_headers())


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


async def page_session(request: Request, db: DbDep) -> SignedIn:
    """The signed-in person (redirect to ``/`` without an open session)."""
    session = find_session(db, request.cookies.get(SESSION_COOKIE))
    if session is None or session.caller.role not in PAGE_ROLES:
        raise SignInRequired
    return session


PageSession = Annotated[SignedIn, Depends(page_session)]


def _check_csrf(session_token: str, sent: str) -> bool:
    return bool(sent) and hmac.compare_digest(session_token.encode(), sent.encode())


def _refused(
    request: Request, session: SignedIn, right: Right, may: str, csrf_token: str, posting: str
) -> HTMLResponse | None:
    """The 403 page when the session's role lacks ``right`` (it may not ``may``) or the form's
    CSRF token is wrong (it may not ``posting`` without the page's form); ``None`` when allowed."""
    if right not in RIGHTS[session.caller.role]:
        return _forbidden(request, session, may)
    if not _check_csrf(session.csrf_token, csrf_token):
        return _forbidden(request, session, f"{posting} without the page's form")
    return None


def _forbidden(request: Request, session: SignedIn, what: str) -> HTMLResponse:
    return _render(
        request,
        "error.html",
        status_code=403,
        session=session,
        title="Not allowed",
        message=f"The role {session.caller.role!r} may not {what}.",
    )


def _today(request: Request) -> dt.date:
    """The server's today (``Settings.today``, as the API's default ``as_of``)."""
    settings: Settings = request.app.state.settings
    return settings.today()


def _as_of(request: Request, value: str | None) -> dt.date | None:
    """The page's data cut: today by default; None for a date the API would refuse too."""
    today = _today(request)
    if value is None or value == "":
        return today
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return None
    return day if EARLIEST_AS_OF <= day <= latest_as_of(today) else None


router = APIRouter(include_in_schema=False)


# ---- sign-in ------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
async def sign_in_form(request: Request, db: DbDep) -> Response:
    if find_session(db, request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse("/ui/trials", status_code=303)
    return _login_page(request)


def _login_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html", status_code, csrf_token=token, error=error)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/ui/login",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


@router.post("/ui/login")
async def sign_in(
    request: Request,
    db: DbDep,
    key: Annotated[str, Form(max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not _check_csrf(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(request, "The sign-in form expired: please try again.", 403)
    caller = admin.authenticate(db, key.strip())
    if caller is None:
        return _login_page(request, "Unknown or revoked key.", 401)
    if caller.role not in PAGE_ROLES:
        return _login_page(
            request,
            f"The {caller.role} role has no pages: it writes patient data through the API.",
            403,
        )
    opened = open_session(db, key.strip())
    if opened is None:  # pragma: no cover - revoked between the two reads
        return _login_page(request, "Unknown or revoked key.", 401)
    token, _ = opened
    response = RedirectResponse("/ui/trials", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_HOURS * 3600,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return response


@router.post("/ui/logout")
async def sign_out(
    request: Request,
    db: DbDep,
    session: PageSession,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not _check_csrf(session.csrf_token, csrf_token):
        return _forbidden(request, session, "sign out without the page's form")
    end_session(db, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=_secure(request), httponly=True)
    return response


# ---- trials ---------------------------------------------------------------------------------------
@router.get("/ui/trials", response_class=HTMLResponse)
def trial_list(request: Request, db: DbDep, session: PageSession) -> Response:
    rows, _ = trials_service.list_trials(db, PageRequest(limit=500))
    last = meeting_service.last_recommendations(db, [t.id for t, _ in rows])
    return _render(request, "trials.html", session=session, rows=rows, last=last)


@router.get("/ui/trials/{trial_id}", response_class=HTMLResponse)
async def meeting_page(
    request: Request,
    trial_id: TrialId,
    db: DbDep,
    session: PageSession,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
    cohorts: Annotated[str, Query(max_length=2)] = "2",
) -> Response:
    day = _as_of(request, as_of)
    n_cohorts = 1 if cohorts == "1" else 2  # the pathways of the next one or two cohorts
    if day is None:
        return _render(
            request,
            "error.html",
            status_code=422,
            session=session,
            title="Invalid date",
            message=f"as_of: not a date between {EARLIEST_AS_OF} and "
            f"{latest_as_of(_today(request))}: {as_of!r}",
        )
    return await run_in_threadpool(
        partial(_meeting_response, n_cohorts=n_cohorts), request, db, session, trial_id, day
    )


def _meeting_response(
    request: Request,
    db: Database,
    session: SignedIn,
    trial_id: int,
    day: dt.date,
    *,
    form: dict[str, Any] | None = None,
    form_error: ApiError | None = None,
    n_cohorts: int = 2,
) -> Response:
    try:
        m = meeting_service.meeting(
            db, trial_id, day, actor=session.caller.actor, n_cohorts=n_cohorts
        )
    except ApiError as e:
        return _render(
            request,
            "error.html",
            status_code=e.status_code,
            session=session,
            title="Cannot show this trial",
            message=e.message,
        )
    rec = m.recommendation
    decision_json = rec["decision"]
    recommended = decision_json["next_dose"]
    design_options = rec["snapshot"]["design"]
    risks = {
        level: recs.override_risks(decision_json, design_options, level)
        for level in range(1, len(m.doc.doses) + 1)
        if level != recommended
    }
    children: dict[int | None, list[PathNode]] = defaultdict(list)
    if m.paths is not None:
        for node in m.paths.nodes:
            children[node.parent].append(node)
    current = decision_json["current_dose"]
    cohort_size = int(design_options.get("cohort_size", 3))
    at_current = sorted(
        (p for p in m.doc.data.patients if p.dose_level == current and p.cohort == "escalation"),
        key=lambda p: (p.infused_day, p.patient_id),
    )[-cohort_size:]
    in_force = [d for d in m.decisions if d["superseded_by"] is None]
    return _render(
        request,
        "meeting.html",
        status_code=form_error.status_code if form_error else 200,
        session=session,
        m=m,
        rec=rec,
        d=decision_json,
        design=design_options,
        stopping=m.doc.design.stopping_rule().label,
        doses=m.doc.doses,
        recommended=recommended,
        risks=risks,
        children=children,
        cohort=at_current,
        timeline=timeline_svg(m.doc),
        stages=_stages(m.doc, decision_json),
        expansion=expansion_rows(decision_json),
        backfill=backfill_status(decision_json),
        posterior=posterior_svg(
            m.bands, m.decision, m.doc.design.target, [d.label for d in m.doc.doses]
        ),
        can_decide=Right.DECIDE in RIGHTS[session.caller.role],
        answered=next((d for d in in_force if d["recommendation_id"] == rec["id"]), None),
        form=form or {},
        form_error=form_error,
        date_of=m.doc.day_to_date,
    )


def expansion_rows(decision: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decision JSON's ``expansion`` block as table rows: one per indication and dose level
    (an indication maps to one status, or to a list of them with several expansion levels)."""
    rows: list[dict[str, Any]] = []
    for indication, status in (decision.get("expansion") or {}).items():
        for s in status if isinstance(status, list) else [status]:
            rows.append({"indication": indication} | dict(s))
    return rows


def backfill_status(decision: Mapping[str, Any]) -> dict[str, Any] | None:
    """The decision JSON's ``backfill`` block (None when the design has none): the open levels,
    the closed ones as (level, reason) pairs in level order (JSON keys are text), and, when the
    block has them, the assignment rule and the level it picks for the next backfill patient."""
    block = decision.get("backfill")
    if not isinstance(block, Mapping):
        return None
    closed = sorted((int(level), str(why)) for level, why in (block.get("closed") or {}).items())
    return {
        "open_levels": [int(x) for x in block.get("open_levels") or []],
        "closed": closed,
        "assign": block.get("assign"),
        "assign_level": block.get("assign_level"),
    }


_STATE_WORDS = {
    "dlt": "DLT",
    "complete": "complete",
    "pending": "pending",
    "withdrawn": "withdrawn",
}


def _stages(doc: TrialDocument, decision: Mapping[str, Any]) -> dict[str, Any] | None:
    """The patient list with cohorts and indications, for a trial that has either (None for a
    dose-escalation trial alone: its page is unchanged)."""
    data = doc.data
    if not (
        data.indications
        or doc.design.expansion is not None
        or "backfill" in decision
        or any(p.cohort != "escalation" or p.indication is not None for p in data.patients)
    ):
        return None
    states = {p["id"]: p["state"] for p in decision.get("patients") or []}
    rows = [
        {
            "id": p.patient_id,
            "dose_level": p.dose_level,
            "cohort": p.cohort,
            "indication": p.indication,
            "infused_on": doc.day_to_date(p.infused_day).isoformat(),
            "state": _STATE_WORDS.get(states.get(p.patient_id, ""), ""),
            "response": "unknown"
            if p.response is None
            else ("yes" if p.response else "no")
            + (f" ({doc.day_to_date(p.response_day)})" if p.response_day is not None else ""),
        }
        for p in sorted(data.patients, key=lambda p: (p.infused_day, p.patient_id))
    ]
    return {"patients": rows, "n_by_cohort": data.n_by_cohort()}


@router.post("/ui/trials/{trial_id}/decisions", response_class=HTMLResponse)
def record_decision(
    request: Request,
    trial_id: TrialId,
    db: DbDep,
    session: PageSession,
    recommendation_id: Annotated[int, Form(ge=1, le=MAX_ID)],
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    as_of: Annotated[str, Form(max_length=10)] = "",
    action: Annotated[str, Form(pattern="^(accept|override)$")] = "accept",
    dose_level: Annotated[str, Form(max_length=8)] = "",
    rationale: Annotated[str, Form(max_length=10000)] = "",
    confirm_risk: Annotated[str, Form(max_length=8)] = "",
    supersedes: Annotated[str, Form(max_length=12)] = "",
    supersede_reason: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    refused = _refused(
        request,
        session,
        Right.DECIDE,
        "record the committee's decisions",
        csrf_token,
        "record a decision",
    )
    if refused is not None:
        return refused
    day = _as_of(request, as_of) or _today(request)
    form = {
        "action": action,
        "dose_level": dose_level,
        "rationale": rationale,
        "confirm_risk": bool(confirm_risk),
        "supersedes": supersedes,
        "supersede_reason": supersede_reason,
    }
    try:
        level = None if dose_level in ("", "stop") else int(dose_level)
        replaced = int(supersedes) if supersedes else None
    except ValueError:
        err = InvalidInput.field("dose_level", f"not a dose level: {dose_level!r}")
        return _meeting_response(request, db, session, trial_id, day, form=form, form_error=err)
    try:
        recs.record_decision(
            db,
            trial_id,
            recommendation_id=recommendation_id,
            action=action,
            dose_level=level if action == "override" else None,
            rationale=rationale,
            actor=session.caller.actor,
            confirm_risk=bool(confirm_risk),
            supersedes=replaced,
            supersede_reason=supersede_reason,
        )
    except ApiError as e:
        return _meeting_response(request, db, session, trial_id, day, form=form, form_error=e)
    return RedirectResponse(f"/ui/trials/{trial_id}?as_of={day.isoformat()}#history", 303)


# ---- keys (admin) ---------------------------------------------------------------------------------
@router.get("/ui/keys", response_class=HTMLResponse)
def key_page(request: Request, db: DbDep, session: PageSession) -> Response:
    if Right.MANAGE_KEYS not in RIGHTS[session.caller.role]:
        return _forbidden(request, session, "manage API keys")
    return _keys(request, db, session)


def _keys(
    request: Request,
    db: Database,
    session: SignedIn,
    *,
    new_key: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    keys, _ = admin.list_keys(db)
    return _render(
        request,
        "keys.html",
        status_code=status_code,
        session=session,
        keys=keys,
        roles=ROLES,
        new_key=new_key,
        error=error,
    )


@router.post("/ui/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    db: DbDep,
    session: PageSession,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    refused = _refused(
        request, session, Right.MANAGE_KEYS, "manage API keys", csrf_token, "create a key"
    )
    if refused is not None:
        return refused
    try:
        _, secret = admin.create_key(db, role=role, name=name, actor=session.caller.actor)
    except ApiError as e:
        return _keys(request, db, session, error=e.message, status_code=e.status_code)
    return _keys(request, db, session, new_key=secret, status_code=201)


@router.post("/ui/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(
    request: Request,
    key_id: Annotated[int, Path(ge=1, le=MAX_ID, description="the key's id")],
    db: DbDep,
    session: PageSession,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    refused = _refused(
        request, session, Right.MANAGE_KEYS, "manage API keys", csrf_token, "revoke a key"
    )
    if refused is not None:
        return refused
    try:
        admin.revoke_key(db, key_id, actor=session.caller.actor, caller_id=session.caller.id)
    except ApiError as e:
        return _keys(request, db, session, error=e.message, status_code=e.status_code)
    return RedirectResponse("/ui/keys", status_code=303)


def install_ui(app: FastAPI) -> None:
    """Add the pages, their static assets (``/ui/static``) and the sign-in redirect."""
    from importlib.resources import files

    app.mount(
        "/ui/static", StaticFiles(directory=str(files("api.ui") / "static")), name="ui-static"
    )
    app.include_router(router)

    async def to_sign_in(_request: Request, _exc: Exception) -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    app.add_exception_handler(SignInRequired, to_sign_in)
