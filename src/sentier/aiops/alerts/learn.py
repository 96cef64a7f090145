"""Learning the propagation model's parameters by maximum likelihood from labelled storms.

Given storms whose truth is known (which fault or noise event each alert occurrence belongs
to, and where each fault began), every parameter of ``JoinModel`` but ``reach`` and ``stray``
has a likelihood that can be maximised on its own:

- ``propagation`` and ``reach``: entities ``h`` hops above a fault's cause alert with
  chance ``p ** h`` up to ``reach`` hops, none beyond; maximised over both on which did;
- ``silent``: per kind, the share of causes raising no alert of their own (with one fault
  of each outcome added, so that a kind never seen silent is not certain never to be);
- ``unknown``: the chance that a given entity the catalog does not know alerts in a fault
  (alerting unknown names per fault, over the unknown names a storm shows);
- ``hop_delay``, ``spread``, ``spread_per_hop``, ``tail``: the Student t density of the gaps
  between the first alerts of two entities of one fault (Nelder-Mead on the four);
- ``repeat``, ``repeat_spread``: further alerts per alerting entity, and the half-t
  density (same ``tail``) of the gaps between one entity's alerts within a fault;
- ``fault_rate``, ``noise_rate``: faults, and noise events, per entity per hour;
- ``severity``: the share of each severity among causes' own alerts, victims' and noise
  alerts (each severity seen counted once more in each, so that none is impossible).

``bench/incidents.py --fit`` runs this on the tuning family and prints the values that go
into ``correlation.yaml``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.likelihood import JoinModel
from sentier.aiops.alerts.model import SEVERITIES
from sentier.aiops.alerts.normalise import from_alertmanager
from sentier.aiops.alerts.scenarios import Scenario, _iso


@dataclass
class Evidence:
    """What the labelled storms say, gathered before any parameter is fitted."""

    gaps: list[tuple[float, int, int]] = field(default_factory=list)  # (gap s, hops x, hops y)
    repeat_gaps: list[float] = field(default_factory=list)
    extra_alerts: int = 0
    alerting_entities: int = 0
    by_hops: dict[int, list[int]] = field(default_factory=dict)  # hops -> [alerted, quiet]
    silent: dict[str, list[int]] = field(default_factory=dict)  # kind -> [silent, alerting]
    faults: int = 0
    noise: int = 0
    entity_hours: float = 0.0
    unknown_alerting: int = 0  # (fault, unknown name) pairs
    unknown_chances: int = 0  # faults x unknown names seen in their storm
    severities: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> counts


MAX_REACH = 8


def gather(storms: Iterable[tuple[DependencyGraph, Scenario]], reach: int = MAX_REACH) -> Evidence:
    evidence = Evidence()
    for graph, scenario in storms:
        _gather_one(evidence, graph, scenario, reach)
    return evidence


def _gather_one(evidence: Evidence, graph: DependencyGraph, scenario: Scenario, reach: int) -> None:
    starts: dict[str, dict[str, list[datetime]]] = {}  # group -> entity -> alert starts
    causes = {f.id: f.entity for f in scenario.faults}
    unknown: dict[str, set[str]] = {}  # group -> names the catalog does not know
    seen: set[tuple[str, str]] = set()
    times: list[datetime] = []
    for index, payload in enumerate(scenario.payloads):
        for alert in from_alertmanager(payload, f"payload {index}").alerts:
            key = (alert.fingerprint, _iso(alert.starts_at))
            group = scenario.truth.get(key)
            if group is None or key in seen:
                continue
            seen.add(key)
            times.append(alert.starts_at)
            entity = graph.resolve(alert.entity_hint)
            role = (
                "noise"
                if group not in causes
                else ("cause" if entity == causes[group] else "victim")
            )
            tally = evidence.severities.setdefault(role, {})
            tally[alert.severity] = tally.get(alert.severity, 0) + 1
            if entity is not None:
                starts.setdefault(group, {}).setdefault(entity, []).append(alert.starts_at)
            else:
                unknown.setdefault(group, set()).add(alert.entity_hint or alert.name)
    if not times:
        return
    groups = set(scenario.truth.values())
    fault_ids = {f.id for f in scenario.faults}
    evidence.faults += len(groups & fault_ids)
    evidence.noise += len(groups - fault_ids)
    names = set().union(*unknown.values()) if unknown else set()
    evidence.unknown_chances += len(scenario.faults) * len(names)
    evidence.unknown_alerting += sum(len(unknown.get(f.id, ())) for f in scenario.faults)
    entities = {r for r in (*graph.depends_on, *graph.dependants) if not r.startswith("api:")}
    hours = (max(times) - min(times)).total_seconds() / 3600
    evidence.entity_hours += len(entities) * hours
    for fault in scenario.faults:
        members = starts.get(fault.id)
        if not members:
            continue
        cause = fault.entity
        above = graph.dependants_within(cause, reach)
        kind = cause.split(":", 1)[0]
        outcome = evidence.silent.setdefault(kind, [0, 0])
        outcome[0 if cause not in members else 1] += 1
        for entity, distance in above.items():
            counts = evidence.by_hops.setdefault(distance, [0, 0])
            counts[0 if entity in members else 1] += 1
        placed = {e: (0 if e == cause else above.get(e)) for e in members}
        firsts = sorted(
            (min(ts), hops) for e, ts in members.items() if (hops := placed[e]) is not None
        )
        for i, (t_y, hops_y) in enumerate(firsts):
            for t_x, hops_x in firsts[i + 1 :]:
                evidence.gaps.append(((t_x - t_y).total_seconds(), hops_x, hops_y))
        for ts in members.values():
            ordered = sorted(ts)
            evidence.alerting_entities += 1
            evidence.extra_alerts += len(ordered) - 1
            evidence.repeat_gaps += [
                (b - a).total_seconds() for a, b in itertools.pairwise(ordered)
            ]


def fit(evidence: Evidence, base: JoinModel | None = None) -> JoinModel:
    """The maximum-likelihood model for ``evidence`` (``reach`` and ``stray`` from ``base``)."""
    base = base or JoinModel()
    propagation, reach = _fit_propagation(evidence.by_hops, base.propagation, base.reach)
    model = replace(base, propagation=propagation, reach=reach)
    silent = tuple(
        sorted((kind, (s + 1) / (s + a + 2)) for kind, (s, a) in evidence.silent.items())
    )
    if silent:
        model = replace(model, silent=silent)
    if len(evidence.gaps) >= 4:
        hop_delay, spread, per_hop, tail = _fit_gaps(evidence.gaps)
        model = replace(
            model, hop_delay=hop_delay, spread=spread, spread_per_hop=per_hop, tail=tail
        )
    if evidence.alerting_entities:
        model = replace(model, repeat=max(evidence.extra_alerts, 1) / evidence.alerting_entities)
    if len(evidence.repeat_gaps) >= 3:
        model = replace(model, repeat_spread=_fit_half_t(evidence.repeat_gaps, model.tail))
    if evidence.unknown_chances:
        # One alerting unknown name added (and one quiet), so that never is not certain.
        model = replace(
            model, unknown=(evidence.unknown_alerting + 1) / (evidence.unknown_chances + 2)
        )
    if evidence.severities:
        # Each severity seen in the data is counted once more in each role, so that none is
        # impossible; one never seen is left out (it then says nothing).
        seen = [s for s in SEVERITIES if any(c.get(s) for c in evidence.severities.values())]
        shares = []
        for role, counts in sorted(evidence.severities.items()):
            total = sum(counts.values()) + len(seen)
            shares.append((role, tuple((s, (counts.get(s, 0) + 1) / total) for s in seen)))
        model = replace(model, severity=tuple(shares))
    if evidence.entity_hours > 0:
        model = replace(
            model,
            fault_rate=max(evidence.faults, 1) / evidence.entity_hours,
            noise_rate=max(evidence.noise, 1) / evidence.entity_hours,
        )
    return model


def _fit_propagation(
    by_hops: dict[int, list[int]], default: float, default_reach: int
) -> tuple[float, int]:
    """``p`` and ``reach`` maximising the likelihood of who alerted, by hops from the cause.

    Beyond ``reach`` nothing alerts, so a reach below the farthest alert seen is impossible;
    among the others, the likelihood chooses (one more hop that stays quiet costs a little).
    """
    if not by_hops:
        return default, default_reach
    farthest = max((h for h, (alerted, _) in by_hops.items() if alerted), default=1)
    best: tuple[float, float, int] | None = None
    for reach in range(farthest, max(by_hops) + 1):
        kept = {h: c for h, c in by_hops.items() if h <= reach}

        def nll(p: float, kept: dict[int, list[int]] = kept) -> float:
            total = 0.0
            for hops, (alerted, quiet) in kept.items():
                chance = p**hops
                total += alerted * math.log(chance) + quiet * math.log(1.0 - chance)
            return -total

        p = _golden(nll, 0.01, 0.99)
        if best is None or nll(p) < best[0]:
            best = (nll(p), p, reach)
    assert best is not None
    return best[1], best[2]


def _fit_gaps(gaps: Sequence[tuple[float, int, int]]) -> tuple[float, float, float, float]:
    data = np.array(gaps, dtype=float)
    gap, hx, hy = data[:, 0], data[:, 1], data[:, 2]
    diff, total = hx - hy, hx + hy

    def nll(theta: Sequence[float]) -> float:
        delay, log_spread, log_per_hop, log_tail = theta
        nu = min(math.exp(log_tail), 1e4)
        scale = math.exp(log_spread) + math.exp(log_per_hop) * total
        z = (gap - delay * diff) / scale
        norm = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
        return float(np.sum(np.log(scale) + (nu + 1) / 2 * np.log1p(z * z / nu)) - norm * len(z))

    start = [float(np.median(np.abs(gap))) or 30.0, math.log(20.0), math.log(10.0), math.log(4.0)]
    delay, log_spread, log_per_hop, log_tail = _nelder_mead(nll, start, steps=2000)
    return delay, math.exp(log_spread), math.exp(log_per_hop), min(math.exp(log_tail), 1e4)


def _fit_half_t(gaps: Sequence[float], nu: float) -> float:
    values = np.abs(np.array(gaps, dtype=float))

    def nll(log_scale: float) -> float:
        scale = math.exp(log_scale)
        return float(np.sum(np.log(scale) + (nu + 1) / 2 * np.log1p((values / scale) ** 2 / nu)))

    return math.exp(_golden(nll, math.log(0.5), math.log(3600.0)))


def _golden(f: Callable[[float], float], low: float, high: float, steps: int = 80) -> float:
    """The minimum of a unimodal ``f`` on [low, high]."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(d)
    return (a + b) / 2


