"""Portal plumbing: templates, the logged-in user of a page, CSRF, login and logout.

Pages read the principal from the signed session cookie (or a bearer token, for a proxy doing
OIDC); a visitor without one is sent to the login page, not shown an error.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from sentier import auth
from sentier.api.deps import DB, AuthFailure, authenticate, check_token, client_ip, deny
from sentier.api.problems import Problem
from sentier.auth import Principal
from sentier.config import get_settings
from sentier.web import graph_svg

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.globals["render_graph"] = graph_svg.render


def href_of(ref: str) -> str:
    """The portal page of an entity reference."""
    kind, rest = ref.split(":", 1)
    namespace, name = rest.split("/", 1)
    return f"/catalog/{kind}/{namespace}/{name}"


templates.env.globals["href_of_ref"] = href_of

# What a link taken from data (a descriptor's links, a profile's e-mail, a rule's references)
# may point to: ``javascript:``, ``data:``, ``vbscript:`` and the rest are shown as text.
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
# Browsers drop ASCII whitespace and control characters inside a scheme (``java\tscript:``).
_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20\x7f]")


def safe_url(value: object) -> str | None:
    """``value`` when it is an absolute http(s) or mailto URL fit for an ``href``, else None.

    The one filter every template uses for URLs that come from data (``|safe_url``); None
    renders the link as plain text.
    """
    if not isinstance(value, str) or len(value) > 8192:
        return None
    url = value.strip()
    if not url or _CONTROL_OR_SPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in LINK_SCHEMES:
        return None
    if scheme != "mailto" and not parts.netloc:
        return None
    return url


templates.env.filters["safe_url"] = safe_url
LOGIN_CSRF_COOKIE = "sentier_login_csrf"

# (path, label, minimum role): the sidebar; other domains append their pages here.
NAV: list[tuple[str, str, str]] = [
    ("/", "Home", "viewer"),
    ("/catalog", "Catalog", "viewer"),
    ("/policy", "Security", "viewer"),
    ("/finops", "FinOps", "viewer"),
    ("/greenops", "GreenOps", "viewer"),
    ("/incidents", "Incidents", "viewer"),
    ("/detect", "Detections", "viewer"),
    ("/events", "Events", "viewer"),
    ("/webhooks", "Webhooks", "viewer"),
    ("/sources", "Sources", "viewer"),
    ("/audit", "Audit log", "admin"),
]


class LoginRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def web_principal(request: Request, session: DB) -> Principal:
    """The user of this page; anonymous visitors are redirected to the login page."""
    if not request.cookies.get(auth.COOKIE) and not request.headers.get("authorization"):
        raise LoginRequired(request.url.path)
    try:
        principal = authenticate(request, session, get_settings())
    except Problem as problem:
        if problem.status == 401:
            raise LoginRequired(request.url.path) from problem
        raise
    request.state.principal = principal
    return principal


WebUser = Annotated[Principal, Depends(web_principal)]


def csrf_for(request: Request) -> str:
    web_session = getattr(request.state, "web_session", None)
    if web_session is None:
        return ""
    return auth.csrf_token(auth.secret_key(get_settings()), web_session.nonce)


def check_csrf(request: Request, principal: Principal, candidate: str | None) -> None:
    """Refuse a form post whose CSRF token is missing or wrong (a cross-site post)."""
    web_session = getattr(request.state, "web_session", None)
    key = auth.secret_key(get_settings())
    if web_session is None or not auth.csrf_valid(key, web_session.nonce, candidate):
        deny(request, principal, "missing or invalid CSRF token")


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    nav = [(path, label) for path, label, role in NAV if principal and principal.has_role(role)]  # type: ignore[arg-type]
    base = {
        "request": request,
        "principal": principal,
        "nav": nav,
        "csrf": csrf_for(request),
        "path": request.url.path,
    }
    return templates.TemplateResponse(
        request, template, {**base, **context}, status_code=status_code
    )


def _safe_next(next_path: str | None) -> str:
    if next_path and next_path.startswith("/") and not next_path.startswith("//"):
        return next_path
    return "/"


router = APIRouter(include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", {"next": _safe_next(next), "login_csrf": token, "error": None}
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        max_age=3600,
        secure=request.url.scheme == "https",
    )
    return response


def _start_session(
    request: Request, session: Session, token_id: str, target: str
) -> RedirectResponse:
    """Record a portal session for ``token_id`` (committed) and hand its cookie over."""
    settings = get_settings()
    lifetime = timedelta(hours=settings.session_hours)
    cookie = auth.open_session(session, auth.secret_key(settings), token_id, lifetime=lifetime)
    session.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        auth.COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(lifetime.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/login", response_model=None)
def login(
    request: Request,
    session: DB,
    token: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Exchange an API token for a session cookie; failures are audited and rate-limited.

    The limits are those of the API (``auth.limits``): a wrong secret for an existing token is
    refused before its scrypt once failures are over the limit, and failures without a valid
    token (an empty form, a malformed or unknown token) never lock out a valid one.
    """
    settings = get_settings()
    ip = client_ip(request, settings)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not auth.same_secret(expected or "", csrf):
        raise Problem(403, "missing or invalid CSRF token")
    try:
        principal = check_token(request, session, settings, token.strip(), cheap_only=False)
    except AuthFailure as failure:
        auth.audit(
            session,
            actor="anonymous",
            action=auth.AUTH_FAILED,
            outcome="failed",
            target="/login",
            ip=ip,
            user_agent=request.headers.get("user-agent"),
            details={"reason": failure.reason},
            credential=failure.credential,
        )
        session.commit()
        if failure.limited or auth.address_over_limit(
            session, ip, per_minute=settings.login_failures_per_minute
        ):
            raise Problem(
                429, "too many failed logins; wait a minute", headers={"Retry-After": "60"}
            ) from failure
        fresh = secrets.token_urlsafe(24)
        response = render(
            request,
            "login.html",
            {"next": _safe_next(next), "login_csrf": fresh, "error": "That token is not valid."},
            status_code=401,
        )
        response.set_cookie(
            LOGIN_CSRF_COOKIE, fresh, httponly=True, samesite="strict", max_age=3600
        )
        return response
    auth.audit(
        session,
        actor=principal.label,
        action="auth.login",
        outcome="ok",
        target="/login",
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    return _start_session(request, session, principal.id, _safe_next(next))


@router.get("/login/one-time/{code}", response_model=None)
def one_time_login(code: str, request: Request, session: DB) -> Response:
    """A single-use link (``sentier token login-link``) that opens a session."""
    token_id = auth.redeem_login_code(session, code)
    ip = client_ip(request, get_settings())
    if token_id is None:
        auth.audit(
            session,
            actor="anonymous",
            action=auth.AUTH_FAILED,
            outcome="failed",
            target="/login/one-time",
            ip=ip,
            details={"reason": "unknown, used or expired link"},
        )
        session.commit()
        return RedirectResponse("/login", status_code=303)
    auth.audit(
        session,
        actor=f"token:{token_id}",
        action="auth.login",
        outcome="ok",
        target="/login/one-time",
        ip=ip,
    )
    return _start_session(request, session, token_id, "/")


@router.post("/logout", response_model=None)
def logout(
    request: Request, principal: WebUser, session: DB, csrf: Annotated[str, Form()] = ""
) -> Response:
    """End the session in the database (every copy of the cookie stops working), then drop
    the cookie."""
    check_csrf(request, principal, csrf)
    web_session = getattr(request.state, "web_session", None)
    if web_session is not None:
        auth.end_session(session, web_session)
        auth.audit(
            session,
            actor=principal.label,
            action="auth.logout",
            outcome="ok",
            target="/logout",
            ip=client_ip(request, get_settings()),
            user_agent=request.headers.get("user-agent"),
        )
        session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.COOKIE)
    return response


def install(app: FastAPI) -> None:
    """Mount the portal's static files, pages and the login redirect on ``app``."""
    import importlib

    from sentier.web.pages import PAGE_MODULES

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.include_router(router)
    for module in PAGE_MODULES:
        app.include_router(importlib.import_module(module).router)

    async def redirect_to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        response = RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)
        if request.cookies.get(auth.COOKIE):
            response.delete_cookie(auth.COOKIE)
        return response

    app.add_exception_handler(LoginRequired, redirect_to_login)
