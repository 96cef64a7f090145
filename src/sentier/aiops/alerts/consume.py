"""Alerts that arrived through the inbound hooks become incidents, without anyone running a command.

The events domain stores every Alertmanager notification and CloudEvent its hooks accept,
raw, in ``inbound_messages`` (``events.list_inbound``). This consumer takes the unconsumed
ones in arrival order, normalises them, correlates them into incidents and marks them
consumed, all in one transaction: a crash half-way leaves the messages unconsumed and the
incidents untouched, and the next run does the whole batch again. Correlation is idempotent
(a notification already applied changes nothing), so even a batch taken twice by two
workers racing each other counts once.

A CloudEvent that does not describe an alert (a deployment, say) is taken too (the AIOps
domain is the only consumer of inbound messages) and counted as ``ignored``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sentier import events
from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.incidents import IngestResult, ingest_alerts, serialise_ingestion
from sentier.aiops.alerts.model import Alert
from sentier.aiops.alerts.normalise import normalise

ALERT_KINDS = ("alertmanager", "cloudevents")
# Fields of a CloudEvent's data that make it an alert (beside an "alert" in its type).
_ALERT_FIELDS = ("alertname", "status", "severity", "labels", "startsAt", "starts_at")


@dataclass
class ConsumeResult:
    """What one or several batches did; ``problems`` name the message and the field."""

    messages: int = 0
    ignored: int = 0
    malformed: int = 0
    problems: list[str] = field(default_factory=list)
    ingest: IngestResult = field(default_factory=IngestResult)

    def add(self, other: ConsumeResult) -> None:
        self.messages += other.messages
        self.ignored += other.ignored
        self.malformed += other.malformed
        self.problems.extend(other.problems)
        mine, theirs = self.ingest, other.ingest
        mine.received += theirs.received
        mine.outcomes.update(theirs.outcomes)
        mine.unresolved += theirs.unresolved
        for name in ("opened", "updated", "resolved"):
            listed = getattr(mine, name)
            listed.extend(k for k in getattr(theirs, name) if k not in listed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "ignored": self.ignored,
            "malformed": self.malformed,
            "problems": self.problems[:50],
            **self.ingest.as_dict(),
        }


def is_alert_event(event: Mapping[str, Any]) -> bool:
    """Whether a stored CloudEvent describes an alert (else it is not AIOps' business)."""
    if "alert" in str(event.get("type", "")).lower():
        return True
    data = event.get("data")
    return isinstance(data, Mapping) and any(key in data for key in _ALERT_FIELDS)


def _unconsumed(session: Session, limit: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for kind in ALERT_KINDS:
        messages.extend(events.list_inbound(session, kind=kind, unconsumed=True, limit=limit))
    messages.sort(key=lambda m: int(m["id"]))
    return messages[:limit]


def consume_batch(
    session: Session, *, limit: int = 500, graph: DependencyGraph | None = None
) -> ConsumeResult:
    """Take up to ``limit`` unconsumed alert messages into incidents, in the caller's
    transaction (commit it to make the batch count; roll back and nothing happened)."""
    serialise_ingestion(session)
    result = ConsumeResult()
    messages = _unconsumed(session, limit)
    if not messages:
        return result
    alerts: list[Alert] = []
    for message in messages:
        payload = message.get("payload")
        where = f"inbound message {message['id']} (hook {message['hook']})"
        if message["kind"] == "cloudevents" and (
            not isinstance(payload, Mapping) or not is_alert_event(payload)
        ):
            result.ignored += 1
            continue
        found = normalise(payload, where)
        alerts.extend(found.alerts)
        result.malformed += len(found.problems)
        result.problems.extend(str(p) for p in found.problems)
    result.messages = len(messages)
    if alerts:
        result.ingest = ingest_alerts(session, alerts, graph=graph)
    events.mark_consumed(session, [int(m["id"]) for m in messages])
    return result


def consume_all(
    engine: Engine, *, batch: int = 500, max_batches: int | None = None
) -> ConsumeResult:
    """Drain the unconsumed alert messages, one transaction per batch, until none is left."""
    from sentier.store import session_scope

    total = ConsumeResult()
    done = 0
    while max_batches is None or done < max_batches:
        with session_scope(engine) as session:
            result = consume_batch(session, limit=batch)
        done += 1
        total.add(result)
        if result.messages < batch:
            break
    return total


__all__ = ["ALERT_KINDS", "ConsumeResult", "consume_all", "consume_batch", "is_alert_event"]
