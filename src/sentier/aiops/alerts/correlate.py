"""Alerts into incidents: deduplicate, recognise flapping, group by time and by the graph.

The correlator is pure and in memory (the store loads its state before a batch and saves it
after), so it runs the same under the CLI, a webhook and the benchmark. Notifications must
come in time order (``sort_for_replay``).

- Same fingerprint while firing: a duplicate, the alert is not counted twice.
- Firing again within ``flap_minutes`` of resolving: flapping, the same alert reopens.
- A new alert joins the active incident (last alert within ``window_minutes``) it relates
  to by direction and timing (``Correlator._distance``): a victim of one of its entities or
  of its likely silent cause; or, if one likely cause explains both, a late-alerting cause
  or an entity sharing a dependency with one of its entities (closest incident first). An
  alert whose entity is unknown joins one holding alerts that named the same thing.
  Otherwise it opens an incident.
- An incident resolves when all its alerts have resolved, and reopens if one fires again
  (within ``flap_minutes`` it also takes the alerts of its victims).
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
from sentier.aiops.alerts.rootcause import default_root_cause, rank

OPEN, ACKNOWLEDGED = "open", "acknowledged"
ACTIVE = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class CorrelationSettings:
    window_minutes: float = 15.0
    max_hops: int = 3
    flap_minutes: float = 10.0
    cause_minutes: float = 5.0
    sibling_minutes: float = 5.0
    victim_minutes: float = 10.0

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.window_minutes)

    @property
    def flap(self) -> timedelta:
        return timedelta(minutes=self.flap_minutes)

    @property
    def cause(self) -> timedelta:
        return timedelta(minutes=self.cause_minutes)

    @property
    def sibling(self) -> timedelta:
        return timedelta(minutes=self.sibling_minutes)

    @property
    def victim(self) -> timedelta:
        return timedelta(minutes=self.victim_minutes)


@lru_cache(maxsize=1)
def default_correlation() -> CorrelationSettings:
    text = resources.files("sentier.aiops.alerts").joinpath("correlation.yaml").read_text()
    data = yaml.safe_load(text)
    return CorrelationSettings(
        float(data["window_minutes"]),
        int(data["max_hops"]),
        float(data["flap_minutes"]),
        float(data.get("cause_minutes", 5.0)),
        float(data.get("sibling_minutes", 5.0)),
        float(data.get("victim_minutes", 10.0)),
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
    _suspect: str | None = None
    _suspect_of: int = -1  # the number of alerts the cached suspect was ranked for
    _first: dict[str, datetime] = field(default_factory=dict)
    _last: dict[str, datetime] = field(default_factory=dict)
    _maps_of: int = -1

    def first_alerts(self) -> dict[str, datetime]:
        """When each entity of the incident first alerted."""
        return self._maps()[0]

    def last_alerts(self) -> dict[str, datetime]:
        """When each entity of the incident last raised a new alert."""
        return self._maps()[1]

    def _maps(self) -> tuple[dict[str, datetime], dict[str, datetime]]:
        # Alerts are only ever added to an incident, and an occurrence's start never moves,
        # so the maps change only when the number of alerts does.
        if self._maps_of != len(self.alerts):
            first: dict[str, datetime] = {}
            last: dict[str, datetime] = {}
            for record in self.alerts:
                entity = record.alert.entity
                if entity is None:
                    continue
                if entity not in first or record.first_at < first[entity]:
                    first[entity] = record.first_at
                if entity not in last or record.first_at > last[entity]:
                    last[entity] = record.first_at
            self._first, self._last, self._maps_of = first, last, len(self.alerts)
        return self._first, self._last

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
        # An incident that resolved moments ago (its cause flapping) still takes new alerts.
        settled = at - self.settings.flap
        self.active = [
            i
            for i in self.active
            if i.status in ACTIVE or (i.resolved_at is not None and i.resolved_at >= settled)
        ]
        best: IncidentRecord | None = None
        best_key: tuple[int, float] | None = None
        for incident in self.active:
            if incident.last_activity < horizon:
                continue
            distance = self._distance(incident, alert, at)
            if distance is None:
                continue
            key = (distance, -incident.last_activity.timestamp())
            if best_key is None or key < best_key:
                best, best_key = incident, key
        return best

    def _distance(self, incident: IncidentRecord, alert: Alert, at: datetime) -> int | None:
        """How closely ``alert`` relates to ``incident``, in hops, or None when it does not.

        Direction and timing decide, as a failure spreads from what is used to what uses it.
        An entity needing one of the incident's (or its likely silent cause) soon after that
        one alerted is a victim and joins. Otherwise the link must survive the root-cause
        model: an entity the incident's entities need (its cause, alerting late: believable
        only soon after the incident opened) or one sharing a dependency with them (close in
        time) joins only if the likely cause of the whole, with it, explains both it and the
        incident's first alert. A shared Kafka or auth service links half the organisation;
        it is a likely cause only when many of its users alert.
        """
        if alert.entity is None:
            hint = alert.entity_hint or alert.name
            return 0 if hint in incident.hints else None
        x = alert.entity
        graph, hops, settings = self.graph, self.settings.max_hops, self.settings
        first = incident.first_alerts()
        last = incident.last_alerts()
        if x in last and at - last[x] <= settings.victim:
            return 0  # another alert of an entity already in it
        members = [(y, since) for y, since in last.items() if y != x]
        suspect = self._silent_suspect(incident, first)
        if suspect is not None:
            members.append((suspect, incident.opened_at))
        victim: int | None = None
        for y, since in members:
            if at - since <= settings.victim:
                distance = graph.needs(x, y, hops)
                if distance is not None and (victim is None or distance < victim):
                    victim = distance
        if victim is not None:
            return victim
        linked: int | None = None
        early = at - incident.opened_at <= settings.cause
        for y, since in members:
            distance = graph.needs(y, x, hops) if early else None
            close = abs(at - since) <= settings.sibling
            if distance is None and close and graph.direct_needs(x) & graph.direct_needs(y):
                distance = 2
            if distance is not None and (linked is None or distance < linked):
                linked = distance
        if linked is None or not self._explained_together(first, x, at):
            return None
        return linked

    def _explained_together(self, first: dict[str, datetime], x: str, at: datetime) -> bool:
        """Whether one likely cause explains ``x`` alerting with the incident's entities."""
        ranked = rank(self.graph, {**first, x: at}, limit=1)
        if not ranked:
            return False
        cause = ranked[0].ref
        reach = self.graph.dependants_within(cause, default_root_cause().reach)
        opener = min(first, key=lambda e: first[e])
        return all(e == cause or e in reach for e in (x, opener))

    def _silent_suspect(self, incident: IncidentRecord, first: dict[str, datetime]) -> str | None:
        """The incident's likely cause when it is an entity raising no alert (cached)."""
        if incident._suspect_of != len(incident.alerts):
            ranked = rank(self.graph, first, limit=1)
            incident._suspect = ranked[0].ref if ranked else None
            incident._suspect_of = len(incident.alerts)
        return incident._suspect if incident._suspect not in first else None

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
