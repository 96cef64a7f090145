"""API tokens: ``snt_<id>_<secret>``, shown once, stored as a salted scrypt hash.

scrypt is slow on purpose (tens of milliseconds); the verification of a given token is cached
in memory after the first success, keyed by a SHA-256 of it, so that an API under load pays the
price once per token and process, not once per request. Revocation and expiry are read from the
database on every request, so they take effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.auth.principal import ROLES, Principal, Role
from sentier.store.models import ApiToken

PREFIX = "snt"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class TokenError(Exception):
    """A token that cannot be used: malformed, unknown, wrong, expired or revoked."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: str
    secret: str  # the whole ``snt_...`` string: shown once, never stored

    def __str__(self) -> str:
        return self.secret


def _hash(secret: str, salt: str) -> str:
    return hashlib.scrypt(secret.encode(), salt=bytes.fromhex(salt), **_SCRYPT).hex()


# (token id, SHA-256 of the presented secret) -> the stored hash it was verified against.
_VERIFIED: dict[tuple[str, str], str] = {}
_VERIFIED_MAX = 4096


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def is_verified(secret: str) -> bool:
    """True when this exact secret was already verified by this process (cheap to accept)."""
    try:
        token_id = token_id_of(secret)
    except TokenError:
        return True  # refused without any hashing anyway
    return (token_id, _fingerprint(secret)) in _VERIFIED


# One scrypt at a time per presented secret: a burst of first requests with a new token waits
# for one verification instead of running scrypt once each (CPU the other requests need).
_PENDING: dict[tuple[str, str], threading.Lock] = {}
_PENDING_GUARD = threading.Lock()


def _verified(row: ApiToken, secret: str) -> bool:
    key = (row.id, _fingerprint(secret))
    if _VERIFIED.get(key) == row.hash:
        return True
    with _PENDING_GUARD:
        lock = _PENDING.setdefault(key, threading.Lock())
    try:
        with lock:
            if _VERIFIED.get(key) == row.hash:
                return True
            if not hmac.compare_digest(_hash(secret, row.salt), row.hash):
                return False
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[key] = row.hash
            return True
    finally:
        with _PENDING_GUARD:
            _PENDING.pop(key, None)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


MAX_DAYS = 36_500


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``45m``, ``2w`` -> a duration (for ``--expires``)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit():
        raise ValueError(f"cannot read duration {text!r}: use e.g. 30d, 12h, 45m or 2w")
    amount = int(text[:-1])
    longest = {"m": 60 * 24 * MAX_DAYS, "h": 24 * MAX_DAYS, "d": MAX_DAYS, "w": MAX_DAYS // 7}
    if amount > longest[text[-1]]:
        # Past this a token's expiry date is out of range (and no token should live longer).
        raise ValueError(f"duration {text!r} is too long: at most {MAX_DAYS} days")
    return timedelta(**{units[text[-1]]: amount})


def create_token(
    session: Session,
    *,
    name: str,
    role: Role,
    groups: list[str] | None = None,
    expires_in: timedelta | None = None,
    created_by: str | None = None,
) -> IssuedToken:
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    token_id = secrets.token_hex(6)
    secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_hex(16)
    session.add(
        ApiToken(
            id=token_id,
            name=name,
            role=role,
            groups=list(groups or []),
            salt=salt,
            hash=_hash(secret, salt),
            created_by=created_by,
            expires_at=datetime.now(UTC) + expires_in if expires_in else None,
        )
    )
    session.flush()
    return IssuedToken(token_id, secret)


def token_id_of(secret: str) -> str:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1]:
        raise TokenError("malformed token")
    return parts[1]


def check_row(row: ApiToken | None, now: datetime | None = None) -> ApiToken:
    """Refuse unknown, revoked and expired tokens."""
    now = now or datetime.now(UTC)
    if row is None:
        raise TokenError("unknown token")
    if row.revoked_at is not None:
        raise TokenError("token revoked")
    expires = _as_utc(row.expires_at)
    if expires is not None and expires <= now:
        raise TokenError("token expired")
    return row


def authenticate_token(session: Session, secret: str) -> Principal:
    """The principal a token stands for, or ``TokenError``."""
    token_id = token_id_of(secret)
    row = check_row(session.scalars(select(ApiToken).where(ApiToken.id == token_id)).first())
    if not _verified(row, secret):
        raise TokenError("wrong token")
    return principal_of(row)


def principal_of(row: ApiToken) -> Principal:
    role = cast(Role, row.role)
    return Principal(kind="token", id=row.id, name=row.name, role=role, groups=tuple(row.groups))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def revoke_token(session: Session, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError(f"no token {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
    return row