def _nelder_mead(
    f: Callable[[Sequence[float]], float], start: Sequence[float], steps: int = 400
) -> list[float]:
    """A plain Nelder-Mead simplex search (three parameters, smooth: no library needed)."""
    n = len(start)
    simplex = [list(start)]
    for i in range(n):
        point = list(start)
        point[i] += 0.5 if abs(point[i]) < 5 else 0.2 * abs(point[i])
        simplex.append(point)
    values = [f(p) for p in simplex]
    for _ in range(steps):
        order = sorted(range(n + 1), key=lambda i: values[i])
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        centre = [sum(p[j] for p in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]
        reflected = [centre[j] + (centre[j] - worst[j]) for j in range(n)]
        fr = f(reflected)
        if fr < values[0]:
            expanded = [centre[j] + 2 * (centre[j] - worst[j]) for j in range(n)]
            fe = f(expanded)
            simplex[-1], values[-1] = (expanded, fe) if fe < fr else (reflected, fr)
        elif fr < values[-2]:
            simplex[-1], values[-1] = reflected, fr
        else:
            contracted = [centre[j] + 0.5 * (worst[j] - centre[j]) for j in range(n)]
            fc = f(contracted)
            if fc < values[-1]:
                simplex[-1], values[-1] = contracted, fc
            else:
                best = simplex[0]
                simplex = [best] + [
                    [best[j] + 0.5 * (p[j] - best[j]) for j in range(n)] for p in simplex[1:]
                ]
                values = [values[0]] + [f(p) for p in simplex[1:]]
        if max(values) - min(values) < 1e-7:
            break
    return simplex[min(range(n + 1), key=lambda i: values[i])]
