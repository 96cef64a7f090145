"""Correlation and root cause on a small hand-made graph a person can draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sentier.aiops.alerts import FIRING, RESOLVED, Alert, Correlator, DependencyGraph

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
# web -> checkout -> payments-db ; web -> search ; reports (unrelated) -> warehouse-db
GRAPH = DependencyGraph.from_edges(
    [
        ("component:default/web", "component:default/checkout"),
        ("component:default/web", "component:default/search"),
        ("component:default/checkout", "api:default/payments-api"),
        ("api:default/payments-api", "component:default/payments"),
        ("component:default/payments", "resource:default/payments-db"),
        ("component:default/reports", "resource:default/warehouse-db"),
    ],
    owners={"component:default/payments": "group:default/team-payments"},
)


def alert(
    service: str,
    minutes: float,
    name: str = "HighErrorRate",
    status: str = FIRING,
    fingerprint: str | None = None,
    severity: str = "warning",
) -> Alert:
    return Alert(
        source="test",
        fingerprint=fingerprint or f"{service}-{name}",
        name=name,
        status=status,
        severity=severity,
        starts_at=T0 + timedelta(minutes=minutes),
        ends_at=T0 + timedelta(minutes=minutes) if status == RESOLVED else None,
        entity_hint=service,
    )


def test_a_cascade_is_one_incident_with_its_root_cause_first() -> None:
    correlator = Correlator(GRAPH)
    for a in (
        alert("payments", 0, "DatabaseDown", severity="critical"),
        alert("checkout", 1.5),
        alert("web", 3),
        alert("reports", 2),
    ):
        correlator.process(a)
    (cascade, other) = sorted(correlator.finish(), key=lambda i: -len(i.alerts))
    assert len(cascade.alerts) == 3
    assert cascade.root_cause == "component:default/payments"
    reasons = " ".join(cascade.root_causes[0]["reasons"])
    assert "2 of 2 other alerting entities depend on it" in reasons
    assert "first to alert" in reasons
    assert [a.alert.entity for a in other.alerts] == ["component:default/reports"]


def test_a_silent_shared_dependency_is_suspected() -> None:
    graph = DependencyGraph.from_edges(
        [
            ("component:default/a", "resource:default/db"),
            ("component:default/b", "resource:default/db"),
        ]
    )
    correlator = Correlator(graph)
    correlator.process(alert("a", 0))
    correlator.process(alert("b", 1))
    (incident,) = correlator.finish()
    assert incident.root_cause == "resource:default/db"
    assert "not alerting itself" in " ".join(incident.root_causes[0]["reasons"])


def test_time_apart_means_separate_incidents() -> None:
    correlator = Correlator(GRAPH)
    correlator.process(alert("checkout", 0))
    correlator.process(alert("checkout", 0, status=RESOLVED))
    correlator.process(alert("web", 60))
    assert len(correlator.finish()) == 2


def test_duplicates_flapping_and_resolution() -> None:
    correlator = Correlator(GRAPH)
    assert correlator.process(alert("checkout", 0)).kind == "new"
    assert correlator.process(alert("checkout", 0)).kind == "duplicate"
    resolved = alert("checkout", 0, status=RESOLVED)
    resolved.ends_at = T0 + timedelta(minutes=2)
    assert correlator.process(resolved).kind == "resolved"
    (incident,) = correlator.finish()
    assert incident.status == RESOLVED
    again = alert("checkout", 5)
    outcome = correlator.process(again)
    assert outcome.kind == "flap"
    assert outcome.record is not None and outcome.record.flaps == 1
    assert incident.status == "open"  # reopened
    assert len(incident.alerts) == 1


def test_unknown_services_group_by_what_they_name() -> None:
    correlator = Correlator(GRAPH)
    correlator.process(alert("legacy-batch", 0, "JobFailed"))
    correlator.process(alert("legacy-batch", 1, "JobSlow"))
    correlator.process(alert("other-legacy", 1, "JobSlow"))
    incidents = correlator.finish()
    assert sorted(len(i.alerts) for i in incidents) == [1, 2]
    assert all(a.alert.entity is None for i in incidents for a in i.alerts)


def test_a_lone_silent_dependency_is_a_lower_suspect() -> None:
    graph = DependencyGraph.from_edges([("component:default/a", "resource:default/bucket")])
    correlator = Correlator(graph)
    correlator.process(alert("a", 0))
    (incident,) = correlator.finish()
    ranked = [c["ref"] for c in incident.root_causes]
    assert ranked == ["component:default/a", "resource:default/bucket"]
    assert "1 alerting entity uses it directly" in " ".join(incident.root_causes[1]["reasons"])
