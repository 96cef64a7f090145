"""Incidents in the store: ingest alerts (load state, correlate, save, emit events), read, ack.

Every function takes a session and returns plain data; the caller owns the transaction, so
the alerts, the incidents, their timelines and the CloudEvents describing them are written
together or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, text
from sqlalchemy.orm import Session

from sentier import events
from sentier.aiops.alerts.correlate import (
    ACKNOWLEDGED,
    ACTIVE,
    MERGED,
    AlertRecord,
    CorrelationSettings,
    Correlator,
    IncidentRecord,
)
from sentier.aiops.alerts.graph import DependencyGraph, graph_from_catalog
from sentier.aiops.alerts.model import RESOLVED, Alert
from sentier.aiops.alerts.normalise import sort_for_replay
from sentier.aiops.errors import AIOpsError
from sentier.events.types import (
    AIOPS_INCIDENT_ACKNOWLEDGED,
    AIOPS_INCIDENT_MERGED,
    AIOPS_INCIDENT_OPENED,
    AIOPS_INCIDENT_REOPENED,
    AIOPS_INCIDENT_RESOLVED,
    AIOPS_INCIDENT_UPDATED,
)
from sentier.store.models import Alert as AlertRow
from sentier.store.models import Incident, IncidentEvent, utcnow


@dataclass
class IngestResult:
    received: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    unresolved: int = 0
    opened: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "new_alerts": self.outcomes["new"],
            "duplicates": self.outcomes["duplicate"],
            "flaps": self.outcomes["flap"],
            "resolutions": self.outcomes["resolved"],
            "unknown_resolutions": self.outcomes["orphan-resolution"],
            "alerts_without_catalog_entity": self.unresolved,
            "incidents_opened": self.opened,
            "incidents_updated": self.updated,
            "incidents_resolved": self.resolved,
        }


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record_from_row(row: AlertRow) -> AlertRecord:
    alert = Alert(
        source=row.source,
        fingerprint=row.fingerprint,
        name=row.name,
        status=row.status,
        severity=row.severity,
        starts_at=_aware(row.starts_at) or utcnow(),
        ends_at=_aware(row.ends_at),
        summary=row.summary,
        labels=dict(row.labels or {}),
        annotations=dict(row.annotations or {}),
        entity_hint=row.unresolved_entity,
        entity=row.entity_ref,
        strength=row.strength,
    )
    return AlertRecord(
        alert,
        row.status,
        _aware(row.starts_at) or utcnow(),
        _aware(row.last_received_at) or utcnow(),
        resolved_at=_aware(row.ends_at),
        duplicates=row.duplicates,
        flaps=row.flaps,
        id=row.id,
        changed=False,
    )


def _incident_from_row(row: Incident) -> IncidentRecord:
    return IncidentRecord(
        key=row.key,
        status=row.status,
        opened_at=_aware(row.opened_at) or utcnow(),
        last_activity=_aware(row.updated_at) or utcnow(),
        acknowledged_at=_aware(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
        resolved_at=_aware(row.resolved_at),
        root_causes=list(row.root_causes or []),
        id=row.id,
    )


def _load(
    session: Session, correlator: Correlator, fingerprints: set[str], since: datetime | None
) -> None:
    """The state a batch needs: active incidents and those resolved since ``since`` (a late
    victim still joins them) with their alerts, and the latest occurrences of every
    fingerprint in the batch (with their incidents, to reopen one if it flaps)."""
    recent: ColumnElement[bool] = Incident.status.in_(ACTIVE)
    if since is not None:
        recent = or_(recent, (Incident.status == RESOLVED) & (Incident.updated_at >= since))
    incident_rows = {row.id: row for row in session.scalars(select(Incident).where(recent))}
    alert_rows = (
        list(session.scalars(select(AlertRow).where(AlertRow.incident_id.in_(list(incident_rows)))))
        if incident_rows
        else []
    )
    fingerprint_list = sorted(fingerprints)
    for start in range(0, len(fingerprint_list), 500):
        chunk = fingerprint_list[start : start + 500]
        alert_rows.extend(session.scalars(select(AlertRow).where(AlertRow.fingerprint.in_(chunk))))
    extra = {
        r.incident_id for r in alert_rows if r.incident_id and r.incident_id not in incident_rows
    }
    if extra:
        for incident_row in session.scalars(select(Incident).where(Incident.id.in_(extra))):
            incident_rows[incident_row.id] = incident_row
    incidents = {id_: _incident_from_row(row) for id_, row in incident_rows.items()}
    seen: set[int] = set()
    records = []
    for alert_row in alert_rows:
        if alert_row.id in seen:
            continue
        seen.add(alert_row.id)
        record = _record_from_row(alert_row)
        if alert_row.incident_id in incidents:
            record.incident = incidents[alert_row.incident_id]
            record.incident.alerts.append(record)
        records.append(record)
    for incident in incidents.values():
        if incident.alerts:
            incident.last_activity = max(
                [incident.last_activity, *(a.last_at for a in incident.alerts)]
            )
    correlator.load(records, list(incidents.values()))


# Any constant the other domains do not use: the key of the advisory lock of alert ingestion.
_INGEST_LOCK = 0x5E471E_A1E7


def serialise_ingestion(session: Session) -> None:
    """Make concurrent ingestions (several workers, the CLI, the API) take turns.

    Each one reads the active incidents, correlates in memory and writes back; two at once
    would both open an incident for the same storm. On PostgreSQL a transaction-scoped
    advisory lock makes the second wait for the first to commit. On SQLite, a write statement
    takes the database's write lock at once (waiting for the other writer), so that the state
    read after it is current; call this before reading anything in the transaction.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INGEST_LOCK})
    elif dialect == "sqlite":
        session.execute(text("UPDATE aiops_incidents SET id = id WHERE 1 = 0"))


