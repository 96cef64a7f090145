"""Correlation and root cause on a small hand-made graph a person can draw."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sentier.aiops.alerts import (
    FIRING,
    RESOLVED,
    Alert,
    Correlator,
    DependencyGraph,
    default_correlation,
)
from sentier.aiops.alerts.model import SEVERITY_WEIGHT

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
        strength=SEVERITY_WEIGHT[severity],
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
    assert "explains 2 of 2 other alerting entities (they depend on it)" in reasons
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
    assert "not alerting itself" in " ".join(incident.root_causes[1]["reasons"])
    assert sum(c["score"] for c in incident.root_causes) == pytest.approx(1.0, abs=0.01)


def test_a_lone_alert_whose_users_stay_quiet_points_at_what_it_uses() -> None:
    # search is used by three services; if search itself had failed they would alert too
    # (here they alert nine times in ten when what they use fails).
    graph = DependencyGraph.from_edges(
        [
            ("component:default/search", "resource:default/index"),
            *((f"component:default/user-{n}", "component:default/search") for n in range(3)),
        ]
    )
    model = replace(default_correlation().model, propagation=0.9)
    correlator = Correlator(graph, replace(default_correlation(), model=model))
    correlator.process(alert("search", 0))
    (incident,) = correlator.finish()
    assert incident.root_cause == "resource:default/index"
    assert "0 of 3 entities using it directly alert" in " ".join(
        next(c for c in incident.root_causes if c["ref"].endswith("/search"))["reasons"]
    )
    # With users that rarely alert, their silence says little, and the service is the bet.
    model = replace(default_correlation().model, propagation=0.3)
    correlator = Correlator(graph, replace(default_correlation(), model=model))
    correlator.process(alert("search", 0))
    (incident,) = correlator.finish()
    assert incident.root_cause == "component:default/search"


# A hub: kafka is used by everyone; two independent faults below it strike together.
HUB = DependencyGraph.from_edges(
    [
        *((f"component:default/svc-{n}", "resource:default/kafka") for n in range(12)),
        ("component:default/svc-0", "resource:default/db-0"),
        ("component:default/svc-1", "component:default/svc-0"),
        ("component:default/svc-5", "resource:default/db-5"),
        ("component:default/svc-6", "component:default/svc-5"),
    ]
)


def test_a_shared_hub_does_not_merge_independent_faults() -> None:
    correlator = Correlator(HUB)
    for a in (
        alert("db-0", 0, "DatabaseDown", severity="critical"),
        alert("db-5", 0.5, "DatabaseDown", severity="critical"),
        alert("svc-0", 1),
        alert("svc-5", 1.2),
        alert("svc-1", 2),
        alert("svc-6", 2.2),
    ):
        correlator.process(a)
    incidents = correlator.finish()
    assert sorted(i.root_cause or "" for i in incidents) == [
        "resource:default/db-0",
        "resource:default/db-5",
    ]
    assert all(len(i.alerts) == 3 for i in incidents)


def test_the_hub_itself_failing_is_one_incident_with_the_hub_as_cause() -> None:
    correlator = Correlator(HUB)
    correlator.process(alert("kafka", 0, "BrokerDown", severity="critical"))
    for n in range(9):
        correlator.process(alert(f"svc-{n}", 1 + n * 0.3))
    (incident,) = correlator.finish()
    assert incident.root_cause == "resource:default/kafka" and len(incident.alerts) == 10


def test_a_dependency_alerting_long_after_is_a_new_problem_soon_after_the_cause() -> None:
    correlator = Correlator(GRAPH)
    correlator.process(alert("checkout", 0))
    correlator.process(alert("payments", 2, "DatabaseDown", severity="critical"))
    (incident,) = correlator.finish()  # payments alerting late, but still the likely cause
    assert incident.root_cause == "component:default/payments"
    later = Correlator(GRAPH)
    later.process(alert("checkout", 0))
    later.process(alert("payments", 12, "DatabaseDown", severity="critical"))
    assert len(later.finish()) == 2


def test_a_flapping_cause_keeps_its_victims_in_its_incident() -> None:
    correlator = Correlator(GRAPH)
    correlator.process(alert("payments", 0, "DatabaseDown", severity="critical"))
    resolved = alert("payments", 0, "DatabaseDown", status=RESOLVED, severity="critical")
    resolved.ends_at = T0 + timedelta(minutes=1)
    correlator.process(resolved)  # the incident resolves for a moment...
    correlator.process(alert("checkout", 2))  # ...and its victim arrives
    (incident,) = correlator.finish()
    assert incident.status == "open" and len(incident.alerts) == 2
