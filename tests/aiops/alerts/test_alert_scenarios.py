"""The storm generators: same seed, same storm; and the shapes they claim to have."""

from __future__ import annotations

from sentier.aiops.alerts import from_alertmanager
from sentier.aiops.alerts.scenarios_layered import generate_layered
from sentier.aiops.alerts.scenarios_mesh import generate_mesh


def _entities(storm) -> set[str]:  # type: ignore[no-untyped-def]
    graph = storm.graph
    return {r for r in (*graph.depends_on, *graph.dependants) if not r.startswith("api:")}


def test_the_layered_shop_is_22_entities_over_days_through_alertmanager() -> None:
    storm = generate_layered(4)
    assert storm.scenario.payloads == generate_layered(4).scenario.payloads
    assert len(_entities(storm)) == 22
    payloads = storm.scenario.payloads
    alerts = [a for i, p in enumerate(payloads) for a in from_alertmanager(p, str(i)).alerts]
    days = (max(a.at for a in alerts) - min(a.at for a in alerts)).days
    assert days >= 3
    assert 300 < len(payloads) < 700  # webhooks, each re-sending its group's alerts
    assert len(alerts) > 1.5 * storm.scenario.alerts  # duplicates
    groups = set(storm.scenario.truth.values())
    assert sum(g.startswith("noise") for g in groups) > 20
    assert any(a.status == "resolved" for a in alerts)


def test_the_mesh_is_half_declared_and_half_monitored() -> None:
    storm = generate_mesh(2)
    assert storm.scenario.payloads == generate_mesh(2).scenario.payloads
    payloads = storm.scenario.payloads
    alerts = [a for i, p in enumerate(payloads) for a in from_alertmanager(p, str(i)).alerts]
    unknown = {a.entity_hint for a in alerts if storm.graph.resolve(a.entity_hint) is None}
    assert unknown  # alerts about entities the catalog does not know
    assert len(_entities(storm)) >= 40
    faults_at_unknown = [f for f in storm.scenario.faults if storm.graph.resolve(f.entity) is None]
    assert len(faults_at_unknown) < len(storm.scenario.faults) / 4
