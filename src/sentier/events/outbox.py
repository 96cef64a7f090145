"""Writing CloudEvents into the outbox, inside the caller's transaction.

Domains call ``record`` (or ``record_many`` for bulk changes) with the same session that writes
their change; the event therefore exists exactly when the change does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.store import bulk_insert
from sentier.store.models import OutboxEvent

SPEC_VERSION = "1.0"
DATA_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A CloudEvent about to be written: ``type``, ``subject`` and the change as ``data``."""

    type: str
    subject: str | None
    data: dict[str, Any] | None
    owner_ref: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


def _source() -> str:
    from sentier.config import get_settings

    return get_settings().instance


def record_many(session: Session, events: Iterable[PendingEvent]) -> list[str]:
    """Append events to the outbox in the session's transaction; returns their ids."""
    source = _source()
    rows: list[dict[str, Any]] = [
        {
            "event_id": event.id,
            "type": event.type,
            "source": source,
            "subject": event.subject,
            "time": event.time,
            "owner_ref": event.owner_ref,
            "data": event.data,
        }
        for event in events
    ]
    session.flush()
    bulk_insert(session, OutboxEvent.__table__, rows)  # type: ignore[arg-type]
    return [str(row["event_id"]) for row in rows]


def record(
    session: Session,
    type: str,
    subject: str | None,
    data: dict[str, Any] | None,
    *,
    owner_ref: str | None = None,
) -> str:
    """Append one event to the outbox in the session's transaction; returns its id."""
    return record_many(session, [PendingEvent(type, subject, data, owner_ref)])[0]


def as_cloudevent(row: OutboxEvent) -> dict[str, Any]:
    """The structured-mode CloudEvents 1.0 JSON form of an outbox row."""
    event: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": row.event_id,
        "source": row.source,
        "type": row.type,
        "time": row.time.astimezone(UTC).isoformat().replace("+00:00", "Z")
        if row.time.tzinfo
        else row.time.isoformat() + "Z",
        "datacontenttype": DATA_CONTENT_TYPE,
    }
    if row.subject is not None:
        event["subject"] = row.subject
    if row.data is not None:
        event["data"] = row.data
    return event


def list_events(
    session: Session,
    *,
    type_prefix: str | None = None,
    subject: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> Sequence[OutboxEvent]:
    """Events in outbox order, optionally filtered; ``after_id`` pages forward."""
    query = select(OutboxEvent).where(OutboxEvent.id > after_id)
    if type_prefix:
        query = query.where(OutboxEvent.type.startswith(type_prefix))
    if subject:
        query = query.where(OutboxEvent.subject == subject)
    return session.scalars(query.order_by(OutboxEvent.id).limit(limit)).all()