def ingest_alerts(
    session: Session,
    alerts: Iterable[Alert],
    *,
    graph: DependencyGraph | None = None,
    settings: CorrelationSettings | None = None,
) -> IngestResult:
    """Correlate ``alerts`` into the stored incidents, in the session's transaction.

    Re-ingesting notifications already applied changes nothing (they count as duplicates).
    """
    batch = sort_for_replay(alerts)
    result = IngestResult(received=len(batch))
    serialise_ingestion(session)
    graph = graph or graph_from_catalog(session)
    correlator = Correlator(graph, settings)
    earliest = min((a.starts_at for a in batch), default=None)
    since = earliest - correlator.settings.horizon if earliest is not None else None
    _load(session, correlator, {a.fingerprint for a in batch}, since)
    for alert in batch:
        outcome = correlator.process(alert)
        result.outcomes[outcome.kind] += 1
        if (
            outcome.kind in ("new", "orphan-resolution")
            and outcome.record is not None
            and outcome.record.alert.entity is None
        ):
            result.unresolved += 1
    changed = [r for r in correlator.records() if r.changed]
    incidents = correlator.finish()
    _save(session, correlator, changed, incidents, result)
    return result


def _save(
    session: Session,
    correlator: Correlator,
    records: list[AlertRecord],
    incidents: list[IncidentRecord],
    result: IngestResult,
) -> None:
    for record in correlator.dropped:
        # A stored occurrence that a late notification showed to be a flap of an earlier one:
        # its spells now belong to that one, so its own row goes.
        if record.id is not None:
            stale = session.get(AlertRow, record.id)
            if stale is not None:
                session.delete(stale)
    correlator.dropped.clear()
    session.flush()
    rows: dict[str, Incident] = {}
    for incident in incidents:
        row = session.get(Incident, incident.id) if incident.id else None
        if row is None:
            row = Incident(key=incident.key, opened_at=incident.opened_at)
            session.add(row)
        _fill_incident(row, incident, correlator.graph)
        rows[incident.key] = row
    session.flush()
    for incident in incidents:
        incident.id = rows[incident.key].id
    for record in records:
        alert_row = session.get(AlertRow, record.id) if record.id else None
        if alert_row is None:
            alert_row = AlertRow(fingerprint=record.alert.fingerprint, starts_at=record.first_at)
            session.add(alert_row)
        alert = record.alert
        alert_row.starts_at = record.first_at
        alert_row.source = alert.source
        alert_row.name = alert.name
        alert_row.status = record.status
        alert_row.severity = alert.severity
        alert_row.summary = alert.summary
        alert_row.labels = alert.labels
        alert_row.annotations = alert.annotations
        alert_row.entity_ref = alert.entity
        alert_row.unresolved_entity = alert.entity_hint if alert.entity is None else None
        alert_row.ends_at = record.resolved_at
        alert_row.last_received_at = record.last_at
        alert_row.duplicates = record.duplicates
        alert_row.flaps = record.flaps
        alert_row.strength = alert.strength
        alert_row.incident_id = record.incident.id if record.incident else None
    session.flush()
    pending = []
    for incident in incidents:
        row = rows[incident.key]
        for entry in incident.timeline:
            session.add(
                IncidentEvent(
                    incident_id=row.id,
                    at=entry.at,
                    kind=entry.kind,
                    message=entry.message,
                    data=entry.data,
                )
            )
        incident.timeline.clear()
        data = summary(row)
        if incident.merged_into:
            data["merged_into"] = incident.merged_into
        for change, event_type in (
            ("opened", AIOPS_INCIDENT_OPENED),
            ("reopened", AIOPS_INCIDENT_REOPENED),
            ("resolved", AIOPS_INCIDENT_RESOLVED),
            ("merged", AIOPS_INCIDENT_MERGED),
        ):
            if change in incident.changes:
                pending.append(events.PendingEvent(event_type, _subject(row), data, row.owner_ref))
        if incident.changes and not incident.changes & {"opened", "reopened", "resolved", "merged"}:
            pending.append(
                events.PendingEvent(AIOPS_INCIDENT_UPDATED, _subject(row), data, row.owner_ref)
            )
        if "opened" in incident.changes:
            result.opened.append(incident.key)
        elif incident.changes:
            result.updated.append(incident.key)
        if "resolved" in incident.changes:
            result.resolved.append(incident.key)
        incident.changes.clear()
    if pending:
        events.record_many(session, pending)


