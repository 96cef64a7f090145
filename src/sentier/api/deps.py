"""Dependencies shared by every route: the database session, who is asking, what they may do.

Zero trust: every request is authenticated (bearer token, OIDC bearer JWT, or the portal's
signed session cookie), even from localhost.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from sentier import auth
from sentier.api.problems import Problem
from sentier.auth import Principal, Role
from sentier.config import Settings, get_settings
from sentier.store import get_engine, session_factory
from sentier.store.engine import auth_engine
from sentier.store.models import ApiToken

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_dep() -> Settings:
    return get_settings()


def _close(session: Session) -> None:
    session.rollback()
    session.close()


async def db() -> AsyncIterator[Session]:
    """A session per request; routes that write commit explicitly, the rest is rolled back.

    How connections are used matters here. Routes that use this session are plain ``def``
    (FastAPI runs them on a worker thread) and the session is closed on a worker thread too:
    the event loop never waits for a pooled connection, so a full pool cannot deadlock it.
    Creating the session needs no connection, so it happens on the loop (one thread hop less);
    so does closing it on SQLite.
    """
    engine = get_engine()
    session = session_factory(engine)()
    try:
        yield session
    finally:
        if engine.dialect.name == "sqlite":
            # Ending a read on a local file takes microseconds and never waits for the pool:
            # cheaper on the loop than a second hop to a worker thread.
            _close(session)
        else:
            await run_in_threadpool(_close, session)


DB = Annotated[Session, Depends(db)]


def client_ip(request: Request, settings: Settings) -> str | None:
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else None


def _fail(request: Request, settings: Settings, reason: str) -> Problem:
    """Record the failed authentication (its own transaction) and say 401, or 429 when abused."""
    ip = client_ip(request, settings)
    session = session_factory(get_engine())()
    try:
        auth.audit(
            session,
            actor="anonymous",
            action=auth.AUTH_FAILED,
            outcome="failed",
            target=request.url.path,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
            details={"reason": reason},
        )
        session.commit()
        failures = auth.recent_failures(session, ip, within=timedelta(minutes=1))
    finally:
        session.close()
    if failures > settings.login_failures_per_minute:
        return Problem(
            429, "too many failed authentications; wait a minute", headers={"Retry-After": "60"}
        )
    return Problem(401, reason, headers={"WWW-Authenticate": 'Bearer realm="sentier"'})


class AuthFailure(Exception):
    """Why a request is not authenticated (recorded and answered by the caller)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def identify(request: Request, session: Session, settings: Settings) -> Principal:
    """The principal of this request, or ``AuthFailure``; reads only, writes nothing."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, credential = header.partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise AuthFailure("unsupported authorization scheme (use Bearer)")
        if credential.startswith("snt_"):
            try:
                return auth.authenticate_token(session, credential)
            except auth.TokenError as error:
                raise AuthFailure(str(error)) from error
        if auth.oidc_configured(settings):
            try:
                return auth.authenticate_jwt(credential, settings)
            except auth.OidcError as error:
                raise AuthFailure(f"invalid bearer JWT: {error}") from error
        raise AuthFailure("unknown bearer credential")
    cookie = request.cookies.get(auth.COOKIE)
    if cookie:
        key = auth.secret_key(settings)
        web_session = auth.read_cookie(key, cookie, timedelta(hours=settings.session_hours))
        if web_session is None:
            raise AuthFailure("invalid or expired session")
        try:
            row = auth.check_row(session.get(ApiToken, web_session.token_id))
        except auth.TokenError as error:
            raise AuthFailure(f"session ended: {error}") from error
        if request.method not in SAFE_METHODS and request.url.path.startswith("/api/"):
            # The portal posts forms with their own CSRF field; an API write riding on the
            # cookie could come from any same-site page, so it must prove it read one of ours.
            candidate = request.headers.get("x-csrf-token")
            if not auth.csrf_valid(key, web_session.nonce, candidate):
                raise AuthFailure(
                    "API writes with the session cookie need the X-CSRF-Token header "
                    "(or use a bearer token)"
                )
        request.state.web_session = web_session
        return auth.principal_of(row)
    raise AuthFailure("authentication required")


def authenticate(request: Request, session: Session, settings: Settings) -> Principal:
    """The principal of this request, or a 401 problem (recorded in the audit trail)."""
    try:
        return identify(request, session, settings)
    except AuthFailure as failure:
        raise _fail(request, settings, failure.reason) from failure


async def current_principal(request: Request) -> Principal:
    """Who is asking. Runs on the event loop (one primary-key read) with its own small pool,
    so it never waits behind the requests' connections; slow or writing paths (a token's first
    scrypt, recording a failure) go to the thread pool.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    settings = get_settings()
    header = request.headers.get("authorization", "")
    try:
        if header[7:].startswith("snt_") and not auth.tokens.is_verified(header[7:].strip()):
            principal = await run_in_threadpool(_identify_on_thread, request, settings)
        else:
            session = session_factory(auth_engine())()
            try:
                principal = identify(request, session, settings)
            finally:
                session.close()
    except AuthFailure as failure:
        raise await run_in_threadpool(_fail, request, settings, failure.reason) from failure
    request.state.principal = principal
    return principal


def _identify_on_thread(request: Request, settings: Settings) -> Principal:
    """A token's first verification (tens of ms of scrypt), off the loop and off the small
    authentication pool: many first requests at once would otherwise hold all of its
    connections during scrypt and leave the loop's quick reads waiting for one."""
    session = session_factory(get_engine())()
    try:
        return identify(request, session, settings)
    finally:
        session.close()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency refusing principals below ``role`` with 403 (recorded in the audit trail)."""

    async def dependency(request: Request, principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(role):
            await run_in_threadpool(deny, request, principal, f"requires the {role} role")
        return principal

    return dependency


def deny(request: Request, principal: Principal, reason: str, target: str | None = None) -> None:
    """Record a refused action and raise 403."""
    session = session_factory(get_engine())()
    try:
        auth.audit(
            session,
            actor=principal.label,
            action=f"{request.method.lower()} {request.url.path}",
            outcome="denied",
            target=target or request.url.path,
            ip=client_ip(request, get_settings()),
            user_agent=request.headers.get("user-agent"),
            details={"reason": reason},
        )
        session.commit()
    finally:
        session.close()
    raise Problem(403, reason)


Viewer = Annotated[Principal, Depends(require("viewer"))]
Editor = Annotated[Principal, Depends(require("editor"))]
Admin = Annotated[Principal, Depends(require("admin"))]


def audit_write(
    request: Request,
    session: Session,
    principal: Principal,
    action: str,
    target: str | None,
    details: dict[str, object] | None = None,
) -> None:
    """Record a successful write in the same transaction as the write itself."""
    auth.audit(
        session,
        actor=principal.label,
        action=action,
        outcome="ok",
        target=target,
        ip=client_ip(request, get_settings()),
        user_agent=request.headers.get("user-agent"),
        details=dict(details) if details else None,
    )
