"""Ingestion into the store on both backends: incidents, lifecycle, events, idempotence."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from sentier import events
from sentier.aiops.alerts import (
    DependencyGraph,
    acknowledge,
    incident_detail,
    ingest_alerts,
    list_incidents,
    normalise,
)
from sentier.cli import app
from sentier.store import session_scope
from sentier.store.models import Alert as AlertRow

GRAPH = DependencyGraph.from_edges(
    [("component:default/checkout", "component:default/payments")],
    owners={"component:default/payments": "group:default/team-payments"},
)


def webhook(status: str, ends: str = "0001-01-01T00:00:00Z") -> dict:  # type: ignore[type-arg]
    return {
        "version": "4",
        "receiver": "sentier",
        "status": status,
        "alerts": [
            {
                "status": status,
                "fingerprint": "p1",
                "startsAt": "2026-11-02T10:00:00Z",
                "endsAt": ends,
                "labels": {
                    "alertname": "DatabaseDown",
                    "service": "payments",
                    "severity": "critical",
                },
            },
            {
                "status": status,
                "fingerprint": "c1",
                "startsAt": "2026-11-02T10:02:00Z",
                "endsAt": ends,
                "labels": {"alertname": "HighErrorRate", "service": "checkout"},
            },
        ],
    }


def test_lifecycle_with_events(engine: Engine) -> None:
    firing = normalise(webhook("firing"), "hook").alerts
    with session_scope(engine) as session:
        result = ingest_alerts(session, firing, graph=GRAPH)
    assert len(result.opened) == 1
    with session_scope(engine) as session:
        (item,) = list_incidents(session)
        assert item["root_cause"] == "component:default/payments"
        assert item["owner"] == "group:default/team-payments"
        assert item["status"] == "open"
        detail = incident_detail(session, item["key"][:6], graph=GRAPH)
        assert [e["kind"] for e in detail["timeline"]][:2] == ["opened", "alert"]
        assert detail["graph"]["edges"] == [
            {"source": "component:default/checkout", "target": "component:default/payments"}
        ]
        acknowledge(session, item["key"], "alice")
    # the same notifications again: nothing changes
    with session_scope(engine) as session:
        again = ingest_alerts(session, firing, graph=GRAPH)
        assert again.outcomes["duplicate"] == 2 and not again.opened
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 2
    resolved = normalise(webhook("resolved", "2026-11-02T10:30:00Z"), "hook").alerts
    with session_scope(engine) as session:
        done = ingest_alerts(session, resolved, graph=GRAPH)
        assert len(done.resolved) == 1
        (item,) = list_incidents(session)
        assert item["status"] == "resolved"
        types = [e.type for e in events.list_events(session, type_prefix="io.sentier.aiops")]
    assert types == [
        "io.sentier.aiops.incident.opened",
        "io.sentier.aiops.incident.acknowledged",
        "io.sentier.aiops.incident.resolved",
    ]


def test_cli_ingest_list_show_ack(tmp_path: Path, sqlite_engine: Engine) -> None:
    path = tmp_path / "storm.json"
    path.write_text(
        json.dumps([webhook("firing"), {"version": "4", "receiver": "x", "alerts": [{}]}])
    )
    runner = CliRunner()
    result = runner.invoke(app, ["alerts", "ingest", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["new_alerts"] == 2 and report["malformed"] == 1
    assert report["alerts_without_catalog_entity"] == 2  # empty catalog: kept and flagged
    listed = json.loads(runner.invoke(app, ["incidents", "list", "--json"]).stdout)
    assert len(listed) == 2  # no graph: payments and checkout are not known to be related
    key = listed[0]["key"]
    shown = runner.invoke(app, ["incidents", "show", key[:8]])
    assert shown.exit_code == 0 and "timeline" in shown.stdout
    assert runner.invoke(app, ["incidents", "ack", key[:8], "--by", "bob"]).exit_code == 0
    second = runner.invoke(app, ["incidents", "ack", key[:8]])
    assert second.exit_code == 1 and "acknowledged" in second.output
    assert runner.invoke(app, ["incidents", "show", "nope"]).exit_code == 1
