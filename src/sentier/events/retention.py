"""Retention: events, finished deliveries and consumed-message records older than the window.

An event is kept, whatever its age, while a delivery of it is still pending or a reader of the
outbox (a broker forwarder) has not passed it; and the newest event is always kept, since on
SQLite a deleted highest id would be handed out again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from sentier.store.models import (
    ConsumedEvent,
    EventCursor,
    InboundMessage,
    OutboxEvent,
    WebhookDelivery,
)


def purge_expired(
    session: Session, *, retention_days: float | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Delete what is older than the retention window; returns counts and the cutoff."""
    from sentier.events.settings import get_events_settings

    days = retention_days if retention_days is not None else get_events_settings().retention_days
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    deliveries = session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != "pending", WebhookDelivery.created_at < cutoff
        )
    ).rowcount  # type: ignore[attr-defined]
    conditions = [
        OutboxEvent.time < cutoff,
        OutboxEvent.id < select(func.max(OutboxEvent.id)).scalar_subquery(),
        ~exists().where(WebhookDelivery.outbox_id == OutboxEvent.id),
    ]
    postgres = session.get_bind().dialect.name == "postgresql"
    for cursor in session.scalars(select(EventCursor)):
        if postgres:
            conditions.append(
                tuple_(OutboxEvent.tx, OutboxEvent.id) <= tuple_(cursor.tx, cursor.last_id)
            )
        else:
            conditions.append(OutboxEvent.id <= cursor.last_id)
    events = session.execute(delete(OutboxEvent).where(and_(*conditions))).rowcount  # type: ignore[attr-defined]
    consumed = session.execute(
        delete(ConsumedEvent).where(ConsumedEvent.consumed_at < cutoff)
    ).rowcount  # type: ignore[attr-defined]
    inbound = session.execute(
        delete(InboundMessage).where(
            InboundMessage.received_at < cutoff,
            or_(InboundMessage.consumed_at.is_not(None), InboundMessage.kind == "git"),
        )
    ).rowcount  # type: ignore[attr-defined]
    return {
        "cutoff": cutoff,
        "events": int(events),
        "deliveries": int(deliveries),
        "consumed_records": int(consumed),
        "inbound_messages": int(inbound),
    }
