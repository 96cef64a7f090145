"""Writing many inbound messages in one statement's time, with their new ids.

A CloudEvents batch may hold thousands of events. SQLAlchemy's executemany compiles and
processes parameters per row, and its multi-row ``VALUES`` makes psycopg parse a statement
with tens of thousands of placeholders (seconds for 10,000 rows). Here:

- PostgreSQL: one ``INSERT ... SELECT FROM jsonb_array_elements(:rows) WITH ORDINALITY``, the
  per-row values (sender id, text, payload) as one JSON document that the server parses once,
  in C (text arrays cost psycopg several times more to send; ``json`` rather than ``jsonb``
  would be parsed again for each field taken out of it), the shared ones once;
- SQLite: one prepared ``INSERT`` run per row on the raw connection (the database is in the
  process: no round trip, some microseconds a row).

Both skip a sender id already stored (``ON CONFLICT DO NOTHING``: a concurrent request that
stored it first wins) and return ``{sender_id: id}`` for the rows written, in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.orm import Session

from sentier.store.models import InboundMessage


def _json(value: Any) -> str:
    # As the engine's JSON serializer writes every JSON column (sentier.store.engine).
    return orjson.dumps(value, default=str).decode()


_POSTGRESQL = text(
    """
    INSERT INTO inbound_messages
        (hook_name, kind, sender_id, received_at, content_type, headers, body, payload, status)
    SELECT :hook, :kind, u.row ->> 0, :received_at, :content_type, CAST(:headers AS jsonb),
           u.row ->> 1, CAST(u.row -> 2 AS jsonb), 'received'
    FROM jsonb_array_elements(CAST(:rows AS jsonb)) WITH ORDINALITY AS u(row, n)
    ORDER BY u.n
    ON CONFLICT (hook_name, sender_id) DO NOTHING
    RETURNING id, sender_id
    """
)
_SQLITE = (
    "INSERT INTO inbound_messages (hook_name, kind, sender_id, received_at, content_type, "
    "headers, body, payload, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'received') "
    "ON CONFLICT (hook_name, sender_id) DO NOTHING RETURNING id"
)


_KNOWN = {
    "postgresql": "SELECT json_array_elements_text(CAST(:keys AS json))",
    "sqlite": "SELECT value FROM json_each(:keys)",
}


def known_messages(session: Session, hook: str, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The messages of ``hook`` already stored under these sender ids, by sender id: their
    ``id``, ``received_at``, ``status`` and ``result``.

    The ids travel as one JSON array (an ``IN`` list of thousands of placeholders costs
    psycopg more to parse than the query takes).
    """
    if not keys:
        return {}
    table = InboundMessage.__table__
    dialect = session.get_bind().dialect.name
    query = text(
        "SELECT id, sender_id, received_at, status, result FROM inbound_messages "
        f"WHERE hook_name = :hook AND sender_id IN ({_KNOWN[dialect]})"
    ).columns(table.c.id, table.c.sender_id, table.c.received_at, table.c.status, table.c.result)
    rows = session.execute(query, {"hook": hook, "keys": _json(list(dict.fromkeys(keys)))})
    return {row.sender_id: dict(row._mapping) for row in rows}


def insert_messages(
    session: Session,
    *,
    hook: str,
    kind: str,
    received_at: datetime,
    content_type: str | None,
    headers: dict[str, Any],
    rows: Sequence[tuple[str, str, dict[str, Any]]],
) -> dict[str, int]:
    """Insert ``rows`` — ``(sender_id, text, payload)``, sender ids unique — in the session's
    transaction; the ids of those written, by sender id (a conflicting one is left out)."""
    if not rows:
        return {}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        result = session.execute(
            _POSTGRESQL,
            {
                "hook": hook,
                "kind": kind,
                "received_at": received_at,
                "content_type": content_type,
                "headers": _json(headers),
                "rows": _json(rows),
            },
        )
        return {str(sender): int(id) for id, sender in result}
    # SQLite stores times as SQLAlchemy's DateTime does: ISO text without the zone, in UTC.
    processor = InboundMessage.__table__.c.received_at.type.bind_processor(connection.dialect)
    at = processor(received_at) if processor else received_at
    shared_headers = _json(headers)
    # Serialised before the first insert, which takes SQLite's one write lock.
    values = [
        (hook, kind, sender, at, content_type, shared_headers, body, _json(payload))
        for sender, body, payload in rows
    ]
    raw = connection.connection.driver_connection
    cursor = raw.cursor()  # type: ignore[union-attr]
    ids: dict[str, int] = {}
    try:
        for row in values:
            cursor.execute(_SQLITE, row)
            found = cursor.fetchone()
            if found is not None:
                ids[row[2]] = int(found[0])
    finally:
        cursor.close()
    return ids
