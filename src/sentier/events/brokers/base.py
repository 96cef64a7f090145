"""What the broker adapters share: the publisher contract, forwarding, consuming once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, or_, update
from sqlalchemy.orm import Session

from sentier.events.reader import (
    Position,
    advance_cursor,
    ensure_cursor,
    horizon,
    position_of,
    read_after,
)
from sentier.events.redact import redacting_logger
from sentier.store import session_scope
from sentier.store.models import ConsumedEvent, EventCursor, OutboxEvent

log = redacting_logger(__name__)

# A handler runs inside the transaction that records the event as consumed: its writes and
# that record commit together, so a message the broker redelivers is handled once.
Handler = Callable[[Session, dict[str, Any]], None]


class Publisher(Protocol):
    """Forwards outbox rows to a broker; ``publish`` returns once the broker has them all."""

    name: str

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> None: ...

    async def publish(self, rows: Sequence[OutboxEvent]) -> None: ...

    async def close(self) -> None: ...


def cursor_name(publisher: Publisher) -> str:
    return f"broker:{publisher.name}"


def _read(engine: Engine, name: str, limit: int) -> tuple[Position, list[OutboxEvent]]:
    horizon_tx = horizon(engine)
    with session_scope(engine) as session:
        position = ensure_cursor(session, name, horizon_tx)
        rows = list(read_after(session, position, horizon_tx, limit))
        session.expunge_all()
    return position, rows


def _advance(engine: Engine, name: str, start: Position, rows: list[OutboxEvent]) -> None:
    with session_scope(engine) as session:
        if not advance_cursor(session, name, start, position_of(rows[-1]), len(rows)):
            log.info("broker cursor %s moved by another forwarder; its copies are dedup'd", name)


def claim_forwarder(engine: Engine, name: str, owner: str, seconds: float) -> bool:
    """Take (or renew) the lease on the forwarder cursor ``name``; False when another holds it.

    Every ``sentier serve`` worker runs a forwarder; the lease makes one of them publish at a
    time, so the broker gets each batch once (a killed holder's lease expires after
    ``seconds`` and another takes over, re-publishing at most the batch in flight).
    """
    horizon_tx = horizon(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        ensure_cursor(session, name, horizon_tx)
        taken = session.execute(
            update(EventCursor)
            .where(
                EventCursor.name == name,
                or_(
                    EventCursor.lease_owner.is_(None),
                    EventCursor.lease_owner == owner,
                    EventCursor.lease_expires_at < now,
                ),
            )
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=seconds))
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def release_forwarders(engine: Engine, owner: str) -> None:
    """Give up every forwarder lease ``owner`` holds (a clean stop hands over at once)."""
    with session_scope(engine) as session:
        session.execute(
            update(EventCursor)
            .where(EventCursor.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )


async def forward_once(engine: Engine, publisher: Publisher, limit: int) -> int:
    """Publish the next batch after the publisher's cursor, then move the cursor.

    The cursor moves only after the broker confirmed every message: a crash or a dropped
    connection in between publishes the batch again (deduplicated by event id), never loses it.
    """
    name = cursor_name(publisher)
    start, rows = await asyncio.to_thread(_read, engine, name, limit)
    if not rows:
        return 0
    await publisher.publish(rows)
    await asyncio.to_thread(_advance, engine, name, start, rows)
    return len(rows)


def handle_once(
    engine: Engine, consumer: str, event: dict[str, Any], handlers: Sequence[Handler]
) -> bool:
    """Run ``handlers`` for ``event`` unless ``consumer`` already did; True when it ran."""
    from sqlalchemy.exc import IntegrityError

    with session_scope(engine) as session:
        try:
            with session.begin_nested():
                session.add(
                    ConsumedEvent(
                        consumer=consumer,
                        event_id=str(event.get("id")),
                        event_type=str(event.get("type")),
                    )
                )
                session.flush()
        except IntegrityError:
            return False
        for handler in handlers:
            handler(session, event)
    return True


def parse_structured(body: bytes) -> dict[str, Any]:
    """A structured-mode CloudEvent body, validated by the ``cloudevents`` SDK, as a dict."""
    from cloudevents.core.formats.json import JSONFormat

    from sentier.events.errors import EventsError

    try:
        JSONFormat().read(None, body)
        parsed: dict[str, Any] = json.loads(body)
    except Exception as error:
        raise EventsError(f"not a CloudEvent: {error}", field="body") from error
    return parsed
