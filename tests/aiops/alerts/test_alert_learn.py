"""Maximum likelihood recovers the propagation model a storm generator really used."""

from __future__ import annotations

import pytest

from sentier.aiops.alerts import DependencyGraph, generate
from sentier.aiops.alerts.learn import fit, gather


def graph() -> DependencyGraph:
    """Twelve services over four databases, two layers of callers above them."""
    edges = []
    for n in range(12):
        edges.append((f"component:default/svc-{n}", f"resource:default/db-{n % 4}"))
        edges.append((f"component:default/api-{n}", f"component:default/svc-{n}"))
        edges.append((f"component:default/web-{n % 3}", f"component:default/api-{n}"))
    return DependencyGraph.from_edges(edges)


def test_the_first_generator_s_own_values_are_found() -> None:
    # scenarios.generate: dependants alert with 0.75^hops up to 3 hops, 20-100 s per hop,
    # faulty resources are silent 30% of the time, components never.
    built = graph()
    storms = [(built, generate(built, seed=seed, faults=60, noise=30)) for seed in range(1, 21)]
    model = fit(gather(storms))
    assert model.propagation == pytest.approx(0.75, abs=0.05)
    assert model.reach == 3  # nothing alerts beyond, and more hops would cost
    assert dict(model.silent)["resource"] == pytest.approx(0.3, abs=0.08)
    assert dict(model.silent)["component"] < 0.05
    assert model.hop_delay == pytest.approx(60, abs=10)  # the mean of 20-100 s
    assert model.tail > 20  # uniform delays: no heavy tail
    # 60 faults and 30 noise alerts a day over 31 entities.
    assert model.fault_rate == pytest.approx(60 / 24 / 31, rel=0.15)
    assert model.noise_rate == pytest.approx(30 / 24 / 31, rel=0.15)
    assert model.severity_share("cause", "critical") > 0.9
    assert model.severity_share("noise", "critical") < 0.05
