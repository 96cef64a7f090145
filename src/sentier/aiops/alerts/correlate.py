"""Alerts into incidents: deduplicate, recognise flapping, group by time and by the graph.

The correlator is pure and in memory (the store loads its state before a batch and saves it
after), so it runs the same under the CLI, a webhook and the benchmark. Notifications must
come in time order (``sort_for_replay``).

- Same fingerprint while firing: a duplicate, the alert is not counted twice.
- Firing again within ``flap_minutes`` of resolving: flapping, the same alert reopens.
- A new alert joins the active incident (last alert within ``window_minutes``) holding an
  entity at most ``max_hops`` dependency hops from its own entity (closest first); an alert
  whose entity is unknown joins one holding alerts that named the same thing. Otherwise it
  opens an incident.
- An incident resolves when all its alerts have resolved, and reopens if one fires again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.model import FIRING, RESOLVED, SEVERITIES, Alert
from sentier.aiops.alerts.rootcause import rank

OPEN, ACKNOWLEDGED = "open", "acknowledged"
ACTIVE = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class CorrelationSettings:
    window_minutes: float = 15.0
    max_hops: int = 3
    flap_minutes: float = 10.0

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def flap(self) -> timedelta:
        return timedelta(minutes=self.flap_minutes)


@lru_cache(maxsize=1)
def default_correlation() -> CorrelationSettings:
    text = resources.files("sentier.aiops.alerts").joinpath("correlation.yaml").read_text()
    data = yaml.safe_load(text)
    return CorrelationSettings(
        float(data["window_minutes"]), int(data["max_hops"]), float(data["flap_minutes"])
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    message: str
    data: dict[str, Any] | None = None


@dataclass(eq=False)
class AlertRecord:
    """One occurrence of an alert (its first firing), as the correlator tracks it."""

    alert: Alert
    status: str
    first_at: datetime
    last_at: datetime
    resolved_at: datetime | None = None
    duplicates: int = 0
    flaps: int = 0
    incident: IncidentRecord | None = None
    id: int | None = None
    changed: bool = True


@dataclass(eq=False)
class IncidentRecord:
    key: str
    status: str
    opened_at: datetime
    last_activity: datetime
    alerts: list[AlertRecord] = field(default_factory=list)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    root_causes: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)  # new entries only
    changes: set[str] = field(default_factory=set)
    id: int | None = None

    @property
    def entities(self) -> list[str]:
        return sorted({a.alert.entity for a in self.alerts if a.alert.entity})

    @property
    def hints(self) -> set[str]:
        return {a.alert.entity_hint or a.alert.name for a in self.alerts if not a.alert.entity}

    @property
    def severity(self) -> str:
        ranks = [
            SEVERITIES.index(a.alert.severity)
            for a in self.alerts
            if a.alert.severity in SEVERITIES
        ]
        return SEVERITIES[min(ranks)] if ranks else "warning"

    @property
    def root_cause(self) -> str | None:
        return str(self.root_causes[0]["ref"]) if self.root_causes else None

    def title(self) -> str:
        cause = self.root_cause
        firing = [a for a in self.alerts if a.status == FIRING] or self.alerts
        first = min(firing, key=lambda a: a.first_at).alert
        subject = (cause or first.entity or first.entity_hint or "unknown").split("/", 1)[-1]
        count = len(self.alerts)
        return f"{first.name} on {subject}" + (
            f" (+{count - 1} related alerts)" if count > 1 else ""
        )

    def log(
        self, at: datetime, kind: str, message: str, data: dict[str, Any] | None = None
    ) -> None:
        self.timeline.append(TimelineEntry(at, kind, message, data))


@dataclass
class Outcome:
    """What one notification did, for the ingestion report."""

    kind: str  # new, duplicate, flap, resolved, orphan-resolution
    record: AlertRecord | None = None


class Correlator:
    def __init__(self, graph: DependencyGraph, settings: CorrelationSettings | None = None) -> None:
        self.graph = graph
        self.settings = settings or default_correlation()
        self.by_fingerprint: dict[str, AlertRecord] = {}
        self.active: list[IncidentRecord] = []
        self.incidents: dict[str, IncidentRecord] = {}
        self._touched: set[str] = set()

    # -- state from the store -----------------------------------------------------------------

    def load(self, records: list[AlertRecord], incidents: list[IncidentRecord]) -> None:
        for incident in incidents:
            self.incidents[incident.key] = incident
            if incident.status in ACTIVE:
                self.active.append(incident)
        for record in records:
            current = self.by_fingerprint.get(record.alert.fingerprint)
            if current is None or record.first_at >= current.first_at:
                self.by_fingerprint[record.alert.fingerprint] = record

    # -- the stream -----------------------------------------------------------------------------

    def process(self, alert: Alert) -> Outcome:
        if alert.entity is None:
            alert.entity = self.graph.resolve(alert.entity_hint)
        at = alert.at
        record = self.by_fingerprint.get(alert.fingerprint)
        if record is not None and at <= record.last_at:
            # Already known (a re-sent notification, or the same file read again): no change,
            # which keeps re-ingestion idempotent.
            return Outcome("duplicate", record)
        if record is not None:
            if alert.status == FIRING:
                if record.status == FIRING:
                    record.duplicates += 1
                    record.last_at = max(record.last_at, at)
                    record.changed = True
                    return Outcome("duplicate", record)
                assert record.resolved_at is not None
                if at - record.resolved_at <= self.settings.flap:
                    return Outcome("flap", self._flap(record, alert, at))
            else:
                if record.status == FIRING:
                    return Outcome("resolved", self._resolve(record, alert, at))
                record.duplicates += 1
                record.last_at = max(record.last_at, at)
                record.changed = True
                return Outcome("duplicate", record)
        if alert.status == RESOLVED:
            return Outcome("orphan-resolution")
        return Outcome("new", self._new(alert, at))

    def _new(self, alert: Alert, at: datetime) -> AlertRecord:
        record = AlertRecord(alert, FIRING, at, at)
        self.by_fingerprint[alert.fingerprint] = record
        incident = self._incident_for(alert, at)
        if incident is None:
            incident = IncidentRecord(uuid.uuid4().hex, OPEN, at, at)
            self.incidents[incident.key] = incident
            self.active.append(incident)
            incident.changes.add("opened")
            incident.log(at, "opened", f"opened by {alert.name} on {_label(alert)}")
        else:
            incident.changes.add("updated")
            incident.log(at, "alert", f"{alert.name} on {_label(alert)} joined")
        incident.alerts.append(record)
        incident.last_activity = max(incident.last_activity, at)
        record.incident = incident
        if incident.status not in ACTIVE:
            self._reopen(incident, at)
        self._touched.add(incident.key)
        return record

    def _incident_for(self, alert: Alert, at: datetime) -> IncidentRecord | None:
        horizon = at - self.settings.window
        self.active = [i for i in self.active if i.status in ACTIVE]
        best: IncidentRecord | None = None
        best_key: tuple[int, float] | None = None
        for incident in self.active:
            if incident.last_activity < horizon:
                continue
            distance = self._distance(incident, alert)
            if distance is None:
                continue
            key = (distance, -incident.last_activity.timestamp())
            if best_key is None or key < best_key:
                best, best_key = incident, key
        return best

    def _distance(self, incident: IncidentRecord, alert: Alert) -> int | None:
        if alert.entity is None:
            hint = alert.entity_hint or alert.name
            return 0 if hint in incident.hints else None
        found: int | None = None
        for entity in {a.alert.entity for a in incident.alerts if a.alert.entity}:
            distance = self.graph.distance(alert.entity, entity, self.settings.max_hops)
            if distance is not None and (found is None or distance < found):
                found = distance
                if found == 0:
                    break
        return found

    def _flap(self, record: AlertRecord, alert: Alert, at: datetime) -> AlertRecord:
        record.flaps += 1
        record.status = FIRING
        record.resolved_at = None
        record.last_at = at
        record.alert.ends_at = None
        record.changed = True
        incident = record.incident
        if incident is not None:
            incident.log(
                at, "flapping", f"{alert.name} on {_label(alert)} fired again (flap {record.flaps})"
            )
            incident.last_activity = max(incident.last_activity, at)
            incident.changes.add("updated")
            if incident.status not in ACTIVE:
                self._reopen(incident, at)
            self._touched.add(incident.key)
        return record

    def _resolve(self, record: AlertRecord, alert: Alert, at: datetime) -> AlertRecord:
        record.status = RESOLVED
        record.resolved_at = alert.ends_at or at
        record.alert.ends_at = record.resolved_at
        record.last_at = at
        record.changed = True
        incident = record.incident
        if incident is not None:
            incident.log(at, "alert-resolved", f"{alert.name} on {_label(alert)} resolved")
            incident.changes.add("updated")
            if incident.status in ACTIVE and all(a.status == RESOLVED for a in incident.alerts):
                incident.status = RESOLVED
                incident.resolved_at = record.resolved_at
                incident.changes.add("resolved")
                incident.log(at, "resolved", "every alert resolved")
            self._touched.add(incident.key)
        return record

    def _reopen(self, incident: IncidentRecord, at: datetime) -> None:
        incident.status = OPEN
        incident.resolved_at = None
        incident.changes.add("reopened")
        incident.log(at, "reopened", "an alert fired again")
        if incident not in self.active:
            self.active.append(incident)

    # -- root causes ----------------------------------------------------------------------------

    def finish(self) -> list[IncidentRecord]:
        """Rank root causes of every incident touched since the last call; returns them."""
        touched = [self.incidents[k] for k in sorted(self._touched)]
        self._touched.clear()
        for incident in touched:
            first: dict[str, datetime] = {}
            loud: dict[str, float] = {}
            for record in incident.alerts:
                entity = record.alert.entity
                if entity is None:
                    continue
                if entity not in first or record.first_at < first[entity]:
                    first[entity] = record.first_at
                loud[entity] = max(loud.get(entity, 0.0), record.alert.strength)
            ranked = [s.as_dict() for s in rank(self.graph, first, loud)]
            if ranked != incident.root_causes:
                previous = incident.root_cause
                incident.root_causes = ranked
                if ranked and ranked[0]["ref"] != previous:
                    incident.log(
                        incident.last_activity,
                        "root-cause",
                        f"likely root cause: {ranked[0]['ref']}",
                        {"reasons": ranked[0]["reasons"]},
                    )
        return touched


def _label(alert: Alert) -> str:
    return alert.entity or (
        f"{alert.entity_hint} (not in the catalog)" if alert.entity_hint else "no entity"
    )
