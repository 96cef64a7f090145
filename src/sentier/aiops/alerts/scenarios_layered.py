"""A second storm generator: a small shop in four layers over several days.

Written apart from the first generator (``scenarios.py``) and on purpose unlike it, in the
shape of an independent storm sentier was once measured on: 22 entities in four layers
(two edge services, eight services, six backends, six pieces of infrastructure: three
databases shared across services, a message bus, a cache and the identity service), a few
days of faults and noise sent through a simulated Alertmanager (grouped by alert name, so
webhooks mix services and re-send their alerts).

What differs from the first generator, and why it matters to correlation:

- failures spread *per edge*, with a chance and a delay that depend on the kind of link: a
  synchronous call fails fast and surely, a database a little slower, the message bus late
  and not always (a backlog), the cache rarely (callers fall back to the database);
- an alert fires only after its rule's ``for:`` duration (0 to 5 minutes), so the entity at
  fault often alerts *after* the services it breaks;
- a failing entity alerts or not by its own monitoring, not by its kind;
- a second fault often strikes a *neighbouring* part of the graph (sharing a database or a
  caller with the first) while the first is still on;
- part of the noise lands on entities close to a fault, minutes after it began;
- node-level alerts name hosts the catalog does not know.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sentier.aiops.alerts.graph import DependencyGraph
from sentier.aiops.alerts.scenarios import Fault, Scenario
from sentier.aiops.alerts.scenarios_common import (
    Episode,
    Route,
    Storm,
    flapping,
    lognormal,
    scenario_of,
    start_of,
)

EDGE = ("web-gateway", "mobile-bff")
SERVICES = ("orders", "payments", "cart", "catalog", "users", "search", "shipping", "notifications")
BACKENDS = ("pricing", "inventory", "fraud-check", "recommendations", "ledger", "mailer")
DATABASES = ("orders-db", "payments-db", "catalog-db")
INFRA = (*DATABASES, "kafka", "redis", "identity")
RESOURCES = (*DATABASES, "kafka", "redis")
# Which database each service or backend keeps its data in (its domain).
HOME_DB = {
    "orders": "orders-db",
    "cart": "orders-db",
    "shipping": "orders-db",
    "users": "orders-db",
    "payments": "payments-db",
    "ledger": "payments-db",
    "fraud-check": "payments-db",
    "catalog": "catalog-db",
    "search": "catalog-db",
    "pricing": "catalog-db",
    "inventory": "catalog-db",
    "recommendations": "catalog-db",
    "notifications": "orders-db",
    "mailer": "orders-db",
}

# Per kind of link: chance that a failure crosses it, median delay (s), spread (log-normal).
LINKS = {
    "http": (0.8, 25.0, 0.7),
    "db": (0.85, 20.0, 0.6),
    "bus": (0.5, 150.0, 0.8),
    "cache": (0.35, 40.0, 0.7),
    "auth": (0.9, 15.0, 0.5),
}
# Alert rules per layer: (name, severity, `for:` seconds). Causes are what fires at the
# entity at fault; symptoms what fires where the failure arrives.
CAUSES = {
    "database": (("PostgresDown", "critical", 60), ("PostgresTooManyConnections", "critical", 120)),
    "kafka": (("KafkaBrokerDown", "critical", 60), ("UnderReplicatedPartitions", "warning", 300)),
    "redis": (("RedisDown", "critical", 60), ("RedisMemoryHigh", "warning", 300)),
    "component": (
        ("PodCrashLooping", "critical", 120),
        ("HighErrorRate", "critical", 60),
        ("DeploymentReplicasMismatch", "warning", 300),
    ),
}
SYMPTOMS = {
    "edge": (("HighErrorRate5xx", "critical", 0), ("LatencySLOBurn", "warning", 120)),
    "component": (
        ("HighErrorRate", "critical", 60),
        ("HighLatencyP99", "warning", 120),
        ("ErrorBudgetBurn", "warning", 300),
    ),
    "database": (
        ("PostgresSlowQueries", "warning", 120),
        ("PostgresTooManyConnections", "critical", 120),
    ),
    "kafka": (("KafkaConsumerLag", "warning", 120),),
    "redis": (("RedisLatencyHigh", "warning", 60),),
}
NOISE = (
    ("HighLatencyP99", "warning", 120),
    ("PodRestarting", "warning", 0),
    ("CPUThrottlingHigh", "info", 300),
    ("HighErrorRate", "warning", 60),
)
HOST_NOISE = (("NodeFilesystemAlmostFull", "warning"), ("NodeHighCPU", "info"))


@dataclass(frozen=True)
class Topology:
    """The true dependency graph, with the kind of each link; ``catalog`` is what is declared."""

    links: dict[tuple[str, str], str]  # (user, used) -> link kind
    layer: dict[str, str]

    def users(self, name: str) -> list[tuple[str, str]]:
        return sorted((u, kind) for (u, used), kind in self.links.items() if used == name)

    def needs(self, name: str) -> set[str]:
        return {used for (u, used) in self.links if u == name}


def _ref(name: str) -> str:
    return f"resource:default/{name}" if name in RESOURCES else f"component:default/{name}"


def topology(rng: random.Random) -> Topology:
    links: dict[tuple[str, str], str] = {}
    layer = {n: "edge" for n in EDGE}
    layer.update({n: "service" for n in SERVICES})
    layer.update({n: "backend" for n in BACKENDS})
    layer.update({n: "infra" for n in INFRA})
    for edge in EDGE:
        for service in rng.sample(SERVICES, rng.randint(4, 6)):
            links[(edge, service)] = "http"
        links[(edge, "identity")] = "auth"
    callers: dict[str, list[str]] = {b: [] for b in BACKENDS}
    for service in SERVICES:
        for backend in rng.sample(BACKENDS, rng.randint(1, 2)):
            links[(service, backend)] = "http"
            callers[backend].append(service)
    for backend, who in callers.items():
        if not who:
            links[(rng.choice(SERVICES), backend)] = "http"
    for service in SERVICES:
        if not any(used == service for (_, used) in links):
            links[(rng.choice(EDGE), service)] = "http"
    for name in (*SERVICES, *BACKENDS):
        links[(name, HOME_DB[name])] = "db"
        if rng.random() < 0.2:
            other = rng.choice([d for d in DATABASES if d != HOME_DB[name]])
            links[(name, other)] = "db"
    for name in rng.sample((*SERVICES, *BACKENDS), rng.randint(5, 7)):
        links[(name, "kafka")] = "bus"
    for name in rng.sample(("cart", "catalog", "users", "search", "web-gateway", "pricing"), 5):
        links[(name, "redis")] = "cache"
    for name in rng.sample(SERVICES, 3):
        links[(name, "identity")] = "auth"
    return Topology(links, layer)


def catalog_graph(topo: Topology) -> DependencyGraph:
    """The catalog's view: every entity declared; backends provide an API their callers use."""
    edges: list[tuple[str, str]] = []
    for (user, used), kind in sorted(topo.links.items()):
        if kind == "http" and used in BACKENDS:
            api = f"api:default/{used}-api"
            edges.append((_ref(user), api))
            edges.append((api, _ref(used)))
        else:
            edges.append((_ref(user), _ref(used)))
    return DependencyGraph.from_edges(edges)