def _fill_incident(row: Incident, incident: IncidentRecord, graph: DependencyGraph) -> None:
    row.title = incident.title()
    row.status = incident.status
    row.severity = incident.severity
    row.updated_at = incident.last_activity
    row.acknowledged_at = incident.acknowledged_at
    row.acknowledged_by = incident.acknowledged_by
    row.resolved_at = incident.resolved_at
    row.root_causes = incident.root_causes
    row.root_cause_ref = incident.root_cause
    row.entities = incident.entities
    row.alert_count = len(incident.alerts)
    cause = incident.root_cause
    row.owner_ref = graph.owners.get(cause) if cause else None


def _subject(row: Incident) -> str:
    return f"incident:{row.key}"


def summary(row: Incident) -> dict[str, Any]:
    """An incident as plain data (list pages, events)."""
    return {
        "key": row.key,
        "title": row.title,
        "status": row.status,
        "severity": row.severity,
        "opened_at": _iso(row.opened_at),
        "updated_at": _iso(row.updated_at),
        "acknowledged_at": _iso(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": _iso(row.resolved_at),
        "root_cause": row.root_cause_ref,
        "owner": row.owner_ref,
        "alerts": row.alert_count,
        "entities": list(row.entities or []),
    }


def _iso(moment: datetime | None) -> str | None:
    aware = _aware(moment)
    return aware.isoformat() if aware else None


def list_incidents(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    limit: int = 100,
    entity: str | None = None,
    owners: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Incidents, newest first; ``entity``: only those it alerted in or is the root cause of;
    ``owners``: only those whose likely root cause one of these groups owns. Incidents merged
    into another (emptied by a regrouping) are listed only when their status is asked for."""
    query = select(Incident)
    if statuses:
        query = query.where(Incident.status.in_(list(statuses)))
    else:
        query = query.where(Incident.status != MERGED)
    if entity:
        ref = entity.lower()
        alerted = select(AlertRow.incident_id).where(AlertRow.entity_ref == ref)
        query = query.where(or_(Incident.root_cause_ref == ref, Incident.id.in_(alerted)))
    if owners:
        query = query.where(Incident.owner_ref.in_([o.lower() for o in owners]))
    rows = session.scalars(
        query.order_by(Incident.opened_at.desc(), Incident.id.desc()).limit(max(1, limit))
    )
    return [summary(row) for row in rows]


def alert_summary(row: AlertRow, incident_key: str | None = None) -> dict[str, Any]:
    """One stored alert occurrence as plain data."""
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "name": row.name,
        "status": row.status,
        "severity": row.severity,
        "entity": row.entity_ref,
        "unresolved_entity": row.unresolved_entity,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "last_received_at": _iso(row.last_received_at),
        "duplicates": row.duplicates,
        "flaps": row.flaps,
        "summary": row.summary,
        "source": row.source,
        "labels": dict(row.labels or {}),
        "incident": incident_key,
    }


def list_alerts(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    entity: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Stored alert occurrences, newest first, with the key of the incident each is part of."""
    query = select(AlertRow, Incident.key).join(
        Incident, AlertRow.incident_id == Incident.id, isouter=True
    )
    if statuses:
        query = query.where(AlertRow.status.in_(list(statuses)))
    if entity:
        query = query.where(AlertRow.entity_ref == entity.lower())
    if before is not None:
        query = query.where(AlertRow.id < before)
    rows = session.execute(query.order_by(AlertRow.id.desc()).limit(max(1, limit)))
    return [alert_summary(row, key) for row, key in rows]


def find_incident(session: Session, key: str) -> Incident:
    """By key, unique key prefix, or number; AIOpsError when there is none or several."""
    key = key.strip()
    if key.isdigit() and len(key) <= 9:  # an incident number (a database integer)
        row = session.get(Incident, int(key))
        if row is not None:
            return row
    rows = list(
        session.scalars(select(Incident).where(Incident.key.startswith(key.lower())).limit(2))
    )
    if len(rows) != 1:
        raise AIOpsError(
            f"no incident {key!r}" if not rows else f"{key!r} matches several incidents"
        )
    return rows[0]


def incident_detail(
    session: Session, key: str, graph: DependencyGraph | None = None
) -> dict[str, Any]:
    """Everything about one incident: alerts, root causes with reasons, timeline, the part of
    the dependency graph it touches."""
    row = find_incident(session, key)
    alerts = session.scalars(
        select(AlertRow).where(AlertRow.incident_id == row.id).order_by(AlertRow.starts_at)
    )
    timeline = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == row.id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    graph = graph or graph_from_catalog(session)
    refs = set(row.entities or []) | {c["ref"] for c in row.root_causes or []}
    return {
        **summary(row),
        "root_causes": list(row.root_causes or []),
        "alerts": [alert_summary(a, row.key) for a in alerts],
        "timeline": [
            {"at": _iso(e.at), "kind": e.kind, "message": e.message, "data": e.data}
            for e in timeline
        ],
        "graph": {
            "nodes": sorted(refs),
            "edges": [{"source": s, "target": t} for s, t in graph.subgraph(refs)],
        },
    }


def acknowledge(session: Session, key: str, by: str | None = None) -> dict[str, Any]:
    """Acknowledge an open incident (someone is on it); emits an event."""
    row = find_incident(session, key)
    if row.status != "open":
        raise AIOpsError(
            f"incident {row.key[:8]} is {row.status}, only an open one can be acknowledged"
        )
    now = utcnow()
    row.status = ACKNOWLEDGED
    row.acknowledged_at = now
    row.acknowledged_by = by
    session.add(
        IncidentEvent(
            incident_id=row.id,
            at=now,
            kind="acknowledged",
            message=f"acknowledged by {by}" if by else "acknowledged",
        )
    )
    session.flush()
    data = summary(row)
    events.record(
        session, AIOPS_INCIDENT_ACKNOWLEDGED, _subject(row), data, owner_ref=row.owner_ref
    )
    return data


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Incident.status, func.count()).group_by(Incident.status))
    return {status: n for status, n in rows}


__all__ = [
    "IngestResult",
    "acknowledge",
    "alert_summary",
    "counts_by_status",
    "find_incident",
    "incident_detail",
    "ingest_alerts",
    "list_alerts",
    "list_incidents",
    "serialise_ingestion",
]
