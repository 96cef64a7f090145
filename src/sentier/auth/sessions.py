"""Portal sessions and CSRF tokens, signed with the instance's secret key.

The cookie carries the token id, a random nonce and the session's own secret, signed and
time-stamped. The session is a row of ``portal_sessions`` (keyed by a SHA-256 of its secret),
checked with the token's row on every request: logging out ends that session for every copy
of the cookie and every worker; revoking the token ends all its sessions. The CSRF token is an
HMAC of the nonce: a form posted from another site cannot know it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sentier.auth.tokens import TokenError, check_row
from sentier.config import Settings
from sentier.store.models import ApiToken, LoginCode, PortalSession

COOKIE = "sentier_session"


def secret_key(settings: Settings) -> str:
    """The configured key, or one generated once under SENTIER_HOME (mode 0600)."""
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.home) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


@dataclass(frozen=True, slots=True)
class WebSession:
    token_id: str
    nonce: str
    secret: str  # names the session's row (by its SHA-256); never stored in clear


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="sentier-session")


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def open_session(session: Session, key: str, token_id: str, *, lifetime: timedelta) -> str:
    """Record a new portal session for ``token_id``; the signed cookie value naming it.

    Sessions past their end are deleted on the way (a login is rare, the table stays small).
    """
    now = datetime.now(UTC)
    session.execute(delete(PortalSession).where(PortalSession.expires_at < now))
    secret = secrets.token_urlsafe(32)
    session.add(PortalSession(id=_digest(secret), token_id=token_id, expires_at=now + lifetime))
    session.flush()
    return _serializer(key).dumps({"t": token_id, "n": secrets.token_urlsafe(16), "s": secret})


def read_cookie(key: str, value: str, max_age: timedelta) -> WebSession | None:
    """The session in a cookie, or None when forged, tampered with, too old or of the old kind
    (without a session secret: those cannot be ended, so they are no longer accepted)."""
    try:
        data = _serializer(key).loads(value, max_age=int(max_age.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    token_id, nonce, secret = data.get("t"), data.get("n"), data.get("s")
    if not (isinstance(token_id, str) and isinstance(nonce, str) and isinstance(secret, str)):
        return None
    return WebSession(token_id, nonce, secret)


def session_token(session: Session, web_session: WebSession) -> ApiToken:
    """The token behind a live portal session, or ``TokenError`` saying why it ended."""
    found = session.execute(
        select(PortalSession, ApiToken)
        .join(ApiToken, ApiToken.id == PortalSession.token_id)
        .where(PortalSession.id == _digest(web_session.secret))
    ).first()
    if found is None or found[0].token_id != web_session.token_id:
        raise TokenError("unknown session")
    portal, token = found
    if portal.revoked_at is not None:
        raise TokenError("logged out")
    expires = portal.expires_at
    if (expires if expires.tzinfo else expires.replace(tzinfo=UTC)) <= datetime.now(UTC):
        raise TokenError("session expired")
    return check_row(token)


def end_session(session: Session, web_session: WebSession) -> None:
    """Log out: the session's row is marked ended, so no copy of its cookie works again."""
    row = session.get(PortalSession, _digest(web_session.secret))
    if row is not None and row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)


def csrf_token(key: str, nonce: str) -> str:
    return hmac.new(key.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def same_secret(expected: str, given: str | None) -> bool:
    """Constant-time equality of two secrets, compared as UTF-8 bytes.

    ``hmac.compare_digest`` raises ``TypeError`` on ``str`` holding non-ASCII characters, so a
    forged value like ``é`` would otherwise turn a refusal into a server error.
    """
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "replace"))


def csrf_valid(key: str, nonce: str, candidate: str | None) -> bool:
    return same_secret(csrf_token(key, nonce), candidate)


def create_login_code(session: Session, token: ApiToken, *, ttl: timedelta) -> str:
    """A single-use code that logs a browser in as ``token`` (for one-click demo links)."""
    code_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    session.add(
        LoginCode(
            id=code_id,
            hash=hashlib.sha256(secret.encode()).hexdigest(),
            token_id=token.id,
            expires_at=datetime.now(UTC) + ttl,
        )
    )
    session.flush()
    return f"{code_id}.{secret}"


def redeem_login_code(session: Session, code: str) -> str | None:
    """The token id the code stands for, once; None when unknown, used or expired."""
    code_id, _, secret = code.partition(".")
    row = session.get(LoginCode, code_id)
    if row is None or row.used_at is not None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        return None
    if not same_secret(row.hash, hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()):
        return None
    row.used_at = datetime.now(UTC)
    return row.token_id
