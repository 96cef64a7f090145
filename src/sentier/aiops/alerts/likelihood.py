"""Whether one fault explains a new alert together with an incident: a likelihood ratio.

The model (its parameters are learned, see ``learn.py``; the values in use are in
``correlation.yaml``):

- faults strike entities at ``fault_rate`` per entity per hour (uniformly: no entity is
  assumed more fragile), and noise alerts (about nothing wrong) appear at ``noise_rate``;
- every entity ``h`` hops above a failing one (needing it, through up to ``reach`` hops)
  alerts with chance ``propagation ** h``; the failing entity itself stays silent with a
  chance that depends on its kind (``silent``: a database nobody watches); an entity the
  catalog does not know alerts in a fault with chance ``unknown``;
- an entity that alerts raises another alert ``repeat`` times on average;
- a cause's own alerts, its victims' and noise alerts each have their own mix of severities
  (``severity``: a noise alert is rarely critical, a victim's rarely info);
- between the first alerts of two entities ``x`` and ``y`` of one fault, at ``hx`` and ``hy``
  hops from it, the time gap follows a Student t centred on ``hop_delay * (hx - hy)``, of
  spread ``spread + spread_per_hop * (hx + hy)`` seconds and ``tail`` degrees of freedom
  (learned too: a small ``tail`` means that long delays are not rare).

A new alert at ``x`` joins the incident ``I`` that maximises

    P(x alerts then | I) = sum over causes c of P(c | I) * P(x alerts | c) * t(gap to I)

when that beats the density of its being something new, ``noise_rate + fault_rate * (the
chances that x alerts when each entity it needs fails)``: an edge service that every fault
reaches starts new incidents often, a leaf database rarely. Otherwise it opens an incident.
``P(c | I)`` is the posterior over the incident's suspects (its alerting entities and what
they use directly); the gap is taken to the member whose timing fits best. No threshold is
set by hand: the ratio's parameters are learned.
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


@dataclass(frozen=True)
class JoinModel:
    """The few parameters of the propagation model (defaults: a neutral starting point)."""

    propagation: float = 0.75
    reach: int = 3
    silent: tuple[tuple[str, float], ...] = (("component", 0.05), ("resource", 0.3))
    silent_other: float = 0.1
    unknown: float = 0.01
    hop_delay: float = 60.0
    spread: float = 30.0
    spread_per_hop: float = 15.0
    tail: float = 4.0
    repeat: float = 0.5
    repeat_spread: float = 30.0
    fault_rate: float = 0.02  # per entity per hour
    noise_rate: float = 0.02  # per entity per hour
    stray: float = 0.02  # chance that an incident's alert is unrelated to its cause
    # Severity by role: the share of a cause's own alerts, a victim's, and noise alerts at each
    # severity. A severity missing from it says nothing (the same factor whatever the role).
    severity: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()

    def severity_share(self, role: str, severity: str) -> float:
        """Chance that an alert playing ``role`` (cause, victim, noise) has ``severity``."""
        for name, shares in self.severity:
            if name == role:
                return dict(shares).get(severity, 1.0)
        return 1.0

    def silent_share(self, ref: str) -> float:
        kind = ref.split(":", 1)[0]
        return dict(self.silent).get(kind, self.silent_other)

    def kernel(self, gap: float, hops_x: int, hops_y: int) -> float:
        """Density of ``gap`` seconds from ``y``'s first alert to ``x``'s, one fault."""
        scale = self.spread + self.spread_per_hop * (hops_x + hops_y)
        z = (gap - self.hop_delay * (hops_x - hops_y)) / scale
        return student(z, self.tail) / scale

    def delay_cdf(self, elapsed: float, hops: int) -> float:
        """Chance that an entity ``hops`` above the cause, if it alerts, has done so by
        ``elapsed`` seconds after the fault began (the same law, against the cause)."""
        scale = self.spread + self.spread_per_hop * hops
        return _cdf_lookup((elapsed - self.hop_delay * hops) / scale, self.tail)

    def repeat_kernel(self, gap: float) -> float:
        """Density of ``gap`` seconds between two alerts of one entity, one fault."""
        return 2.0 * student(abs(gap) / self.repeat_spread, self.tail) / self.repeat_spread

    def bound(self, gap: float) -> float:
        """An upper bound of any join density for an alert ``gap`` seconds after an
        incident's latest alert began (to rule out old incidents without weighing them)."""
        widest = self.spread + self.spread_per_hop * 2 * self.reach
        z = max(0.0, gap - self.hop_delay * self.reach) / widest
        pair = student(z, self.tail) / self.spread * max(1.0, self.repeat)
        again = self.repeat * self.repeat_kernel(gap)
        return max(pair, again)

    def chance(self, hops: int, ref: str) -> float:
        """Chance that an entity ``hops`` above a failing ``ref`` alerts (0: ``ref`` itself)."""
        if hops == 0:
            return 1.0 - self.silent_share(ref)
        return self.propagation**hops

    def as_dict(self) -> dict[str, Any]:
        return {
            "propagation": round(self.propagation, 4),
            "reach": self.reach,
            "silent": {**{k: round(v, 4) for k, v in self.silent}, "other": self.silent_other},
            "unknown": round(self.unknown, 4),
            "hop_delay": round(self.hop_delay, 2),
            "spread": round(self.spread, 2),
            "spread_per_hop": round(self.spread_per_hop, 2),
            "tail": round(self.tail, 3),
            "repeat": round(self.repeat, 4),
            "repeat_spread": round(self.repeat_spread, 2),
            "fault_rate": round(self.fault_rate, 6),
            "noise_rate": round(self.noise_rate, 6),
            "stray": self.stray,
            "severity": {
                role: {k: round(v, 4) for k, v in shares} for role, shares in self.severity
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JoinModel:
        base = cls()
        silent = dict(data.get("silent") or {})
        other = float(silent.pop("other", base.silent_other))
        values: dict[str, Any] = {}
        for name in (
            "propagation",
            "unknown",
            "hop_delay",
            "spread",
            "spread_per_hop",
            "tail",
            "repeat",
            "repeat_spread",
            "fault_rate",
            "noise_rate",
            "stray",
        ):
            values[name] = float(data.get(name, getattr(base, name)))
        severity = tuple(
            (str(role), tuple(sorted((str(k), float(v)) for k, v in (shares or {}).items())))
            for role, shares in sorted((data.get("severity") or {}).items())
        )
        return cls(
            severity=severity,
            reach=int(data.get("reach", base.reach)),
            silent=tuple(sorted((str(k), float(v)) for k, v in silent.items())) or base.silent,
            silent_other=other,
            **values,
        )


@lru_cache(maxsize=1)
def default_model() -> JoinModel:
    text = resources.files("sentier.aiops.alerts").joinpath("correlation.yaml").read_text()
    return JoinModel.from_dict((yaml.safe_load(text) or {}).get("model") or {})


def student(z: float, nu: float) -> float:
    """Density of Student's t with ``nu`` degrees of freedom at ``z`` (unit scale)."""
    return math.exp(_log_student_norm(nu) - (nu + 1.0) / 2.0 * math.log1p(z * z / nu))


@lru_cache(maxsize=64)
def _log_student_norm(nu: float) -> float:
    return math.lgamma((nu + 1.0) / 2.0) - math.lgamma(nu / 2.0) - 0.5 * math.log(nu * math.pi)


_STEP, _SPAN = 0.02, 40.0
_TABLES: dict[float, dict[int, float]] = {}


def _cdf_lookup(z: float, nu: float) -> float:
    """``student_cdf`` from a grid 0.02 apart, filled as it is asked for, linear between
    points: the join asks for it thousands of times a second, and the continued fraction is
    slow in Python."""
    if z <= -_SPAN or z >= _SPAN:
        return student_cdf(z, nu)
    table = _TABLES.get(nu)
    if table is None:
        if len(_TABLES) > 8:
            _TABLES.clear()
        table = _TABLES[nu] = {}
    position = (z + _SPAN) / _STEP
    index = int(position)
    values = []
    for i in (index, index + 1):
        value = table.get(i)
        if value is None:
            value = table[i] = student_cdf(-_SPAN + i * _STEP, nu)
        values.append(value)
    return values[0] + (values[1] - values[0]) * (position - index)


def student_cdf(z: float, nu: float) -> float:
    """Distribution function of Student's t (through the regularised incomplete beta)."""
    tail = 0.5 * _betainc(nu / 2.0, 0.5, nu / (nu + z * z))
    return 1.0 - tail if z > 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b), by its continued fraction (Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 200):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-12:
            break
    return front * result / a


@dataclass
class Belief:
    """The posterior over an incident's possible causes, updated as its entities alert.

    What alerted is evidence at once; what stays quiet is evidence only once it had time to
    alert: a dependant ``h`` hops above a cause that failed ``e`` seconds ago has alerted by
    then with chance ``propagation ** h * F_h(e)`` (``F_h``: the delay's distribution), so
    three services alerting in the first minute of a hub's failure do not yet count its
    forty quiet users against it. Terms are kept per suspect and changed by one when an
    entity joins, so a join costs O(suspects x reach) rather than a new ranking.
    """

    graph: DependencyGraph
    model: JoinModel
    alerting: dict[str, datetime] = field(default_factory=dict)
    loglik: dict[str, float] = field(default_factory=dict)  # without the quiet ones
    _hops: dict[str, dict[int, int]] = field(default_factory=dict)  # alerting, by hops
    _start: dict[str, float] = field(default_factory=dict)  # estimated fault start (epoch s)
    _cached: tuple[tuple[float, int, int], list[tuple[str, float]]] | None = None

    def add(self, entity: str, at: datetime) -> None:
        if entity in self.alerting:
            return
        log_stray = math.log(self.model.stray)
        for cause in self.loglik:
            self._count(cause, entity, at, log_stray)
        self.alerting[entity] = at
        for cause in (entity, *sorted(self.graph.direct_needs(entity))):
            if cause not in self.loglik:
                self._new_suspect(cause)

    def _new_suspect(self, cause: str) -> None:
        silent = self.model.silent_share(cause)
        self.loglik[cause] = math.log(silent)
        self._hops[cause] = {}
        log_stray = math.log(self.model.stray)
        for entity, at in self.alerting.items():
            self._count(cause, entity, at, log_stray)

    def _count(self, cause: str, entity: str, at: datetime, log_stray: float) -> None:
        """Account for ``entity`` alerting (from ``at``) under ``cause``."""
        model = self.model
        if entity == cause:
            silent = model.silent_share(cause)
            self.loglik[cause] += math.log(1.0 - silent) - math.log(silent)
        else:
            hops = self.graph.dependants_within(cause, model.reach).get(entity)
            if hops is None:
                self.loglik[cause] += log_stray
                return
            self.loglik[cause] += hops * math.log(model.propagation)
            counts = self._hops[cause]
            counts[hops] = counts.get(hops, 0) + 1
        # The fault began around the first alert it explains (delays before it vary too
        # much, from one alert rule to the next, to be taken off).
        start = at.timestamp()
        if cause not in self._start or start < self._start[cause]:
            self._start[cause] = start

    def posterior(self, at: datetime) -> list[tuple[str, float]]:
        """(cause, probability) over the suspects at time ``at``, most likely first (kept for
        the same moment and the same alerting entities: several incidents ask in turn)."""
        key = (at.timestamp(), len(self.alerting), len(self.loglik))
        if self._cached is not None and self._cached[0] == key:
            return self._cached[1]
        found = _normalise({c: v + self._quiet(c, at) for c, v in self.loglik.items()})
        self._cached = (key, found)
        return found

    def with_candidate(self, cause: str, at: datetime) -> list[tuple[str, float]]:
        """The posterior if ``cause`` (not alerting, not yet a suspect) is a suspect too."""
        if cause in self.loglik:
            return self.posterior(at)
        self._new_suspect(cause)
        try:
            return _normalise({c: v + self._quiet(c, at) for c, v in self.loglik.items()})
        finally:
            del self.loglik[cause]
            del self._hops[cause]
            self._start.pop(cause, None)

    def _quiet(self, cause: str, at: datetime) -> float:
        """Log-chance that the entities above ``cause`` still quiet at ``at`` are so."""
        model = self.model
        elapsed = at.timestamp() - self._start.get(cause, at.timestamp())
        alerting = self._hops.get(cause, {})
        total = 0.0
        for hops, count in self.graph.hop_counts(cause, model.reach).items():
            quiet = count - alerting.get(hops, 0)
            if quiet > 0:
                seen = model.propagation**hops * model.delay_cdf(elapsed, hops)
                total += quiet * math.log(1.0 - seen)
        return total


def _normalise(loglik: Mapping[str, float]) -> list[tuple[str, float]]:
    if not loglik:
        return []
    best = max(loglik.values())
    weights = {c: math.exp(v - best) for c, v in loglik.items() if v - best > -14}
    total = sum(weights.values())
    return sorted(((c, w / total) for c, w in weights.items()), key=lambda cw: (-cw[1], cw[0]))