def _rule_kind(name: str) -> str:
    if name in DATABASES:
        return "database"
    if name in ("kafka", "redis"):
        return name
    return "component"


def _labels(name: str, alertname: str, severity: str, rng: random.Random) -> dict[str, str]:
    labels = {"alertname": alertname, "severity": severity, "namespace": "shop"}
    if name in RESOURCES:
        labels.update({"job": name.split("-")[0], "instance": f"{name}-0:9100", "service": name})
    elif rng.random() < 0.3:
        labels.update({"app": name, "pod": f"{name}-{rng.randrange(16**5):05x}"})
    else:
        labels.update({"service": name, "pod": f"{name}-{rng.randrange(16**5):05x}"})
    return labels


def _episodes_for(
    rng: random.Random,
    name: str,
    rules: tuple[tuple[str, str, int], ...],
    arrived: datetime,
    until: datetime,
    group: str,
    how_many: int,
) -> list[Episode]:
    found = []
    for alertname, severity, hold in rng.sample(rules, min(how_many, len(rules))):
        # Evaluated every 30 s; fires once the condition held for the rule's `for:`.
        start = arrived + timedelta(seconds=hold + rng.uniform(0, 30) + rng.uniform(0, 20))
        if start >= until:
            continue
        episode = Episode(
            _labels(name, alertname, severity, rng), start, until, group, f"{alertname} on {name}"
        )
        if rng.random() < 0.15:
            found.extend(flapping(rng, episode, pieces=(2, 3), gap=(20, 360)))
        else:
            found.append(episode)
    return found


