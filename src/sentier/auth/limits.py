"""How many failed authentications are allowed: per client address, and per token.

Two kinds of failure are told apart. Those refused without any hashing (no credential, a
malformed one, an unknown, revoked or expired token) count against their address only: past
the limit, that address's further failures are answered 429. Those that cost a scrypt (a wrong
secret for an existing token) count against the address and against the token: past either
limit, the next secret for that token, or any token secret from that address, is refused with
429 *before* its scrypt, so a flood of wrong secrets buys no CPU.

Valid credentials win: anonymous failures never count against a token's verification (behind
a proxy, one address is everyone), and a secret this process verified already is accepted
without looking at any limit. The counts are read from the audit trail, so every worker agrees.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier.auth.audit import AUTH_FAILED
from sentier.store.models import AuditEvent

WINDOW = timedelta(minutes=1)


class TooManyFailures(Exception):
    """Failed authentications are over their limit: refuse now, without verifying anything."""


def _count(session: Session, *conditions: object) -> int:
    since = datetime.now(UTC) - WINDOW
    query = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == AUTH_FAILED, AuditEvent.at >= since, *conditions)  # type: ignore[arg-type]
    )
    return session.scalar(query) or 0


def check_verification(session: Session, *, ip: str | None, token_id: str, per_minute: int) -> None:
    """Refuse (``TooManyFailures``) to check a secret for ``token_id`` when wrong secrets for
    that token, or from that address, reached ``per_minute`` in the last minute."""
    if _count(session, AuditEvent.credential == token_id) >= per_minute:
        raise TooManyFailures("too many wrong secrets for this token; wait a minute")
    if _count(session, AuditEvent.ip == ip, AuditEvent.credential.is_not(None)) >= per_minute:
        raise TooManyFailures("too many wrong token secrets from this address; wait a minute")


def address_over_limit(session: Session, ip: str | None, *, per_minute: int) -> bool:
    """True when this address's failures of any kind in the last minute exceed the limit."""
    return _count(session, AuditEvent.ip == ip) > per_minute
