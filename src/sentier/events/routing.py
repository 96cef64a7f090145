"""Routing: turning new outbox rows into one pending delivery per matching subscription.

One transaction reads the next rows after the router's cursor (see ``reader``), inserts the
deliveries and moves the cursor: an event is routed exactly once, or not at all if the
transaction fails. A subscription's deliveries are queued in routing order, which is the
order it receives them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sentier.events import types as event_types
from sentier.events.reader import (
    advance_cursor,
    claim_cursor,
    end_position,
    has_rows_after,
    horizon,
    position_of,
    read_after,
    read_cursor,
)
from sentier.events.subscriptions import ROUTER_CURSOR, _group_closure, type_matches
from sentier.store import bulk_insert, session_scope
from sentier.store.models import OutboxEvent, WebhookDelivery, WebhookSubscription

_ABOUT_DELIVERY = (
    event_types.EVENTS_DELIVERY_DEAD_LETTERED,
    event_types.EVENTS_SUBSCRIPTION_DISABLED,
)


def matches(sub: WebhookSubscription, row: OutboxEvent, groups: frozenset[str] | None) -> bool:
    """Whether ``row`` is for ``sub``: its type filters, its owner group (and sub-groups).

    An event about a subscription's own failing deliveries is not sent to it: its endpoint
    is the one failing, and each failure would create another event for it.
    """
    if not type_matches(sub.types, row.type):
        return False
    if groups is not None and (row.owner_ref or "").lower() not in groups:
        return False
    if row.type in _ABOUT_DELIVERY and isinstance(row.data, Mapping):
        return row.data.get("subscription_id") != sub.id
    return True


def route_once(engine: Engine, *, limit: int = 500) -> int:
    """Route the next batch of events; returns how many outbox rows were taken."""
    horizon_tx = horizon(engine)
    with session_scope(engine) as session:
        # Idle polls only read: the cursor's lock (a write, the database's write lock on
        # SQLite) is taken when there is something to route.
        current = read_cursor(session, ROUTER_CURSOR)
        if current is not None and not has_rows_after(session, current, horizon_tx):
            return 0
    with session_scope(engine) as session:
        position = claim_cursor(session, ROUTER_CURSOR, horizon_tx)
        subs = list(
            session.scalars(
                select(WebhookSubscription).where(WebhookSubscription.status == "active")
            )
        )
        if not subs:
            # Nobody listens: jump to the end without reading the rows.
            end = end_position(session, horizon_tx)
            if end != position and (end.tx, end.last_id) > (position.tx, position.last_id):
                advance_cursor(session, ROUTER_CURSOR, position, end, 0)
            return 0
        rows = read_after(session, position, horizon_tx, limit)
        if not rows:
            return 0
        route_rows(session, subs, rows)
        advance_cursor(session, ROUTER_CURSOR, position, position_of(rows[-1]), len(rows))
        return len(rows)


def route_rows(
    session: Session, subs: list[WebhookSubscription], rows: list[OutboxEvent] | Any
) -> int:
    """Insert the pending deliveries of ``rows`` for ``subs``; returns how many."""
    groups = {sub.id: _group_closure(session, sub.group_ref) for sub in subs}
    now = datetime.now(UTC)
    deliveries = [
        {
            "subscription_id": sub.id,
            "outbox_id": row.id,
            "event_id": row.event_id,
            "event_type": row.type,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for row in rows
        for sub in subs
        if matches(sub, row, groups[sub.id])
    ]
    bulk_insert(session, WebhookDelivery.__table__, deliveries)  # type: ignore[arg-type]
    return len(deliveries)