def _spread(rng: random.Random, topo: Topology, root: str, strength: float) -> dict[str, float]:
    """Seconds after the fault at which the failure reaches each entity (root: 0)."""
    reached = {root: 0.0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for user, kind in topo.users(node):
                if user in reached:
                    continue
                chance, median, sigma = LINKS[kind]
                if rng.random() < chance * strength:
                    reached[user] = reached[node] + lognormal(rng, median, sigma)
                    following.append(user)
        frontier = following
    return reached


def _neighbour(rng: random.Random, topo: Topology, root: str) -> str | None:
    """An entity near ``root`` (sharing a user or a need with it) but independent of it."""
    ancestors = _closure(topo, root, up=True)
    descendants = _closure(topo, root, up=False)
    near = set()
    for user, _ in topo.users(root):
        near.update(topo.needs(user))
    for used in topo.needs(root):
        near.update(u for u, _ in topo.users(used))
    near -= ancestors | descendants | {root}
    return rng.choice(sorted(near)) if near else None


def _closure(topo: Topology, start: str, *, up: bool) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        node = stack.pop()
        following = [u for u, _ in topo.users(node)] if up else sorted(topo.needs(node))
        for other in following:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def generate_layered(
    seed: int,
    *,
    days: float = 4.0,
    faults: int = 56,
    noise: int = 37,
    overlap: float = 0.15,
    near_noise: float = 0.3,
) -> Storm:
    """Several days of a four-layer shop's alerts: same seed, same storm."""
    rng = random.Random(f"layered-{seed}")
    topo = topology(rng)
    begin = start_of()
    span = days * 86400
    names = sorted(topo.layer)
    weights = [
        {"infra": 4.0, "backend": 2.5, "service": 2.0, "edge": 1.0}[topo.layer[n]] for n in names
    ]
    episodes: list[Episode] = []
    fault_list: list[Fault] = []
    active: list[tuple[datetime, datetime, str]] = []
    for index in range(faults):
        root: str | None = None
        if active and rng.random() < overlap:
            moment_of, _, other = rng.choice(active)
            moment = moment_of + timedelta(seconds=rng.uniform(30, 480))
            root = _neighbour(rng, topo, other)
        # An entity already failing cannot start failing again: such a draw is made again.
        while root is None or any(r == root and a <= moment <= b for a, b, r in active):
            moment = begin + timedelta(seconds=rng.uniform(0, span))
            root = rng.choices(names, weights)[0]
        duration = timedelta(seconds=min(3 * 3600, lognormal(rng, 900, 0.8)))
        group = f"fault-{index}"
        fault_list.append(Fault(group, _ref(root), moment))
        active.append((moment, moment + duration, root))
        active.sort()
        reached = _spread(rng, topo, root, rng.uniform(0.5, 1.0))
        for name, delay in reached.items():
            arrived = moment + timedelta(seconds=delay)
            recovers = moment + duration + timedelta(seconds=delay + rng.uniform(0, 180))
            if name == root:
                if rng.random() < (0.7 if name in RESOURCES else 0.85):
                    rules = CAUSES[_rule_kind(name)]
                    episodes += _episodes_for(
                        rng, name, rules, arrived, recovers, group, rng.choice((1, 1, 2))
                    )
                continue
            if rng.random() > 0.85:
                continue  # its rules did not catch it
            kind = "edge" if topo.layer[name] == "edge" else _rule_kind(name)
            episodes += _episodes_for(
                rng, name, SYMPTOMS[kind], arrived, recovers, group, rng.choice((1, 1, 2))
            )
    for index in range(noise):
        group = f"noise-{index}"
        if active and rng.random() < near_noise:
            moment_of, _, root = rng.choice(active)
            moment = moment_of + timedelta(seconds=rng.uniform(120, 1800))
            near = [u for u, _ in topo.users(root)] + sorted(topo.needs(root))
            name = rng.choice(near or names)
        else:
            moment = begin + timedelta(seconds=rng.uniform(0, span))
            name = rng.choice(names)
        end = moment + timedelta(seconds=rng.uniform(60, 1200))
        if rng.random() < 0.1:
            alertname, severity = rng.choice(HOST_NOISE)
            host = f"ip-10-0-{rng.randint(1, 9)}-{rng.randint(10, 250)}"
            labels = {
                "alertname": alertname,
                "severity": severity,
                "instance": f"{host}:9100",
                "job": "node",
                "nodename": host,
            }
            episode = Episode(labels, moment, end, group, f"{alertname} on {host}")
        else:
            alertname, severity, hold = rng.choice(NOISE)
            start = moment + timedelta(seconds=hold)
            episode = Episode(
                _labels(name, alertname, severity, rng),
                start,
                end + timedelta(seconds=hold),
                group,
                f"{alertname} on {name}",
            )
        if rng.random() < 0.25:
            episodes.extend(flapping(rng, episode, pieces=(2, 4), gap=(20, 300)))
        else:
            episodes.append(episode)
    route = Route(
        group_by=("alertname",), group_wait=30, group_interval=300, repeat_interval=4 * 3600
    )
    scenario: Scenario = scenario_of(episodes, fault_list, route, rng)
    return Storm("layered", seed, catalog_graph(topo), scenario)
