"""Ranking an incident's likely root cause from the dependency graph, with the reasons.

A failing entity makes the entities that need it fail after it: each one ``d`` hops away
alerts with probability ``propagation ** d`` (up to ``reach`` hops), and the failing entity
itself may raise no alert at all (a database nobody monitors: ``silent`` by kind). So each
suspect is scored by how well it explains what is seen — which of its dependants alert and
which stay quiet, whether it alerts itself, whether it alerted before its dependants, a
little how loud its own alert is — and an alert it cannot explain costs ``stray``. The
suspects are the alerting entities and what they use directly; their scores are posterior
probabilities (they sum to one over the suspects). Why a model rather than weights: a hub
(a shared Kafka, the auth service) whose forty dependants stay quiet is a poor suspect for
three alerts, and a lone alerting service whose own dependants stay quiet points to
something it uses — a weighted sum says neither.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.likelihood import JoinModel, default_model


@dataclass(frozen=True)
class RootCauseSettings:
    propagation: float = 0.75
    reach: int = 3
    silent: tuple[tuple[str, float], ...] = (("resource", 0.3), ("component", 0.05))
    silent_other: float = 0.1
    stray: float = 0.02
    late: float = 0.5
    lag_seconds: float = 60.0
    strength: float = 0.5

    def silent_share(self, ref: str) -> float:
        kind = ref.split(":", 1)[0]
        return dict(self.silent).get(kind, self.silent_other)


@lru_cache(maxsize=1)
def default_root_cause() -> RootCauseSettings:
    """The propagation model's learned values (``model:``) with the ranking's own choices."""
    text = resources.files("sentier.aiops.alerts").joinpath("correlation.yaml").read_text()
    data = (yaml.safe_load(text) or {}).get("root_cause") or {}
    return settings_from(default_model(), data)


def settings_from(model: JoinModel, data: Mapping[str, Any] | None = None) -> RootCauseSettings:
    """Ranking settings sharing ``model``'s propagation, reach, silences and stray chance."""
    data = data or {}
    return RootCauseSettings(
        propagation=model.propagation,
        reach=model.reach,
        silent=model.silent,
        silent_other=model.silent_other,
        stray=model.stray,
        late=float(data.get("late", 0.5)),
        lag_seconds=float(data.get("lag_seconds", 60.0)),
        strength=float(data.get("strength", 0.5)),
    )


@dataclass
class Suspect:
    ref: str
    score: float
    reasons: list[str] = field(default_factory=list)
    log_likelihood: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "score": round(self.score, 3), "reasons": self.reasons}


def _name(ref: str) -> str:
    return ref.split("/", 1)[-1]


def suspects_of(graph: DependencyGraph, alerting: set[str]) -> set[str]:
    """The alerting entities and everything they use directly (an API: its provider)."""
    found = set(alerting)
    for ref in alerting:
        found.update(graph.direct_needs(ref))
    return found


def _explain(
    graph: DependencyGraph,
    ref: str,
    first_alert: Mapping[str, datetime],
    settings: RootCauseSettings,
    strength: Mapping[str, float],
) -> tuple[float, list[str]]:
    """Log-likelihood of what is seen if ``ref`` failed, and why, in words."""
    alerting = set(first_alert)
    reach = graph.dependants_within(ref, settings.reach)
    q = settings.propagation
    ll = 0.0
    loud: list[tuple[int, str]] = []
    quiet_near = 0
    for dependant, hops in reach.items():
        chance = q**hops
        if dependant in alerting:
            ll += math.log(chance)
            loud.append((hops, dependant))
        else:
            ll += math.log(1.0 - chance)
            quiet_near += hops == 1
    reasons = []
    others = alerting - {ref}
    explained = [e for e in others if e in reach]
    stray = len(others) - len(explained)
    ll += stray * math.log(settings.stray)
    if others:
        reasons.append(
            f"explains {len(explained)} of {len(others)} other alerting entities "
            "(they depend on it)"
            if explained
            else "no other alerting entity depends on it"
        )
    direct = sum(1 for hops, _ in loud if hops == 1)
    if direct or quiet_near:
        reasons.append(f"{direct} of {direct + quiet_near} entities using it directly alert")
    silent = settings.silent_share(ref)
    if ref in alerting:
        ll += math.log(1.0 - silent)
        start = first_alert[ref]
        earlier = [
            e for e in explained if (start - first_alert[e]).total_seconds() > settings.lag_seconds
        ]
        ll += len(earlier) * math.log(settings.late)
        first = min(first_alert.values())
        if start == first:
            reasons.append(f"first to alert ({start.strftime('%H:%M:%S')})")
        else:
            reasons.append(f"alerted {(start - first).total_seconds():.0f}s after the first alert")
        if earlier:
            reasons.append(f"{len(earlier)} of its dependants alerted well before it")
        if settings.strength:
            loudness = strength.get(ref, 0.5)
            a = settings.strength
            ll += math.log((loudness + a) / (1.0 - loudness + a))
    else:
        ll += math.log(silent)
        reasons.append("not alerting itself (unmonitored?), but alerting entities use it")
    needed = graph.needs_within(ref, settings.reach)
    below = [e for e in others if e in needed]
    if below:
        reasons.append(f"it depends on alerting {', '.join(sorted(_name(e) for e in below)[:3])}")
    return ll, reasons


def rank(
    graph: DependencyGraph,
    first_alert: Mapping[str, datetime],
    strength: Mapping[str, float] | None = None,
    limit: int = 5,
    settings: RootCauseSettings | None = None,
) -> list[Suspect]:
    """Suspects, best first, scored by posterior probability. ``first_alert``: entity -> when
    it first alerted; ``strength``: entity -> its loudest alert in [0, 1] (severity, or an
    anomaly score), weighed mildly, as senders set severities by their own conventions."""
    settings = settings or default_root_cause()
    alerting = set(first_alert)
    if not alerting:
        return []
    suspects = []
    for ref in suspects_of(graph, alerting):
        ll, reasons = _explain(graph, ref, first_alert, settings, strength or {})
        suspects.append(Suspect(ref, 0.0, reasons, ll))
    best = max(s.log_likelihood for s in suspects)
    total = sum(math.exp(s.log_likelihood - best) for s in suspects)
    for suspect in suspects:
        suspect.score = math.exp(suspect.log_likelihood - best) / total
    suspects.sort(key=lambda s: (-s.log_likelihood, s.ref))
    return suspects[:limit]
