"""Portal sessions and CSRF tokens, signed with the instance's secret key.

The cookie carries the token id and a random nonce, signed and time-stamped; the token row is
checked on every request, so revoking a token ends its sessions. The CSRF token is an HMAC of
the nonce: a form posted from another site cannot know it.
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
from sqlalchemy.orm import Session

from sentier.config import Settings
from sentier.store.models import ApiToken, LoginCode

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


def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="sentier-session")


def issue_cookie(key: str, token_id: str) -> str:
    return _serializer(key).dumps({"t": token_id, "n": secrets.token_urlsafe(16)})


def read_cookie(key: str, value: str, max_age: timedelta) -> WebSession | None:
    """The session in a cookie, or None when forged, tampered with or too old."""
    try:
        data = _serializer(key).loads(value, max_age=int(max_age.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str):
        return None
    return WebSession(data["t"], str(data.get("n", "")))


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
