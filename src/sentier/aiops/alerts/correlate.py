"""Alerts into incidents: deduplicate, recognise flapping, group by a propagation model.

The correlator is pure and in memory (the store loads its state before a batch and saves it
after), so it runs the same under the CLI, a webhook and the benchmark.

- Same fingerprint while firing: a duplicate, the alert is not counted twice.
- Firing again within ``flap_minutes`` of resolving: flapping, the same alert reopens.
- A resolution of an alert never seen firing is the alert, fired and already resolved.
- A new alert joins the incident under which it is most likely, when that beats its being
  something new: the likelihood ratio of ``likelihood.py`` (one fault explaining the alert
  and the incident, given their time gap and where they sit in the dependency graph, against
  an independent fault or noise at the background rate). An alert whose entity the catalog
  does not know joins an incident holding alerts that named the same thing, by the same
  ratio. Otherwise it opens an incident.
- Order does not matter: alerts are grouped in the order they *began* (then by
  fingerprint), whatever order they arrive in. One arriving late, up to ``reorder_minutes``
  after alerts that began after it, is put in its place and those alerts are grouped again;
  an incident emptied by that regrouping is marked merged into the one that took its alerts.
- An incident resolves when all its alerts have resolved, and reopens if one fires again.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.likelihood import Belief, JoinModel, default_model
from sentier.aiops.alerts.model import FIRING, RESOLVED, SEVERITIES, Alert
from sentier.aiops.alerts.rootcause import default_root_cause, rank, settings_from

OPEN, ACKNOWLEDGED, MERGED = "open", "acknowledged", "merged"
ACTIVE = (OPEN, ACKNOWLEDGED)


@dataclass(frozen=True)
class CorrelationSettings:
    flap_minutes: float = 10.0
    horizon_minutes: float = 60.0
    reorder_minutes: float = 15.0
    model: JoinModel = field(default_factory=JoinModel)

    @property
    def flap(self) -> timedelta:
        return timedelta(minutes=self.flap_minutes)

    @property
    def horizon(self) -> timedelta:
        return timedelta(minutes=self.horizon_minutes)

    @property
    def reorder(self) -> timedelta:
        return timedelta(minutes=self.reorder_minutes)


@lru_cache(maxsize=1)
def default_correlation() -> CorrelationSettings:
    text = resources.files("sentier.aiops.alerts").joinpath("correlation.yaml").read_text()
    data = yaml.safe_load(text) or {}
    return CorrelationSettings(
        float(data.get("flap_minutes", 10.0)),
        float(data.get("horizon_minutes", 60.0)),
        float(data.get("reorder_minutes", 15.0)),
        default_model(),
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
    spells: dict[datetime, datetime | None] = field(default_factory=dict)  # start -> end
    _flaps_before: int = 0  # flaps stored before its spells were known
    _before: IncidentRecord | None = None  # where it was before a regrouping

    def __post_init__(self) -> None:
        if not self.spells:
            self.spells = {self.first_at: self.resolved_at if self.status == RESOLVED else None}

    @property
    def order(self) -> tuple[datetime, str]:
        """Its place in time: when it began, then its fingerprint (ties)."""
        return (self.first_at, self.alert.fingerprint)


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
    merged_into: str | None = None
    _first: dict[str, datetime] = field(default_factory=dict)
    _last: dict[str, datetime] = field(default_factory=dict)
    _hints: dict[str, datetime] = field(default_factory=dict)
    _latest: datetime | None = None
    _belief: Belief | None = None
    _dirty: bool = False
    _former: list[AlertRecord] = field(default_factory=list)  # alerts a regrouping took out

    def first_alerts(self) -> dict[str, datetime]:
        """When each entity of the incident first alerted."""
        return self._first

    def last_alerts(self) -> dict[str, datetime]:
        """When each entity of the incident last began an alert."""
        return self._last

    @property
    def latest(self) -> datetime:
        """When its latest alert began."""
        return self._latest or self.opened_at

    def add(self, record: AlertRecord, belief: Belief) -> None:
        self.alerts.append(record)
        self._note(record, belief)

    def _note(self, record: AlertRecord, belief: Belief) -> None:
        at, entity = record.first_at, record.alert.entity
        if self._latest is None or at > self._latest:
            self._latest = at
        if entity is None:
            hint = record.alert.entity_hint or record.alert.name
            if hint not in self._hints or at > self._hints[hint]:
                self._hints[hint] = at
            return
        if entity not in self._first or at < self._first[entity]:
            self._first[entity] = at
        if entity not in self._last or at > self._last[entity]:
            self._last[entity] = at
        belief.add(entity, self._first[entity])

    def rebuild(self, belief: Belief) -> None:
        """Forget and recount what its alerts say (after one was taken out)."""
        self._first, self._last, self._hints, self._latest = {}, {}, {}, None
        self._belief = belief
        for record in sorted(self.alerts, key=lambda r: r.order):
            self._note(record, belief)
        if self.alerts:
            self.opened_at = min(r.first_at for r in self.alerts)

    @property
    def entities(self) -> list[str]:
        return sorted({a.alert.entity for a in self.alerts if a.alert.entity})

    @property
    def hints(self) -> set[str]:
        return set(self._hints)

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
        if not self.alerts:
            return f"merged into {self.merged_into[:8]}" if self.merged_into else "no alerts"
        cause = self.root_cause
        firing = [a for a in self.alerts if a.status == FIRING] or self.alerts
        first = min(firing, key=lambda a: a.order).alert
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
        self.model = self.settings.model
        chosen = default_root_cause()
        self.ranking = settings_from(
            self.model,
            {"late": chosen.late, "lag_seconds": chosen.lag_seconds, "strength": chosen.strength},
        )
        self.by_fingerprint: dict[str, AlertRecord] = {}  # the latest occurrence
        self._records: dict[str, list[AlertRecord]] = {}  # every occurrence known
        self.dropped: list[AlertRecord] = []  # stored occurrences found to be another's flap
        self.active: list[IncidentRecord] = []
        self.incidents: dict[str, IncidentRecord] = {}
        self.moved: set[AlertRecord] = set()  # records a regrouping put in another incident
        self._placed: list[AlertRecord] = []  # the recent records, in their order in time
        self._vacant: dict[str, IncidentRecord] = {}
        self._touched: set[str] = set()
        self._backgrounds: dict[tuple[str | None, str], float] = {}
        self._source_cache: dict[str, frozenset[str]] = {}

    # -- state from the store -----------------------------------------------------------------

    def load(self, records: list[AlertRecord], incidents: list[IncidentRecord]) -> None:
        for incident in incidents:
            self.incidents[incident.key] = incident
            self.active.append(incident)
            incident.rebuild(Belief(self.graph, self.model))
        for record in sorted(records, key=lambda r: r.first_at):
            record._flaps_before = record.flaps
            self._records.setdefault(record.alert.fingerprint, []).append(record)
            self.by_fingerprint[record.alert.fingerprint] = record
        grouped = sorted((r for r in records if r.incident is not None), key=lambda r: r.order)
        if grouped:
            since = grouped[-1].first_at - self.settings.reorder
            self._placed = [r for r in grouped if r.first_at >= since]

    # -- the stream -----------------------------------------------------------------------------

    def process(self, alert: Alert) -> Outcome:
        """Apply one notification. An alert's *spells* (each firing, from its ``startsAt``,
        until the resolution naming that start) are chained into one occurrence while each
        starts within ``flap`` of the previous one's end; the chains are recomputed from all
        spells seen, so the occurrences do not depend on the order notifications came in."""
        if alert.entity is None:
            alert.entity = self.graph.resolve(alert.entity_hint)
        at = alert.at
        start = alert.starts_at
        end = (alert.ends_at or at) if alert.status == RESOLVED else None
        records = self._records.setdefault(alert.fingerprint, [])
        owner = next((r for r in records if start in r.spells), None)
        if owner is not None and (end is None or owner.spells[start] == end):
            # Nothing new (a re-sent notification, or the same file read again): re-reading
            # changes nothing, which keeps ingestion idempotent.
            if at > owner.last_at:
                owner.duplicates += 1
                owner.last_at = at
                owner.changed = True
            return Outcome("duplicate", owner)
        was_firing = owner is not None and owner.status == FIRING
        spells: dict[datetime, datetime | None] = {}
        for record in records:
            spells.update(record.spells)
        spells[start] = end
        kept = self._rechain(alert, records, spells, at)
        record = next(r for r in kept if start in r.spells)
        if owner is None and len(record.spells) == 1 and record.incident is None:
            self._place(record, fresh=True)
            self._settle(start)
            return Outcome("new" if end is None else "orphan-resolution", record)
        self._settle(start)
        if end is not None and (was_firing or owner is None) and record.status == RESOLVED:
            return Outcome("resolved", record)
        return Outcome("flap" if owner is None else "duplicate", record)

    def _rechain(
        self,
        alert: Alert,
        records: list[AlertRecord],
        spells: dict[datetime, datetime | None],
        at: datetime,
    ) -> list[AlertRecord]:
        """Make the records of one fingerprint match the chains of its spells."""
        flap = self.settings.flap
        chains: list[list[tuple[datetime, datetime | None]]] = []
        for begin, finish in sorted(spells.items()):
            previous = chains[-1][-1][1] if chains else None
            if chains and (previous is None or begin - previous <= flap):
                chains[-1].append((begin, finish))
            else:
                chains.append([(begin, finish)])
        kept: list[AlertRecord] = []
        for chain in chains:
            starts = {b for b, _ in chain}
            mine = sorted((r for r in records if r.first_at in starts), key=lambda r: r.first_at)
            if mine:
                record = mine[0]
                for other in mine[1:]:  # a late spell showed two occurrences were one
                    self._unplace(other)
                    record.duplicates += other.duplicates
                    if other.id is not None:
                        self.dropped.append(other)
            else:
                first = chain[0][0]
                record = AlertRecord(alert, FIRING, first, at)
                record.alert.starts_at = first
            moved = record.first_at != chain[0][0] and record.incident is not None
            if moved:
                self._unplace(record)
            self._update(record, dict(chain), at)
            if moved:
                self._place(record, fresh=False)
                self.moved.add(record)
            elif mine and record.incident is None:
                self._place(record, fresh=False)
            kept.append(record)
        for record in records:
            if record not in kept and record.incident is not None:
                self._unplace(record)
        self._records[alert.fingerprint] = kept
        self.by_fingerprint[alert.fingerprint] = kept[-1]
        return kept

    def _update(
        self, record: AlertRecord, spells: dict[datetime, datetime | None], at: datetime
    ) -> None:
        """Set ``record`` from its spells, and tell its incident what changed."""
        ordered = sorted(spells)
        latest_end = spells[ordered[-1]]
        status = FIRING if latest_end is None else RESOLVED
        flaps = len(ordered) - 1 + record._flaps_before
        changed = (
            record.first_at != ordered[0]
            or record.status != status
            or record.resolved_at != latest_end
            or record.flaps != flaps
        )
        record.spells = spells
        record.last_at = max(record.last_at, at)
        if not changed:
            return
        flapped = flaps > record.flaps and status == FIRING
        record.first_at = ordered[0]
        record.alert.starts_at = ordered[0]
        record.status = status
        record.resolved_at = latest_end
        record.alert.ends_at = latest_end
        record.flaps = flaps
        record.changed = True
        incident = record.incident
        if incident is None:
            return
        label = f"{record.alert.name} on {_label(record.alert)}"
        if flapped:
            incident.log(at, "flapping", f"{label} fired again (flap {flaps})")
        elif status == RESOLVED:
            incident.log(at, "alert-resolved", f"{label} resolved")
        incident.last_activity = max(incident.last_activity, at)
        incident.changes.add("updated")
        self._restatus(incident, at)
        self._touched.add(incident.key)

    def records(self) -> list[AlertRecord]:
        """Every occurrence the correlator holds (those loaded and those it made)."""
        return [r for found in self._records.values() for r in found]

    # -- placing records in time order ------------------------------------------------------

    def _place(self, record: AlertRecord, *, fresh: bool) -> None:
        """Group ``record``; if alerts that began after it were grouped already (it arrived
        late, within ``reorder``), take them out and group them again after it."""
        later: list[AlertRecord] = []
        newest = self._placed[-1].first_at if self._placed else record.first_at
        if record.first_at >= newest - self.settings.reorder:
            while self._placed and self._placed[-1].order > record.order:
                later.append(self._placed.pop())
            for other in later:
                self._detach(other)
        self._assign(record, fresh=fresh)
        self._insert(record)
        for other in reversed(later):
            self._assign(other, fresh=False)
            self._placed.append(other)
        since = self._placed[-1].first_at - self.settings.reorder
        if self._placed[0].first_at < since:
            self._placed = [r for r in self._placed if r.first_at >= since]

    def _insert(self, record: AlertRecord) -> None:
        placed = self._placed
        index = len(placed)
        while index and placed[index - 1].order > record.order:
            index -= 1
        placed.insert(index, record)

    def _unplace(self, record: AlertRecord) -> None:
        """Take ``record`` out of its incident and of the order (it is about to move)."""
        if record in self._placed:
            self._placed.remove(record)
        self._detach(record)

    def _detach(self, record: AlertRecord) -> None:
        incident = record.incident
        record._before = incident
        record.incident = None
        if incident is None:
            return
        incident.alerts.remove(record)
        incident._former.append(record)
        incident._dirty = True
        if not incident.alerts:
            if incident in self.active:
                self.active.remove(incident)
            self._vacant[incident.key] = incident

    def _fresh(self, incident: IncidentRecord) -> Belief:
        """The incident's belief over causes, recounted if an alert was taken out of it."""
        if incident._belief is None or incident._dirty:
            incident.rebuild(Belief(self.graph, self.model))
            incident._dirty = False
        assert incident._belief is not None
        return incident._belief

    def _assign(self, record: AlertRecord, *, fresh: bool) -> None:
        alert, at = record.alert, record.first_at
        before = record._before
        incident = self._incident_for(alert, at)
        if incident is None:
            if before is not None and self._vacant.get(before.key) is before:
                incident = self._vacant.pop(before.key)
                incident.opened_at = at
                incident.merged_into = None
                if incident not in self.active:
                    self.active.append(incident)
            else:
                incident = IncidentRecord(uuid.uuid4().hex, OPEN, at, at)
                self.incidents[incident.key] = incident
                self.active.append(incident)
                incident.changes.add("opened")
        incident.add(record, self._fresh(incident))
        incident.last_activity = max(incident.last_activity, record.last_at)
        record.incident = incident
        if fresh:
            if len(incident.alerts) == 1:
                incident.log(at, "opened", f"opened by {alert.name} on {_label(alert)}")
            else:
                incident.changes.add("updated")
                incident.log(at, "alert", f"{alert.name} on {_label(alert)} joined")
        elif before is not incident:
            record.changed = True
            self.moved.add(record)
            incident.changes.add("updated")
            incident.log(
                at,
                "regrouped",
                f"{alert.name} on {_label(alert)} joined when an earlier alert arrived late",
            )
            if before is not None:
                before.changes.add("updated")
                self._touched.add(before.key)
        record._before = None
        self._restatus(incident, record.last_at)
        self._touched.add(incident.key)

    def _settle(self, at: datetime) -> None:
        """Incidents a regrouping emptied are merged into the one that took their alerts."""
        for key, incident in list(self._vacant.items()):
            del self._vacant[key]
            taken = Counter(
                r.incident.key
                for r in incident._former
                if r.incident is not None and r.incident is not incident
            )
            incident._former.clear()
            if incident.id is None and "opened" in incident.changes:
                # Opened and emptied in this batch: nobody has seen it.
                self.incidents.pop(key, None)
                self._touched.discard(key)
                continue
            incident.status = MERGED
            incident.merged_into = taken.most_common(1)[0][0] if taken else None
            incident.root_causes = []
            incident.changes.add("merged")
            incident.log(
                at,
                "merged",
                f"its alerts were regrouped into {incident.merged_into[:8]}"
                if incident.merged_into
                else "its alerts were regrouped",
                {"merged_into": incident.merged_into},
            )
            self._touched.add(key)

    def _restatus(self, incident: IncidentRecord, at: datetime) -> None:
        if not incident.alerts:
            return
        if all(a.status == RESOLVED for a in incident.alerts):
            if incident.status in ACTIVE:
                incident.status = RESOLVED
                incident.resolved_at = max(a.resolved_at or a.last_at for a in incident.alerts)
                incident.changes.add("resolved")
                incident.log(at, "resolved", "every alert resolved")
        elif incident.status not in ACTIVE:
            self._reopen(incident, at)

    # -- the join -------------------------------------------------------------------------------

    def _incident_for(self, alert: Alert, at: datetime) -> IncidentRecord | None:
        """The incident ``alert`` most likely belongs to, or None when it is something new."""
        horizon = at - self.settings.horizon
        keep = at - self.settings.horizon - self.settings.reorder
        self.active = [i for i in self.active if i.latest >= keep]
        best: IncidentRecord | None = None
        best_key: tuple[float, datetime, str] | None = None
        floor = self._log_background(alert.entity, alert.severity)
        for incident in self.active:
            if incident.latest < horizon or not incident.alerts:
                continue
            if _log(self.model.bound((at - incident.latest).total_seconds())) <= floor:
                continue  # too long after its latest alert for any cause to explain
            ratio = self._join_ratio(incident, alert, at)
            if ratio <= 0.0:
                continue
            opener = min(incident.alerts, key=lambda r: r.order)
            key = (-ratio, opener.first_at, opener.alert.fingerprint)
            if best_key is None or key < best_key:
                best, best_key = incident, key
        return best

    def join_ratio(self, incident: IncidentRecord, alert: Alert, at: datetime) -> float:
        """Log of how much likelier ``alert`` is under ``incident``'s fault than as new."""
        return self._join_ratio(incident, alert, at)

    def _join_ratio(self, incident: IncidentRecord, alert: Alert, at: datetime) -> float:
        model = self.model
        x = alert.entity
        belief = self._fresh(incident)
        if x is None:
            hint = alert.entity_hint or alert.name
            last = incident._hints.get(hint)
            victim = model.severity_share("victim", alert.severity)
            if last is not None:
                density = victim * model.repeat * model.repeat_kernel((at - last).total_seconds())
            else:
                # Something the catalog does not know, alerting during a fault: only time
                # relates it (its place in the graph is unknown: one hop, as most are).
                times = [*incident.first_alerts().values(), *incident.last_alerts().values()]
                fit = max((model.kernel((at - t).total_seconds(), 1, 1) for t in times), default=0)
                density = victim * model.unknown * fit
            return _log(density) - self._log_background(None, alert.severity)
        first, last_of = incident.first_alerts(), incident.last_alerts()
        if not first:
            return -math.inf
        again = x in first
        # Which failures would reach x: none of the incident's suspects, and x needed by none
        # of its entities, means no cause explains both (the common case, decided cheaply).
        sources = self._sources(x)
        late_cause = (
            not again
            and x not in belief.loglik
            and not first.keys().isdisjoint(self.graph.dependants_within(x, model.reach))
        )
        if not again and not late_cause and sources.isdisjoint(belief.loglik):
            return -math.inf
        # x may also be the cause, alerting late: then it is a suspect too.
        causes = belief.with_candidate(x, at) if late_cause else belief.posterior(at)
        density = 0.0
        for cause, weight in causes:
            if weight < 1e-4:
                break
            reach = self.graph.dependants_within(cause, model.reach)
            hops_x = 0 if x == cause else reach.get(x)
            if hops_x is None:
                continue
            # The gap is measured to the member implying the earliest start of the fault
            # (its first alert, less the delay of its hops): a fault's pace is set from its
            # beginning, so a late alert cannot hop from member to member along a chain.
            anchor: tuple[float, datetime, int] | None = None
            for y, since in first.items():
                hops_y = 0 if y == cause else reach.get(y)
                if hops_y is None or y == x:
                    continue
                implied = since.timestamp() - model.hop_delay * hops_y
                if anchor is None or implied < anchor[0]:
                    anchor = (implied, since, hops_y)
            if anchor is None:
                continue
            best = model.kernel((at - anchor[1]).total_seconds(), hops_x, anchor[2])
            # Another alert of an alerting entity fits by its own gap or by the fault's pace.
            chance = model.repeat if again else model.chance(hops_x, cause)
            role = "cause" if x == cause and not again else "victim"
            density += weight * chance * best * model.severity_share(role, alert.severity)
        if again:
            gap = min(abs((at - first[x]).total_seconds()), abs((at - last_of[x]).total_seconds()))
            again_density = model.repeat * model.repeat_kernel(gap)
            density = max(density, again_density * model.severity_share("victim", alert.severity))
        return _log(density) - self._log_background(x, alert.severity)

    def _sources(self, entity: str) -> frozenset[str]:
        """The entities whose failure reaches ``entity`` (itself included)."""
        found = self._source_cache.get(entity)
        if found is None:
            found = frozenset({entity, *self.graph.needs_within(entity, self.model.reach)})
            self._source_cache[entity] = found
        return found

    def _log_background(self, entity: str | None, severity: str) -> float:
        """Log-density (per second) of ``entity`` starting something new with an alert of
        ``severity``: noise, a fault of its own, or a fault of anything it needs that reaches
        it (an entity the catalog does not know: noise or a fault of its own)."""
        key = (entity, severity)
        found = self._backgrounds.get(key)
        if found is None:
            model = self.model
            own = model.chance(0, entity) if entity is not None else 1.0
            reached = (
                sum(
                    model.propagation**hops
                    for hops in self.graph.needs_within(entity, model.reach).values()
                )
                if entity is not None
                else 0.0
            )
            rate = model.noise_rate * model.severity_share("noise", severity) + model.fault_rate * (
                own * model.severity_share("cause", severity)
                + reached * model.severity_share("victim", severity)
            )
            found = math.log(rate / 3600.0)
            self._backgrounds[key] = found
        return found

    # -- lifecycle --------------------------------------------------------------------------

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
        touched = [self.incidents[k] for k in sorted(self._touched) if k in self.incidents]
        self._touched.clear()
        self.moved.clear()
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
            ranked = [s.as_dict() for s in rank(self.graph, first, loud, settings=self.ranking)]
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


def _log(value: float) -> float:
    return math.log(value) if value > 0.0 else -math.inf


def _label(alert: Alert) -> str:
    return alert.entity or (
        f"{alert.entity_hint} (not in the catalog)" if alert.entity_hint else "no entity"
    )
