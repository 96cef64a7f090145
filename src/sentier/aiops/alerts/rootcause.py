"""Ranking an incident's likely root cause from the dependency graph, with the reasons.

A failing dependency makes the entities that need it fail after it. So the likely cause is
the entity that the other alerting entities depend on (coverage), that depends on no other
alerting entity (upstream-most), that alerted first (timing), and alerted loudest (strength).
An entity that does not alert itself but that alerting entities use directly is a suspect
too (a database nobody monitors): ranked a little lower when several alerting entities share
it, and below the alerting entity when only one uses it (a resource before a service, since
resources are the ones that often go unmonitored).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sentier.aiops.alerts.graph import DependencyGraph

WEIGHTS = {"coverage": 0.45, "upstream": 0.25, "timing": 0.2, "strength": 0.1}
SILENT_FACTOR = 0.8  # a silent dependency shared by several alerting entities
LONE_SILENT_FACTOR = 0.4  # a silent dependency of a single alerting entity


@dataclass
class Suspect:
    ref: str
    score: float
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "score": round(self.score, 3), "reasons": self.reasons}


def _name(ref: str) -> str:
    return ref.split("/", 1)[-1]


def rank(
    graph: DependencyGraph,
    first_alert: Mapping[str, datetime],
    strength: Mapping[str, float],
    limit: int = 5,
) -> list[Suspect]:
    """Suspects, best first. ``first_alert``: entity -> when it first alerted."""
    alerting = set(first_alert)
    if not alerting:
        return []
    times = sorted(first_alert.values())
    span = (times[-1] - times[0]).total_seconds() or 1.0
    order = {ref: index for index, ref in enumerate(sorted(alerting, key=lambda r: first_alert[r]))}
    silent: dict[str, int] = {}
    for ref in alerting:
        for dependency in graph.depends_on.get(ref, ()):
            targets = [dependency]
            if dependency.startswith("api:"):
                targets = list(graph.depends_on.get(dependency, ())) or [dependency]
            for target in targets:
                if target not in alerting:
                    silent[target] = silent.get(target, 0) + 1
    candidates = alerting | set(silent)
    suspects = []
    for ref in candidates:
        others = alerting - {ref}
        upstream = graph.upstream_of(ref)
        covered = [e for e in others if e in upstream]
        coverage = len(covered) / len(others) if others else 0.0
        below = [e for e in others if ref in graph.upstream_of(e)]
        reasons = []
        if others:
            reasons.append(
                f"{len(covered)} of {len(others)} other alerting entities depend on it"
                if covered
                else "no other alerting entity depends on it"
            )
        if below:
            reasons.append(
                f"it depends on alerting {', '.join(sorted(_name(e) for e in below)[:3])}"
            )
        else:
            reasons.append("it depends on no other alerting entity")
        if ref in alerting:
            timing = 1.0 - (first_alert[ref] - times[0]).total_seconds() / span
            if len(alerting) == 1:
                timing = 1.0
            if order[ref] == 0:
                reasons.append(f"first to alert ({first_alert[ref].strftime('%H:%M:%S')})")
            else:
                late = (first_alert[ref] - times[0]).total_seconds()
                reasons.append(f"alerted {late:.0f}s after the first alert")
            loud = strength.get(ref, 0.5)
            score = (
                WEIGHTS["coverage"] * coverage
                + WEIGHTS["upstream"] * (0.0 if below else 1.0)
                + WEIGHTS["timing"] * timing
                + WEIGHTS["strength"] * loud
            )
        else:
            users = silent[ref]
            reasons.append(
                f"not alerting itself, but {users} alerting "
                f"{'entities use' if users > 1 else 'entity uses'} it directly"
            )
            factor = SILENT_FACTOR if silent[ref] >= 2 else LONE_SILENT_FACTOR
            if not ref.startswith("resource:"):
                factor *= 0.9
            score = factor * (
                WEIGHTS["coverage"] * coverage + WEIGHTS["upstream"] * (0.0 if below else 1.0)
            )
        suspects.append(Suspect(ref, score, reasons))
    suspects.sort(key=lambda s: (-s.score, s.ref))
    return suspects[:limit]
