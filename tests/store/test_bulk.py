"""Bulk writes keep every value exactly, whatever characters it holds, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from sentier.store import bulk_insert, session_scope
from sentier.store.models import OutboxEvent

TRICKY = [
    "plain",
    "tab\there",
    "new\nline",
    "back\\slash",
    "cr\rlf",
    "\\N",
    "ünïcødé ✓",
    "",
    "a\\tb",
]


def test_tricky_strings_json_and_nulls_round_trip(engine: Engine) -> None:
    when = datetime(2026, 11, 28, 12, 30, 45, 123456, tzinfo=UTC)
    rows = [
        {
            "event_id": f"id-{i}",
            "type": "io.sentier.test",
            "source": "urn:test",
            "subject": text,
            "time": when,
            "owner_ref": None if i % 2 else text,
            "data": {"value": text, "nested": [text, {"k": text}], "n": i, "none": None},
        }
        for i, text in enumerate(TRICKY)
    ]
    with session_scope(engine) as session:
        bulk_insert(session, OutboxEvent.__table__, rows)  # type: ignore[arg-type]
    with session_scope(engine) as session:
        stored = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        assert [e.subject for e in stored] == TRICKY
        assert [e.owner_ref for e in stored] == [None if i % 2 else t for i, t in enumerate(TRICKY)]
        assert [e.data for e in stored] == [row["data"] for row in rows]
        assert all(e.time.replace(tzinfo=e.time.tzinfo or UTC) == when for e in stored)
