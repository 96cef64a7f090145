"""Dependencies shared by every route: the database session, who is asking, what they may do.

Zero trust: every request is authenticated (bearer token, OIDC bearer JWT, or the portal's
signed session cookie), even from localhost.
"""

from __future__ import annotations

import logging
import re
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
from sentier.store import get_engine, is_transient, session_factory
from sentier.store.engine import auth_engine
from sentier.store.retry import describe

log = logging.getLogger("sentier.api")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_dep() -> Settings:
    return get_settings()


def _close(session: Session) -> None:
    """End the request's session. It runs once the answer has been sent, so a connection the
    database dropped meanwhile (a restart) is no error of the request: there is nothing left
    to roll back, and raising now would only break the connection the answer went out on."""
    try:
        session.rollback()
    except Exception as error:
        if not is_transient(error):
            raise
        log.warning("closing a request's session: %s", describe(error))
    finally:
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
    """The client's address (the first of X-Forwarded-For behind a trusted proxy), bounded to
    what the audit trail stores."""
    if settings.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else None


class AuthFailure(Exception):
    """Why a request is not authenticated (recorded and answered by the caller).

    ``credential``: the existing token a wrong secret was checked against (a scrypt spent);
    ``limited``: refused because failures are over their limit, nothing verified.
    """

    def __init__(self, reason: str, *, credential: str | None = None, limited: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.credential = credential
        self.limited = limited


def _fail(request: Request, settings: Settings, failure: AuthFailure | str) -> Problem:
    """Record the failed authentication (its own transaction) and say 401, or 429 when abused."""
    if isinstance(failure, str):
        failure = AuthFailure(failure)
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
            details={"reason": failure.reason},
            credential=failure.credential,
        )
        session.commit()
        limited = failure.limited or auth.address_over_limit(
            session, ip, per_minute=settings.login_failures_per_minute
        )
    finally:
        session.close()
    if limited:
        detail = (
            failure.reason if failure.limited else "too many failed authentications; wait a minute"
        )
        return Problem(429, detail, headers={"Retry-After": "60"})
    return Problem(401, failure.reason, headers={"WWW-Authenticate": 'Bearer realm="sentier"'})


# RFC 6750 ``b64token`` (API tokens and JWTs are both of this shape), of a sane length.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_CREDENTIAL = 16 * 1024


def bearer_credential(header: str) -> str:
    """The credential of an ``Authorization: Bearer`` header; anything else is refused here,
    before any lookup or hashing."""
    scheme, _, rest = header.partition(" ")
    credential = rest.strip(" ")
    if scheme.lower() != "bearer" or not credential:
        raise AuthFailure("unsupported authorization scheme (use Bearer)")
    if len(credential) > MAX_CREDENTIAL or not _B64TOKEN.fullmatch(credential):
        raise AuthFailure("malformed bearer credential")
    return credential


def verification_gate(
    request: Request, session: Session, settings: Settings
) -> Callable[[str], None]:
    """What runs just before a token's scrypt: the limits of failed authentications."""
    ip = client_ip(request, settings)

    def gate(token_id: str) -> None:
        try:
            auth.check_verification(
                session, ip=ip, token_id=token_id, per_minute=settings.login_failures_per_minute
            )
        except auth.TooManyFailures as error:
            raise AuthFailure(str(error), limited=True) from error

    return gate


def check_token(
    request: Request, session: Session, settings: Settings, secret: str, *, cheap_only: bool
) -> Principal:
    """The principal of an API token, or ``AuthFailure``; ``cheap_only``: never a scrypt
    (``auth.VerificationNeeded`` instead)."""
    gate = None if cheap_only else verification_gate(request, session, settings)
    try:
        return auth.authenticate_token(session, secret, cached_only=cheap_only, gate=gate)
    except auth.WrongSecret as error:
        raise AuthFailure(str(error), credential=error.token_id) from error
    except auth.TokenError as error:
        raise AuthFailure(str(error)) from error


def identify(
    request: Request, session: Session, settings: Settings, *, cheap_only: bool = False
) -> Principal:
    """The principal of this request, or ``AuthFailure``; reads only, writes nothing.

    ``cheap_only`` (on the event loop): what would take long (a token's first scrypt, a JWT's
    signature and perhaps its issuer's keys) raises ``auth.VerificationNeeded`` instead.
    """
    header = request.headers.get("authorization")
    if header:
        credential = bearer_credential(header)
        if credential.startswith("snt_"):
            return check_token(request, session, settings, credential, cheap_only=cheap_only)
        if auth.oidc_configured(settings):
            if cheap_only:
                raise auth.VerificationNeeded("bearer JWT")
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
            row = auth.session_token(session, web_session)
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
        raise _fail(request, settings, failure) from failure


async def current_principal(request: Request) -> Principal:
    """Who is asking. Runs on the event loop (primary-key reads) with its own small pool, so it
    never waits behind the requests' connections; what is slow or writes (a token's first
    scrypt, a JWT, recording a failure) goes to the thread pool. No scrypt ever runs on the
    loop: ``identify`` there is told to ask for a thread instead.
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    settings = get_settings()
    try:
        try:
            session = session_factory(auth_engine())()
            try:
                principal = identify(request, session, settings, cheap_only=True)
            finally:
                session.close()
        except auth.VerificationNeeded:
            principal = await run_in_threadpool(_identify_on_thread, request, settings)
    except AuthFailure as failure:
        raise await run_in_threadpool(_fail, request, settings, failure) from failure
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
