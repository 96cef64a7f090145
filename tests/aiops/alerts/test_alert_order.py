"""The same alerts give the same incidents and causes whatever order they arrive in.

Alertmanager sends a group's alerts up to a group interval after they began, so a webhook
receiver sees them out of order; replaying a storm shuffled (each notification delayed by up
to ten minutes) must change nothing, in memory and through the store in many small batches.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from sentier.aiops.alerts import (
    Alert,
    Correlator,
    DependencyGraph,
    from_alertmanager,
    ingest_alerts,
    sort_for_replay,
)
from sentier.aiops.alerts.scenarios_layered import generate_layered
from sentier.aiops.alerts.scenarios_mesh import generate_mesh
from sentier.store import session_scope
from sentier.store.models import Alert as AlertRow
from sentier.store.models import Incident, IncidentEvent

Groups = set[tuple[frozenset[tuple[str, str]], tuple[str, ...]]]


def notifications(payloads: Iterable[dict]) -> list[Alert]:  # type: ignore[type-arg]
    alerts: list[Alert] = []
    for index, payload in enumerate(payloads):
        alerts.extend(from_alertmanager(payload, f"payload {index}").alerts)
    return alerts


def shuffled(alerts: list[Alert], seed: int, delay: float = 600.0) -> list[Alert]:
    """Each notification delayed by up to ``delay`` seconds: the order they might arrive in."""
    rng = random.Random(seed)
    late = [(a.at + timedelta(seconds=rng.uniform(0, delay)), i) for i, a in enumerate(alerts)]
    return [copy.deepcopy(alerts[i]) for _, i in sorted(late)]


def in_memory(graph: DependencyGraph, alerts: list[Alert]) -> Groups:
    correlator = Correlator(graph)
    for alert in alerts:
        correlator.process(alert)
    correlator.finish()
    return {
        (
            frozenset((r.alert.fingerprint, r.first_at.isoformat()) for r in incident.alerts),
            tuple(c["ref"] for c in incident.root_causes),
        )
        for incident in correlator.incidents.values()
        if incident.alerts
    }


@pytest.mark.parametrize("make", [generate_layered, generate_mesh], ids=["layered", "mesh"])
def test_a_storm_replayed_shuffled_gives_the_same_incidents_and_causes(make) -> None:  # type: ignore[no-untyped-def]
    storm = make(3, days=1.0)
    alerts = notifications(storm.scenario.payloads)
    expected = in_memory(storm.graph, sort_for_replay(copy.deepcopy(alerts)))
    assert len(expected) > 20
    for seed in (1, 2):
        order = shuffled(alerts, seed)
        assert [a.at for a in order] != sorted(a.at for a in order)  # really out of order
        assert in_memory(storm.graph, order) == expected


def stored(engine: Engine) -> Groups:
    with session_scope(engine) as session:
        rows = session.execute(
            select(AlertRow.fingerprint, AlertRow.starts_at, Incident.id, Incident.root_causes)
            .join(Incident, AlertRow.incident_id == Incident.id)
            .where(Incident.status != "merged")
        ).all()
    members: dict[int, set[tuple[str, str]]] = {}
    causes: dict[int, tuple[str, ...]] = {}
    for fingerprint, starts_at, incident, ranked in rows:
        members.setdefault(incident, set()).add(
            (fingerprint, starts_at.replace(tzinfo=None).isoformat())
        )
        causes[incident] = tuple(c["ref"] for c in ranked or [])
    return {(frozenset(m), causes[i]) for i, m in members.items()}


def test_the_store_gives_the_same_incidents_when_batches_arrive_out_of_order(
    sqlite_engine: Engine, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    storm = generate_layered(5, days=0.5)
    alerts = notifications(storm.scenario.payloads)
    with session_scope(sqlite_engine) as session:
        ingest_alerts(session, copy.deepcopy(alerts), graph=storm.graph)
    expected = stored(sqlite_engine)
    assert len(expected) > 10
    with session_scope(sqlite_engine) as session:
        session.query(IncidentEvent).delete()
        session.query(AlertRow).delete()
        session.query(Incident).delete()
    order = shuffled(alerts, 7)
    for start in range(0, len(order), 15):  # a webhook's worth at a time, each committed
        with session_scope(sqlite_engine) as session:
            ingest_alerts(session, order[start : start + 15], graph=storm.graph)
    assert stored(sqlite_engine) == expected
