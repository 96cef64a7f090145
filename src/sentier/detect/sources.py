"""Where records come from: log files, and what sentier already receives and writes.

``read_log_files`` reads files as ``sentier detect run`` does. ``poll`` reads, after the
detection consumer's own cursors, the payloads the inbound hooks stored (CloudEvents —
CloudTrail records among them — and Alertmanager notifications), the audit log, and sentier's
own event log (findings opened or fixed, incidents), runs the rules over them and records the
detections, all in the caller's transaction: a crash leaves the cursors where they were and
the next poll does the batch again (detections are idempotent by key).

Polls go on where the last one stopped, whichever process ran it: the correlation windows
still open are stored beside each cursor (``StreamEngine.snapshot``, at most
``SNAPSHOT_WINDOWS`` per correlation) and reopened by the next poll, so a burst spread over
several polls counts as one. A window is closed once it ended ``LATE_SECONDS`` ago by the
clock (its closing conditions — ``lt``, ``lte``, ``eq`` — are then judged); a record arriving
later than that for a closed window counts in a fresh one. Several processes (``sentier
serve`` workers, the CLI) take turns: on PostgreSQL a poll takes a transaction-scoped
advisory lock and skips when another holds it; on SQLite its first write takes the
database's write lock, and the next waits for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.detect.engine import Detection, StreamEngine
from sentier.detect.errors import DetectError
from sentier.detect.records import (
    LineReader,
    Record,
    from_alertmanager,
    from_audit,
    from_cloudevent,
    from_outbox,
)
from sentier.detect.rules import RuleSet
from sentier.detect.store import advance, cursor_state, record_detections, take_poll_lock

MAX_LINES = 10_000_000  # per file
MAX_LINE = 65_536  # characters


def read_log_files(
    paths: Sequence[Path], *, year: int | None = None, logsource: dict[str, str] | None = None
) -> list[Record]:
    """The records of log files (syslog, access logs, JSON lines), numbered in file order."""
    records: list[Record] = []
    for path in paths:
        if not path.is_file():
            raise DetectError("no such file", file=str(path))
        reader = LineReader(str(path), year=year, logsource=dict(logsource or {}))
        try:
            with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
                for number, raw in enumerate(handle, start=1):
                    if number > MAX_LINES:
                        break
                    for record in reader.read(raw.rstrip("\r\n")[:MAX_LINE], number):
                        record.seq = len(records)
                        records.append(record)
        except OSError as error:
            raise DetectError(f"cannot read: {error.strerror}", file=str(path)) from error
    return records


def _inbound(session: Session, after: int, limit: int) -> tuple[list[Record], int]:
    from sentier import events

    records: list[Record] = []
    last = after
    for message in events.list_inbound(session, after=after, limit=limit):
        last = max(last, int(message["id"]))
        payload = message.get("payload")
        where = f"inbound:{message['id']}"
        if not isinstance(payload, Mapping):
            continue
        if message["kind"] == "cloudevents":
            records.append(from_cloudevent(payload, where))
        elif message["kind"] == "alertmanager":
            records.extend(from_alertmanager(payload, where))
    return records, last


def _audit(session: Session, after: int, limit: int) -> tuple[list[Record], int]:
    from sentier.store.models import AuditEvent

    rows = session.scalars(
        select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id).limit(limit)
    )
    records = []
    last = after
    for row in rows:
        last = max(last, int(row.id))
        records.append(
            from_audit(
                row.id,
                row.at,
                row.actor,
                row.action,
                row.outcome,
                row.target,
                row.ip,
                row.user_agent,
                row.details,
            )
        )
    return records, last


def _outbox(session: Session, after: int, limit: int) -> tuple[list[Record], int]:
    from sentier import events

    records = []
    last = after
    for row in events.list_events(session, after_id=after, limit=limit):
        last = max(last, int(row.id))
        record = from_outbox(events.as_cloudevent(row), f"event:{row.id}")
        if record is not None:
            records.append(record)
    return records, last


SOURCES = {"inbound": _inbound, "audit": _audit, "outbox": _outbox}


LATE_SECONDS = 300


def poll(
    session: Session, ruleset: RuleSet, *, limit: int = 1000, now: datetime | None = None
) -> dict[str, Any]:
    """One pass over every source after its cursor (see the module's docstring); returns per
    source what it read and stored, or ``{"skipped": ...}`` when another poll holds the lock."""
    if not take_poll_lock(session):
        return {"skipped": "another poll is under way"}
    clock = now or datetime.now(UTC)
    report: dict[str, Any] = {}
    for name, read in SOURCES.items():
        position, state = cursor_state(session, name)
        records, last = read(session, position, limit)
        records.sort(key=lambda r: r.at)
        for seq, record in enumerate(records):
            record.seq = seq
        engine = StreamEngine(ruleset)
        if state:
            engine.restore(state)
        found: list[Detection] = []
        for record in records:
            found.extend(engine.process(record))
        found.extend(engine.expire(clock - timedelta(seconds=LATE_SECONDS)))
        stored = record_detections(session, found, source=name) if found else {"new": 0}
        advance(session, name, last, state=engine.snapshot())
        report[name] = {"records": len(records), "detections": len(found), **stored}
    return report


__all__ = ["LATE_SECONDS", "poll", "read_log_files"]
