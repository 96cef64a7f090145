"""Seeded fault scenarios on a real dependency graph: alert storms with a known truth.

A fault at one entity makes the entities that depend on it alert after it, hop by hop, with
delays and not all of them; unrelated noise alerts come and go; Alertmanager re-sends firing
alerts, some alerts flap, and independent faults may strike at the same time. The output is
what Alertmanager would send (webhook v4 payloads), so the whole path is exercised, and the
truth: which fault each alert belongs to and where each fault began. Used by the benchmark
and by the demo organisation.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentier.aiops.alerts.graph import DependencyGraph

SYMPTOMS = {
    "component": ("HighErrorRate", "HighLatency", "PodCrashLooping", "SaturatedWorkers"),
    "resource": ("DatabaseConnectionsExhausted", "DiskFillingUp", "QueueBacklogGrowing"),
}
CAUSES = {
    "component": ("PodCrashLooping", "HighErrorRate", "DeploymentFailed"),
    "resource": ("DatabaseDown", "DiskFull", "ReplicationLag"),
}


@dataclass(frozen=True)
class Fault:
    id: str
    entity: str
    start: datetime


@dataclass
class Scenario:
    payloads: list[dict[str, Any]]  # Alertmanager webhook v4 payloads, in sending order
    truth: dict[tuple[str, str], str]  # (fingerprint, startsAt of first firing) -> group
    faults: list[Fault] = field(default_factory=list)
    alerts: int = 0  # distinct alert occurrences
    notifications: int = 0


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _name(ref: str) -> str:
    return ref.split("/", 1)[-1]


def _kind(ref: str) -> str:
    return ref.split(":", 1)[0]


class _Writer:
    def __init__(self, rng: random.Random, seed: int) -> None:
        self.rng = rng
        self.seed = seed
        self.events: list[tuple[datetime, dict[str, Any]]] = []
        self.truth: dict[tuple[str, str], str] = {}
        self.alerts = 0
        self.counter = 0

    def alert(
        self,
        group: str,
        entity_label: str,
        name: str,
        severity: str,
        start: datetime,
        end: datetime,
        *,
        flap: bool = False,
        resend: bool = False,
    ) -> None:
        self.counter += 1
        labels = {
            "alertname": name,
            "service": entity_label,
            "severity": severity,
            "namespace": "prod",
        }
        identity = f"{self.seed}|{group}|{entity_label}|{name}|{self.counter}"
        fingerprint = hashlib.sha256(identity.encode()).hexdigest()[:16]
        self.truth[(fingerprint, _iso(start))] = group
        self.alerts += 1
        summary = f"{name} on {entity_label}"
        firing = {"status": "firing", "labels": labels, "fingerprint": fingerprint}
        self.events.append(
            (
                start,
                {
                    **firing,
                    "startsAt": _iso(start),
                    "endsAt": "0001-01-01T00:00:00Z",
                    "annotations": {"summary": summary},
                },
            )
        )
        # Alertmanager re-sends a firing alert at every group interval (5 minutes by default).
        again = start + timedelta(minutes=5)
        while resend and again < end:
            self.events.append(
                (
                    again,
                    {
                        **firing,
                        "startsAt": _iso(start),
                        "endsAt": "0001-01-01T00:00:00Z",
                        "annotations": {"summary": summary},
                    },
                )
            )
            again += timedelta(minutes=5)
        if flap:
            down = start + timedelta(seconds=self.rng.uniform(60, 180))
            up = down + timedelta(seconds=self.rng.uniform(30, 240))
            if up < end:
                self.events.append(
                    (
                        down,
                        {
                            **firing,
                            "status": "resolved",
                            "startsAt": _iso(start),
                            "endsAt": _iso(down),
                            "annotations": {"summary": summary},
                        },
                    )
                )
                self.events.append(
                    (
                        up,
                        {
                            **firing,
                            "startsAt": _iso(up),
                            "endsAt": "0001-01-01T00:00:00Z",
                            "annotations": {"summary": summary},
                        },
                    )
                )
                start = up
        self.events.append(
            (
                end,
                {
                    **firing,
                    "status": "resolved",
                    "startsAt": _iso(start),
                    "endsAt": _iso(end),
                    "annotations": {"summary": summary},
                },
            )
        )


def generate(
    graph: DependencyGraph,
    *,
    seed: int = 7,
    faults: int = 40,
    noise: int = 40,
    hours: float = 24.0,
    start: datetime | None = None,
    simultaneous: float = 0.25,
    unknown_share: float = 0.1,
    batch: int = 8,
    fault_entities: list[str] | None = None,
    silent_roots: float = 0.3,
) -> Scenario:
    """A day (by default) of faults and noise on ``graph``; same seed, same storm."""
    rng = random.Random(seed)
    begin = start or datetime(2026, 11, 2, tzinfo=UTC)
    nodes = sorted(
        ref for ref in set(graph.depends_on) | set(graph.dependants) if _kind(ref) != "api"
    )
    labels = {ref: _name(ref) for ref in nodes}
    candidates = fault_entities or [ref for ref in nodes if graph.upstream_of(ref)]
    writer = _Writer(rng, seed)
    fault_list: list[Fault] = []
    previous: tuple[datetime, str] | None = None
    for index in range(faults):
        simultaneous_with = None
        if previous is not None and rng.random() < simultaneous:
            moment = previous[0] + timedelta(seconds=rng.uniform(0, 90))
            simultaneous_with = previous[1]
        else:
            moment = begin + timedelta(seconds=rng.uniform(0, hours * 3600))
        if fault_entities:
            entity = fault_entities[index % len(fault_entities)]
        elif simultaneous_with is not None:
            # An independent fault: nothing depends on both, neither needs the other.
            shared = graph.upstream_of(simultaneous_with) | {simultaneous_with}
            apart = [
                ref
                for ref in candidates
                if not (graph.upstream_of(ref) | {ref}) & shared
                and graph.distance(ref, simultaneous_with, 6) is None
            ]
            entity = rng.choice(apart or candidates)
        else:
            entity = rng.choice(candidates)
        previous = (moment, entity)
        fault = Fault(f"fault-{index}", entity, moment)
        fault_list.append(fault)
        duration = timedelta(minutes=rng.uniform(10, 45))
        kind = _kind(entity) if _kind(entity) in CAUSES else "component"
        silent_root = kind == "resource" and rng.random() < silent_roots
        if not silent_root:
            writer.alert(
                fault.id,
                labels[entity],
                rng.choice(CAUSES[kind]),
                "critical",
                moment,
                moment + duration,
                flap=rng.random() < 0.1,
                resend=rng.random() < 0.5,
            )
        # propagate to dependants, hop by hop (API nodes are crossed, not counted)
        frontier = [(entity, 0)]
        seen = {entity}
        while frontier:
            node, hops = frontier.pop(0)
            for parent in sorted(graph.dependants.get(node, ())):
                if parent in seen:
                    continue
                seen.add(parent)
                through_api = _kind(parent) == "api"
                depth = hops if through_api else hops + 1
                if depth > 3:
                    continue
                frontier.append((parent, depth))
                if through_api or rng.random() > 0.75**depth:
                    continue
                delay = timedelta(seconds=sum(rng.uniform(20, 100) for _ in range(depth)))
                kind_p = _kind(parent) if _kind(parent) in SYMPTOMS else "component"
                for name in rng.sample(SYMPTOMS[kind_p], rng.choice((1, 1, 2))):
                    writer.alert(
                        fault.id,
                        labels.get(parent, _name(parent)),
                        name,
                        "warning",
                        moment + delay,
                        moment + duration + delay,
                        flap=rng.random() < 0.1,
                        resend=rng.random() < 0.5,
                    )
    for index in range(noise):
        moment = begin + timedelta(seconds=rng.uniform(0, hours * 3600))
        if rng.random() < unknown_share:
            label = f"legacy-job-{rng.randint(1, 20)}"
        else:
            label = labels[rng.choice(nodes)]
        kind = "component"
        writer.alert(
            f"noise-{index}",
            label,
            rng.choice(SYMPTOMS[kind]),
            rng.choice(("warning", "info")),
            moment,
            moment + timedelta(minutes=rng.uniform(2, 20)),
            flap=rng.random() < 0.2,
            resend=rng.random() < 0.5,
        )
    writer.events.sort(key=lambda e: e[0])
    payloads: list[dict[str, Any]] = []
    for offset in range(0, len(writer.events), batch):
        chunk = [alert for _, alert in writer.events[offset : offset + batch]]
        payloads.append(
            {
                "version": "4",
                "receiver": "sentier",
                "status": "firing" if any(a["status"] == "firing" for a in chunk) else "resolved",
                "groupKey": f"storm-{seed}-{offset}",
                "groupLabels": {},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://alertmanager.invalid",
                "alerts": chunk,
            }
        )
    return Scenario(payloads, writer.truth, fault_list, writer.alerts, len(writer.events))
