"""A third storm generator: a platform of many systems, half-declared and half-monitored.

Written apart from the other two and unlike them. A week of a larger organisation: six to
nine systems, each a small graph of its own shape (a deep chain, a diamond, a fan, a tree)
over its own database; databases that are schemas of a few shared clusters; platform hubs
everyone uses (identity, a message bus, object storage); calls across systems through their
APIs. What the catalog declares is not the whole truth, and not everything is watched:

- some services are missing from the catalog, so their alerts name something unknown and
  the paths through them are missing; a few real dependencies were never declared;
- a fifth of the services and two fifths of the resources have no alert rules at all;
- each link has its own chance of carrying a failure (retries and circuit breakers differ)
  and its own delay: usually tens of seconds, sometimes a client timeout of minutes;
- a few noisy entities produce most of the noise (alert fatigue is rarely spread evenly), and
  some noise lands next to a fault while it is on;
- independent faults strike neighbouring services of the same system or of systems sharing
  a hub, minutes apart.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import timedelta

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

DOMAINS = (
    "billing",
    "logistics",
    "storefront",
    "inventory",
    "messaging",
    "analytics",
    "accounts",
    "pricing",
    "support",
)
ROLES = ("api", "core", "worker", "indexer", "sync", "gateway", "scheduler", "ledger")
SHAPES = ("chain", "diamond", "fan", "tree")
COMPONENT_RULES = (
    ("HTTPErrorsHigh", "critical", 60),
    ("LatencyP95High", "warning", 120),
    ("ErrorBudgetFastBurn", "critical", 30),
    ("PodNotReady", "warning", 300),
    ("QueueConsumerStalled", "warning", 120),
)
CAUSE_RULES = {
    "component": (
        ("KubePodCrashLooping", "critical", 120),
        ("HTTPErrorsHigh", "critical", 60),
        ("ContainerOOMKilled", "warning", 0),
    ),
    "resource": (
        ("DatabaseUnreachable", "critical", 60),
        ("ReplicaLagHigh", "warning", 300),
        ("StorageFull", "critical", 120),
    ),
}
RESOURCE_SYMPTOMS = (("ConnectionsSaturated", "warning", 120), ("SlowQueries", "warning", 300))
NOISE_RULES = (
    ("LatencyP95High", "warning", 120),
    ("PodNotReady", "warning", 300),
    ("CertificateExpiringSoon", "info", 0),
    ("HTTPErrorsHigh", "warning", 60),
    ("CPUThrottling", "info", 300),
)
UNKNOWN_NOISE = ("batch-reconciler", "cron-reports", "legacy-ftp", "vpn-gateway", "build-agent")


@dataclass
class Mesh:
    """The true graph (user -> used, with a chance and a delay per link) and what is known."""

    links: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)  # component or resource
    system: dict[str, str] = field(default_factory=dict)
    monitored: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)  # entities in the catalog
    undeclared_links: set[tuple[str, str]] = field(default_factory=set)
    api_of: dict[str, str] = field(default_factory=dict)  # entry service -> its API

    def users(self, name: str) -> list[str]:
        return sorted(u for (u, used) in self.links if used == name)

    def needs(self, name: str) -> list[str]:
        return sorted(used for (u, used) in self.links if u == name)

    def ref(self, name: str) -> str:
        return f"{self.kind[name]}:default/{name}"


def _link(rng: random.Random, mesh: Mesh, user: str, used: str) -> None:
    chance = rng.uniform(0.45, 0.95)
    # Usually tens of seconds; one link in seven waits for a client timeout.
    delay = rng.uniform(60, 300) if rng.random() < 0.15 else 5 + rng.expovariate(1 / 40)
    mesh.links[(user, used)] = (chance, delay)


def build(rng: random.Random) -> Mesh:
    mesh = Mesh()
    hubs = {"identity": "component", "event-bus": "resource", "object-store": "resource"}
    for name, kind in hubs.items():
        mesh.kind[name], mesh.system[name] = kind, "platform"
    mesh.kind["identity-db"], mesh.system["identity-db"] = "resource", "platform"
    _link(rng, mesh, "identity", "identity-db")
    clusters = [f"pg-cluster-{n}" for n in range(1, rng.randint(2, 3) + 1)]
    for cluster in clusters:
        mesh.kind[cluster], mesh.system[cluster] = "resource", "platform"
    systems = rng.sample(DOMAINS, rng.randint(6, 9))
    entries: list[str] = []
    for system in systems:
        shape = rng.choice(SHAPES)
        roles = rng.sample(ROLES, {"chain": 5, "diamond": 4, "fan": 5, "tree": 6}[shape])
        names = [f"{system}-{role}" for role in roles]
        for name in names:
            mesh.kind[name], mesh.system[name] = "component", system
        database = f"{system}-db"
        mesh.kind[database], mesh.system[database] = "resource", system
        if rng.random() < 0.6:
            _link(rng, mesh, database, rng.choice(clusters))
        entry = names[0]
        entries.append(entry)
        mesh.api_of[entry] = f"{system}-api"
        if shape == "chain":
            for upper, lower in itertools.pairwise(names):
                _link(rng, mesh, upper, lower)
            _link(rng, mesh, names[-1], database)
        elif shape == "diamond":
            top, left, right, bottom = names
            for user, used in ((top, left), (top, right), (left, bottom), (right, bottom)):
                _link(rng, mesh, user, used)
            _link(rng, mesh, bottom, database)
            _link(rng, mesh, left, database)
        elif shape == "fan":
            for child in names[1:]:
                _link(rng, mesh, entry, child)
                _link(rng, mesh, child, database)
        else:
            for index, child in enumerate(names[1:], start=1):
                _link(rng, mesh, names[(index - 1) // 2], child)
            for leaf in names[len(names) // 2 :]:
                _link(rng, mesh, leaf, database)
        _link(rng, mesh, entry, "identity")
        for name in names:
            if rng.random() < 0.3:
                _link(rng, mesh, name, "event-bus")
            if rng.random() < 0.12:
                _link(rng, mesh, name, "object-store")
    # Calls across systems go one way (to a system listed later), so the graph has no cycle.
    components = [n for n, k in mesh.kind.items() if k == "component" and n != "identity"]
    for name in components:
        if rng.random() < 0.25:
            later = entries[systems.index(mesh.system[name]) + 1 :]
            if later:
                _link(rng, mesh, name, rng.choice(later))
    for name, kind in mesh.kind.items():
        watched = 0.8 if kind == "component" else 0.6
        if name in hubs or name in entries or rng.random() < watched:
            mesh.monitored.add(name)
        if name in hubs or name in clusters or kind == "resource" or rng.random() > 0.08:
            mesh.declared.add(name)
    for link in sorted(mesh.links):
        if rng.random() < 0.05:
            mesh.undeclared_links.add(link)
    return mesh


def catalog_graph(mesh: Mesh) -> DependencyGraph:
    """What the catalog declares: entries provide an API their callers consume."""
    edges = []
    for user, used in sorted(mesh.links):
        if (user, used) in mesh.undeclared_links:
            continue
        if user not in mesh.declared or used not in mesh.declared:
            continue
        if used in mesh.api_of:
            api = f"api:default/{mesh.api_of[used]}"
            edges += [(mesh.ref(user), api), (api, mesh.ref(used))]
        else:
            edges.append((mesh.ref(user), mesh.ref(used)))
    graph = DependencyGraph.from_edges(edges)
    for name in sorted(mesh.declared):
        graph.add_key(mesh.ref(name))
    return graph


def _labels(
    mesh: Mesh, name: str, alertname: str, severity: str, rng: random.Random
) -> dict[str, str]:
    labels = {"alertname": alertname, "severity": severity, "cluster": "prod-eu-1"}
    if mesh.kind.get(name) == "resource":
        labels.update({"service": name, "job": "db-exporter", "instance": f"{name}.db:9187"})
        return labels
    convention = sum(map(ord, name)) % 3  # each team keeps its own label convention
    if convention == 0:
        labels.update({"app.kubernetes.io/name": name, "namespace": mesh.system.get(name, "x")})
    elif convention == 1:
        labels.update({"service": name, "namespace": mesh.system.get(name, "x")})
    else:
        labels.update({"job": name, "instance": f"{name}:8080"})
    labels["pod"] = f"{name}-{rng.randrange(16**5):05x}"
    return labels


def _spread(rng: random.Random, mesh: Mesh, root: str, strength: float) -> dict[str, float]:
    reached = {root: 0.0}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            for user in mesh.users(node):
                if user in reached:
                    continue
                chance, delay = mesh.links[(user, node)]
                if rng.random() < chance * strength:
                    reached[user] = reached[node] + delay * rng.uniform(0.6, 1.6)
                    following.append(user)
        frontier = following
    return reached


def _near(rng: random.Random, mesh: Mesh, root: str) -> str | None:
    """A neighbour of ``root`` in the same system or sharing what it uses, independent of it."""
    up = _closure(mesh, root, up=True)
    down = _closure(mesh, root, up=False)
    same = [n for n in mesh.kind if mesh.system[n] == mesh.system[root] and n not in up | down]
    shared = [u for used in mesh.needs(root) for u in mesh.users(used) if u not in up | down]
    options = sorted(set(same + shared) - {root})
    return rng.choice(options) if options else None


def _closure(mesh: Mesh, start: str, *, up: bool) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        node = stack.pop()
        for other in mesh.users(node) if up else mesh.needs(node):
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def _rule_episodes(
    rng: random.Random,
    mesh: Mesh,
    name: str,
    rules: tuple[tuple[str, str, int], ...],
    arrived: float,
    until: float,
    group: str,
    count: int,
) -> list[Episode]:
    begin = start_of()
    found = []
    for alertname, severity, hold in rng.sample(rules, min(count, len(rules))):
        start = arrived + hold + rng.uniform(0, 30)
        if start >= until:
            continue
        episode = Episode(
            _labels(mesh, name, alertname, severity, rng),
            begin + timedelta(seconds=start),
            begin + timedelta(seconds=until),
            group,
            f"{alertname} on {name}",
        )
        if rng.random() < 0.12:
            found += flapping(rng, episode, pieces=(2, 4), gap=(15, 420))
        else:
            found.append(episode)
    return found


def generate_mesh(
    seed: int,
    *,
    days: float = 7.0,
    faults: int = 110,
    noise: int = 120,
    overlap: float = 0.2,
    near_noise: float = 0.2,
) -> Storm:
    """A week of a half-declared, half-monitored platform's alerts: same seed, same storm."""
    rng = random.Random(f"mesh-{seed}")
    mesh = build(rng)
    span = days * 86400
    names = sorted(mesh.kind)
    # Faults strike where something depends on them more often than at the top.
    weights = [
        0.3 if n in ("identity", "event-bus", "object-store") else 1.0 + len(mesh.users(n)) ** 0.5
        for n in names
    ]
    episodes: list[Episode] = []
    fault_list: list[Fault] = []
    history: list[tuple[float, str]] = []
    spells: list[tuple[float, float, str]] = []
    for index in range(faults):
        root: str | None = None
        if history and rng.random() < overlap:
            when, other = rng.choice(history)
            moment = when + rng.uniform(20, 600)
            root = _near(rng, mesh, other)
        # An entity already failing cannot start failing again: such a draw is made again.
        while root is None or any(r == root and a <= moment <= b for a, b, r in spells):
            moment = rng.uniform(0, span)
            root = rng.choices(names, weights)[0]
        history.append((moment, root))
        group = f"fault-{index}"
        fault_list.append(Fault(group, mesh.ref(root), start_of() + timedelta(seconds=moment)))
        duration = min(4 * 3600, lognormal(rng, 1200, 0.9))
        spells.append((moment, moment + duration, root))
        for name, delay in _spread(rng, mesh, root, rng.uniform(0.6, 1.0)).items():
            if name not in mesh.monitored:
                continue
            arrived = moment + delay
            until = moment + duration + delay + rng.uniform(0, 240)
            kind = mesh.kind[name]
            rules: tuple[tuple[str, str, int], ...]
            if name == root:
                rules = CAUSE_RULES[kind]
            else:
                rules = COMPONENT_RULES if kind == "component" else RESOURCE_SYMPTOMS
            if name != root and rng.random() < 0.1:
                continue
            episodes += _rule_episodes(
                rng, mesh, name, rules, arrived, until, group, rng.choice((1, 1, 1, 2, 3))
            )
    # A few noisy entities produce most of the noise.
    chatty = [rng.gammavariate(0.4, 1.0) for _ in names]
    for index in range(noise):
        group = f"noise-{index}"
        if history and rng.random() < near_noise:
            when, root = rng.choice(history)
            moment = when + rng.uniform(60, 1500)
            near = mesh.users(root) + mesh.needs(root)
            name = rng.choice(near or names)
        else:
            moment = rng.uniform(0, span)
            name = rng.choices(names, chatty)[0]
        if rng.random() < 0.08:
            host = rng.choice(UNKNOWN_NOISE)
            labels = {
                "alertname": rng.choice(("JobFailed", "TargetDown", "HostDiskFull")),
                "severity": "warning",
                "job": host,
                "cluster": "prod-eu-1",
            }
            began = start_of() + timedelta(seconds=moment)
            end = began + timedelta(seconds=rng.uniform(60, 1800))
            episodes.append(Episode(labels, began, end, group, f"{labels['alertname']} on {host}"))
            continue
        alertname, severity, hold = rng.choice(NOISE_RULES)
        offset = moment + hold
        labels = _labels(mesh, name, alertname, severity, rng)
        episode = Episode(
            labels,
            start_of() + timedelta(seconds=offset),
            start_of() + timedelta(seconds=offset + rng.uniform(60, 1500)),
            group,
            f"{alertname} on {name}",
        )
        if rng.random() < 0.3:
            episodes += flapping(rng, episode, pieces=(2, 5), gap=(15, 300))
        else:
            episodes.append(episode)
    route = Route(
        group_by=("alertname", "cluster"),
        group_wait=30,
        group_interval=300,
        repeat_interval=3 * 3600,
    )
    scenario: Scenario = scenario_of(episodes, fault_list, route, rng)
    return Storm("mesh", seed, catalog_graph(mesh), scenario)
