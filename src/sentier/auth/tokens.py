"""API tokens: ``snt_<id>_<secret>``, shown once, stored as a salted scrypt hash.

scrypt is slow on purpose (tens of milliseconds); the verification of a given token is cached
in memory after the first success, keyed by a SHA-256 of it, so that an API under load pays the
price once per token and process, not once per request. Revocation and expiry are read from the
database on every request, so they take effect at once.

Only a well-formed secret naming an existing, usable token ever reaches scrypt, and only after
the caller's gate (the rate limit of failed authentications) let it through: a wrong secret for
a known id must not buy CPU once the limit is reached. A caller on an event loop asks for
``cached_only`` and gets ``VerificationNeeded`` instead of a scrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from sentier.auth.principal import ROLES, Principal, Role
from sentier.store.models import ApiToken, PortalSession

PREFIX = "snt"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


class TokenError(Exception):
    """A token that cannot be used: malformed, unknown, wrong, expired or revoked."""


class WrongSecret(TokenError):
    """The token exists but the secret is not its own: a failure that cost a scrypt."""

    def __init__(self, token_id: str) -> None:
        super().__init__("wrong token")
        self.token_id = token_id


class VerificationNeeded(Exception):
    """The secret is not verified in this process yet; verifying it means a scrypt."""


# ``snt_<hex id>_<url-safe secret>``, bounded: anything else is refused before any lookup.
_SHAPE = re.compile(r"snt_([0-9a-f]{1,32})_([A-Za-z0-9_-]{1,128})")


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


# A token lives at most this long: further is an input error, not a date past year 9999.
MAX_LIFETIME = timedelta(days=100 * 366)


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``45m``, ``2w`` -> a duration (for ``--expires``)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isascii() or not text[:-1].isdigit():
        raise ValueError(f"cannot read duration {text!r}: use e.g. 30d, 12h, 45m or 2w")
    try:
        duration = timedelta(**{units[text[-1]]: int(text[:-1])})
    except OverflowError:
        duration = MAX_LIFETIME * 2
    if duration > MAX_LIFETIME:
        raise ValueError(f"duration {text!r} is longer than 100 years")
    return duration


def _checked_text(value: str, what: str, *, limit: int = 255) -> str:
    """A name or group as it will be stored: real text (UTF-8), not blank, bounded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise TokenError(
            f"{what} {value!r} is not valid text (character {error.start + 1} is a lone "
            "surrogate: check the terminal's or the file's encoding)"
        ) from None
    if not value.strip() or len(value) > limit or "\x00" in value:
        raise TokenError(f"{what} {value!r} must be 1 to {limit} characters, without NUL")
    return value


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
    name = _checked_text(name, "token name")
    groups = [_checked_text(group, "group") for group in groups or []]
    if len(groups) > 100:
        raise TokenError("a token acts for at most 100 groups")
    for group in groups:
        _check_group_ref(group)
    token_id = secrets.token_hex(6)
    secret = f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    salt = secrets.token_hex(16)
    session.add(
        ApiToken(
            id=token_id,
            name=name,
            role=role,
            groups=groups,
            salt=salt,
            hash=_hash(secret, salt),
            created_by=created_by,
            expires_at=datetime.now(UTC) + expires_in if expires_in else None,
        )
    )
    session.flush()
    return IssuedToken(token_id, secret)


def _check_group_ref(group: str) -> None:
    """Groups are catalog references (``team-a``, ``group:default/team-a``)."""
    from sentier.catalog import RefError, parse_ref

    try:
        parse_ref(group, default_kind="group")
    except RefError as error:
        raise TokenError(f"group {group!r}: {error}") from None


def token_id_of(secret: str) -> str:
    match = _SHAPE.fullmatch(secret)
    if match is None:
        raise TokenError("malformed token")
    return match.group(1)


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


def authenticate_token(
    session: Session,
    secret: str,
    *,
    cached_only: bool = False,
    gate: Callable[[str], None] | None = None,
) -> Principal:
    """The principal a token stands for, or ``TokenError`` (``WrongSecret`` after a scrypt).

    A secret this process verified already is accepted at once, without ``gate``: valid
    credentials are never held back by others' failures. Otherwise ``cached_only`` raises
    ``VerificationNeeded``, and ``gate(token_id)`` runs just before the scrypt, to refuse it
    (by raising) when failures are over their limit.
    """
    token_id = token_id_of(secret)
    row = check_row(session.scalars(select(ApiToken).where(ApiToken.id == token_id)).first())
    if _VERIFIED.get((row.id, _fingerprint(secret))) != row.hash:
        if cached_only:
            raise VerificationNeeded(token_id)
        if gate is not None:
            gate(row.id)
        if not _verified(row, secret):
            raise WrongSecret(row.id)
    return principal_of(row)


def principal_of(row: ApiToken) -> Principal:
    role = cast(Role, row.role)
    return Principal(kind="token", id=row.id, name=row.name, role=role, groups=tuple(row.groups))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def revoke_token(session: Session, token_id: str) -> ApiToken:
    """Revoke a token and end its portal sessions (each request checks both anyway)."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenError(f"no token {token_id}")
    now = datetime.now(UTC)
    if row.revoked_at is None:
        row.revoked_at = now
    session.execute(
        update(PortalSession)
        .where(PortalSession.token_id == token_id, PortalSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return row
