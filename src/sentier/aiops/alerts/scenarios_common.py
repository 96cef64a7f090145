"""What the storm generators share: alert episodes, and an Alertmanager that dispatches them.

The first generator (``scenarios.py``) writes notifications itself, one alert at a time,
re-sent every five minutes. The others describe *episodes* (an alert firing from a start to
an end, with its labels and the fault or noise event it belongs to) and let
:func:`dispatch` turn them into webhooks the way Alertmanager does: alerts are grouped by
some of their labels, a group is first notified ``group_wait`` after its first alert, then
again every ``group_interval`` while something in it changed (an alert fired or resolved), and
every ``repeat_interval`` otherwise; each webhook carries every alert of the group, firing or
resolved since the last one (so most alerts arrive several times), and a pair of Alertmanagers
in high availability sometimes both send it. The truth is kept per occurrence, by
``(fingerprint, startsAt)`` as the webhooks carry it.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.scenarios import Fault, Scenario, _iso


@dataclass
class Episode:
    """One alert firing from ``start`` to ``end`` (a flap is a new episode, same labels)."""

    labels: dict[str, str]
    start: datetime
    end: datetime
    group: str  # the fault or noise event it belongs to
    summary: str = ""

    @property
    def fingerprint(self) -> str:
        """Alertmanager's identity of an alert: a hash of its label set (not of the episode),
        so the same alert firing again days later carries the same fingerprint."""
        body = json.dumps(sorted(self.labels.items()), separators=(",", ":"))
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Route:
    """The parts of an Alertmanager route that shape what a webhook receiver sees."""

    group_by: tuple[str, ...] = ("alertname",)
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    ha_duplicates: float = 0.03  # share of webhooks a second Alertmanager also sends


@dataclass
class Storm:
    """A generated storm: what the catalog knows, what was sent, and the truth."""

    family: str
    seed: int
    graph: DependencyGraph  # the dependency graph as the catalog declares it
    scenario: Scenario


def merge_episodes(episodes: list[Episode]) -> list[Episode]:
    """Episodes of one label set never overlap: an alert already firing cannot fire again, so a
    second cause only keeps it firing longer (and the alert stays with the first cause)."""
    by_fingerprint: dict[str, list[Episode]] = {}
    for episode in episodes:
        by_fingerprint.setdefault(episode.fingerprint, []).append(episode)
    merged: list[Episode] = []
    for items in by_fingerprint.values():
        items.sort(key=lambda e: (e.start, e.end))
        current = items[0]
        for episode in items[1:]:
            if episode.start <= current.end:
                current.end = max(current.end, episode.end)
            else:
                merged.append(current)
                current = episode
        merged.append(current)
    return sorted(merged, key=lambda e: (e.start, e.fingerprint))


def flapping(
    rng: random.Random, episode: Episode, *, pieces: tuple[int, int], gap: tuple[float, float]
) -> list[Episode]:
    """Split an episode into a few firing spells separated by short resolutions."""
    count = rng.randint(*pieces)
    length = (episode.end - episode.start).total_seconds()
    if count < 2 or length < 120:
        return [episode]
    cuts = sorted(rng.uniform(0.1, 0.9) * length for _ in range(count - 1))
    spells: list[Episode] = []
    start = episode.start
    for cut in cuts:
        down = episode.start + timedelta(seconds=cut)
        if down <= start:
            continue
        spells.append(Episode(episode.labels, start, down, episode.group, episode.summary))
        start = down + timedelta(seconds=rng.uniform(*gap))
    if start < episode.end:
        spells.append(Episode(episode.labels, start, episode.end, episode.group, episode.summary))
    return spells or [episode]


@dataclass(order=True)
class _Event:
    at: datetime
    order: int
    kind: str = field(compare=False)  # start, end, flush
    key: Any = field(compare=False, default=None)


@dataclass
class _Group:
    labels: dict[str, str]
    firing: dict[str, Episode] = field(default_factory=dict)
    resolved: dict[str, Episode] = field(default_factory=dict)
    changed: bool = False
    last_sent: datetime | None = None
    scheduled: bool = False


def dispatch(
    episodes: list[Episode],
    route: Route,
    rng: random.Random,
    *,
    receiver: str = "sentier",
    external_url: str = "http://alertmanager.invalid",
    until: datetime | None = None,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """Webhooks (in sending order) for ``episodes`` under ``route``, and the truth by
    ``(fingerprint, startsAt)``. Episodes still firing at ``until`` are never resolved."""
    truth: dict[tuple[str, str], str] = {}
    queue: list[_Event] = []
    counter = 0

    def push(at: datetime, kind: str, key: Any) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(queue, _Event(at, counter, kind, key))

    for episode in episodes:
        truth[(episode.fingerprint, _iso(episode.start))] = episode.group
        push(episode.start, "start", episode)
        if until is None or episode.end < until:
            push(episode.end, "end", episode)
    groups: dict[tuple[str, ...], _Group] = {}
    payloads: list[tuple[datetime, dict[str, Any]]] = []

    def group_of(episode: Episode) -> tuple[tuple[str, ...], _Group]:
        key = tuple(episode.labels.get(name, "") for name in route.group_by)
        group = groups.get(key)
        if group is None:
            labels = {n: episode.labels[n] for n in route.group_by if n in episode.labels}
            group = groups[key] = _Group(labels)
        return key, group

    while queue:
        event = heapq.heappop(queue)
        if event.kind == "start":
            episode = event.key
            key, group = group_of(episode)
            group.firing[episode.fingerprint] = episode
            group.changed = True
            if not group.scheduled:
                group.scheduled = True
                push(event.at + timedelta(seconds=route.group_wait), "flush", key)
        elif event.kind == "end":
            episode = event.key
            key, group = group_of(episode)
            if group.firing.get(episode.fingerprint) is episode:
                del group.firing[episode.fingerprint]
                group.resolved[episode.fingerprint] = episode
                group.changed = True
        else:
            group = groups[event.key]
            due_repeat = (
                group.last_sent is not None
                and (event.at - group.last_sent).total_seconds() >= route.repeat_interval
            )
            if group.changed or due_repeat:
                payload = _webhook(group, event.key, event.at, receiver, external_url)
                payloads.append((event.at, payload))
                if rng.random() < route.ha_duplicates:
                    later = event.at + timedelta(seconds=rng.uniform(0.5, 20))
                    payloads.append((later, json.loads(json.dumps(payload))))
                group.last_sent = event.at
                group.changed = False
                group.resolved.clear()
            if group.firing:
                push(event.at + timedelta(seconds=route.group_interval), "flush", event.key)
            else:
                group.scheduled = False
    payloads.sort(key=lambda item: item[0])
    return [p for _, p in payloads], truth


def _webhook(
    group: _Group, key: tuple[str, ...], at: datetime, receiver: str, external_url: str
) -> dict[str, Any]:
    alerts = []
    for episode in sorted(group.firing.values(), key=lambda e: (e.start, e.fingerprint)):
        alerts.append(_alert(episode, "firing", external_url))
    for episode in sorted(group.resolved.values(), key=lambda e: (e.start, e.fingerprint)):
        alerts.append(_alert(episode, "resolved", external_url))
    common = dict(alerts[0]["labels"]) if alerts else {}
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert["labels"].get(k) == v}
    return {
        "version": "4",
        "groupKey": "{}:" + json.dumps(group.labels, sort_keys=True),
        "truncatedAlerts": 0,
        "status": "firing" if group.firing else "resolved",
        "receiver": receiver,
        "groupLabels": dict(group.labels),
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": external_url,
        "alerts": alerts,
    }


def _alert(episode: Episode, status: str, external_url: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": dict(episode.labels),
        "annotations": {"summary": episode.summary} if episode.summary else {},
        "startsAt": _iso(episode.start),
        "endsAt": _iso(episode.end) if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": f"{external_url}/graph",
        "fingerprint": episode.fingerprint,
    }


def scenario_of(
    episodes: list[Episode],
    faults: list[Fault],
    route: Route,
    rng: random.Random,
    until: datetime | None = None,
) -> Scenario:
    """Merge, dispatch and count: the ``Scenario`` every benchmark scores."""
    merged = merge_episodes(episodes)
    payloads, truth = dispatch(merged, route, rng, until=until)
    notifications = sum(len(p["alerts"]) for p in payloads)
    return Scenario(payloads, truth, faults, len(merged), notifications)


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(0.0, sigma) * median


def start_of(day: int = 0) -> datetime:
    return datetime(2026, 12, 7, tzinfo=UTC) + timedelta(days=day)
