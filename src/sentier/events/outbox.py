"""Writing CloudEvents into the outbox, inside the caller's transaction.

Domains call ``record`` (or ``record_many`` for bulk changes) with the same session that writes
their change; the event therefore exists exactly when the change does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from sentier.events import types as event_types
from sentier.events.redact import redact_text
from sentier.store import bulk_insert
from sentier.store.ids import uuid7
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
    id: str = field(default_factory=uuid7)
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


def type_condition(pattern: str) -> ColumnElement[bool]:
    """SQL test of ``OutboxEvent.type`` against a glob (``*``, ``?``) or, without one, a prefix."""
    if "*" not in pattern and "?" not in pattern:
        return OutboxEvent.type.startswith(pattern, autoescape=True)
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    like = escaped.replace("*", "%").replace("?", "_")
    return OutboxEvent.type.like(like, escape="\\")


def list_events(
    session: Session,
    *,
    type_prefix: str | None = None,
    subject: str | None = None,
    after_id: int = 0,
    limit: int = 100,
    types: Sequence[str] | None = None,
    owner_ref: str | None = None,
    since: datetime | None = None,
    before_id: int | None = None,
    newest_first: bool = False,
) -> Sequence[OutboxEvent]:
    """Events in outbox order (or newest first), optionally filtered; ``after_id`` pages
    forward, ``before_id`` backward.

    ``types`` are globs (``io.sentier.catalog.*``) or prefixes, any of which may match.
    Paging by id suits listing and replay; live delivery uses ``sentier.events.reader``,
    which never skips a row that commits late on PostgreSQL.
    """
    query = select(OutboxEvent).where(OutboxEvent.id > after_id)
    if before_id is not None:
        query = query.where(OutboxEvent.id < before_id)
    if type_prefix:
        query = query.where(OutboxEvent.type.startswith(type_prefix))
    if types:
        from sqlalchemy import or_

        query = query.where(or_(*(type_condition(pattern) for pattern in types)))
    if subject:
        query = query.where(OutboxEvent.subject == subject)
    if owner_ref:
        query = query.where(OutboxEvent.owner_ref == owner_ref)
    if since is not None:
        query = query.where(OutboxEvent.time >= since)
    order = OutboxEvent.id.desc() if newest_first else OutboxEvent.id
    return session.scalars(query.order_by(order).limit(limit)).all()


# Fields of sentier's own events that quote a webhook URL: redacted when listed, for events
# recorded before the dispatcher redacted them itself.
_URL_FIELDS = {
    event_types.EVENTS_DELIVERY_DEAD_LETTERED: ("last_error",),
    event_types.EVENTS_SUBSCRIPTION_DISABLED: ("url", "reason"),
}

# Digits of the ``sequence`` extension: enough for any 64-bit outbox id.
SEQUENCE_DIGITS = 20


def sequence_of(outbox_id: int) -> str:
    """The CloudEvents ``sequence`` extension of an outbox position: a string (the extension's
    type), zero-padded so that comparing two as strings orders them as their positions
    (``"00000000000000000009" < "00000000000000000010"``)."""
    return f"{outbox_id:0{SEQUENCE_DIGITS}d}"


def event_record(row: OutboxEvent) -> dict[str, Any]:
    """An outbox row as served by listings: the CloudEvent plus its position (``sequence``)."""
    record = as_cloudevent(row)
    fields = _URL_FIELDS.get(row.type)
    if fields and isinstance(row.data, dict):
        record["data"] = {
            key: redact_text(value) if key in fields and isinstance(value, str) else value
            for key, value in row.data.items()
        }
    if row.owner_ref is not None:
        record["ownerref"] = row.owner_ref
    record["sequence"] = sequence_of(row.id)
    return record


def events_page(
    session: Session,
    *,
    type: str | None = None,
    subject: str | None = None,
    after: int = 0,
    limit: int = 100,
    owner_ref: str | None = None,
    since: datetime | None = None,
    before: int | None = None,
    newest_first: bool = False,
) -> dict[str, Any]:
    """One page of the event log as plain data: ``items`` and the ``next`` cursor (or None).

    ``next`` is the ``after`` of the following page, or with ``newest_first`` its ``before``.
    Backs ``GET /api/v1/events?type=&subject=&after=`` and ``sentier events tail``.
    """
    limit = max(1, min(limit, 1000))
    rows = list_events(
        session,
        types=[type] if type else None,
        subject=subject,
        after_id=after,
        limit=limit,
        owner_ref=owner_ref,
        since=since,
        before_id=before,
        newest_first=newest_first,
    )
    return {
        "items": [event_record(row) for row in rows],
        "next": rows[-1].id if len(rows) == limit else None,
    }


def to_cloudevent(row: OutboxEvent) -> CloudEvent:
    """The outbox row as a ``cloudevents`` CloudEvent (validated by the SDK)."""
    attributes: dict[str, Any] = {
        "specversion": SPEC_VERSION,
        "id": row.event_id,
        "source": row.source,
        "type": row.type,
        "time": row.time if row.time.tzinfo else row.time.replace(tzinfo=UTC),
        "datacontenttype": DATA_CONTENT_TYPE,
    }
    if row.subject is not None:
        attributes["subject"] = row.subject
    if row.owner_ref is not None:
        attributes["ownerref"] = row.owner_ref
    if row.id is not None:
        attributes["sequence"] = sequence_of(row.id)
    return CloudEvent(attributes, row.data)


_FORMAT = JSONFormat()
STRUCTURED_CONTENT_TYPE = _FORMAT.get_content_type()


def structured_body(row: OutboxEvent) -> bytes:
    """The structured-mode JSON body (``application/cloudevents+json``) sent to receivers."""
    return _FORMAT.write(to_cloudevent(row))
