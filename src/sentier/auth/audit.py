"""The append-only audit trail: who did what, when, from where, with which outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier.store.models import AuditEvent

Outcome = Literal["ok", "denied", "failed"]
AUTH_FAILED = "auth.failed"
# The width of audit_events.action: a refusal names its action "<method> <path>", which a long
# path (an entity uid in it) would make longer; the full path stays in ``target``.
MAX_ACTION = 64


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    outcome: Outcome,
    target: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    credential: str | None = None,
) -> None:
    """Append an event; ``credential`` names the token of a wrong secret (``auth.limits``)."""
    session.add(
        AuditEvent(
            actor=actor,
            action=action[:MAX_ACTION],
            outcome=outcome,
            target=target,
            ip=ip,
            user_agent=(user_agent or "")[:512] or None,
            details=details,
            credential=credential,
        )
    )


def recent_failures(session: Session, ip: str | None, *, within: timedelta) -> int:
    """Failed authentications from one client address lately (rate limiting, across workers)."""
    since = datetime.now(UTC) - within
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == AUTH_FAILED, AuditEvent.ip == ip, AuditEvent.at >= since)
        )
        or 0
    )


def list_audit(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Newest first; ``before_id`` pages backwards."""
    query = select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    if actor:
        query = query.where(AuditEvent.actor.contains(actor, autoescape=True))
    if before_id:
        query = query.where(AuditEvent.id < before_id)
    return session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)).all()
