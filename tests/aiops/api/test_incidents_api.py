"""Incidents and alerts over HTTP: ingest, list, detail with the affected graph, acknowledge.

The catalog (tests/api/conftest.py): checkout (team-a) depends on the orders-db resource
(team-a1, a child of team-a) and provides checkout-api; billing belongs to team-b. The editor
token acts for team-a.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier import events
from sentier.aiops.logs import TemplateMiner, save_miner
from sentier.store import session_scope
from sentier.store.models import AuditEvent
from tests.api.conftest import Tokens

PROBLEM = "application/problem+json"


def alert(service: str, name: str, at: str, ends: str | None = None) -> dict[str, Any]:
    return {
        "status": "resolved" if ends else "firing",
        "fingerprint": f"{service}-{name}",
        "startsAt": at,
        "endsAt": ends or "0001-01-01T00:00:00Z",
        "labels": {"alertname": name, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{name} on {service}"},
    }


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "receiver": "sentier", "status": "firing", "alerts": list(alerts)}


STORM = webhook(
    alert("orders-db", "DatabaseDown", "2026-11-02T10:00:00Z"),
    alert("checkout", "HighErrorRate", "2026-11-02T10:01:10Z"),
)


def _ingest(client: TestClient, tokens: Tokens, payload: Any, role: str = "editor") -> Any:
    response = client.post("/api/v1/alerts", json=payload, headers=tokens.header(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_alerts_become_an_incident_with_its_cause_reasons_and_graph(
    client: TestClient, tokens: Tokens
) -> None:
    report = _ingest(client, tokens, STORM)
    assert report["new_alerts"] == 2 and len(report["incidents_opened"]) == 1
    listing = client.get("/api/v1/incidents?status=open", headers=tokens.header("viewer")).json()
    (item,) = listing["items"]
    assert listing["counts"] == {"open": 1, "acknowledged": 0, "resolved": 0, "merged": 0}
    assert item["root_cause"] == "resource:default/orders-db"
    assert item["owner"] == "group:default/team-a1"
    detail = client.get(f"/api/v1/incidents/{item['key']}", headers=tokens.header("viewer"))
    assert detail.status_code == 200
    body = detail.json()
    top = body["root_causes"][0]
    assert top["ref"] == "resource:default/orders-db"
    assert "explains 1 of 1 other alerting entities (they depend on it)" in top["reasons"]
    assert [a["name"] for a in body["alerts"]] == ["DatabaseDown", "HighErrorRate"]
    assert [e["kind"] for e in body["timeline"]][:2] == ["opened", "alert"]
    nodes = {n["ref"]: n for n in body["graph"]["nodes"]}
    assert nodes["resource:default/orders-db"]["suspect_rank"] == 1
    assert nodes["component:default/checkout"]["alerting"] is True
    assert {
        "source": "component:default/checkout",
        "type": "dependsOn",
        "target": "resource:default/orders-db",
    } in body["graph"]["edges"]
    # A prefix of the key finds it too; a key that names nothing is a 404 problem.
    assert client.get(
        f"/api/v1/incidents/{item['key'][:8]}", headers=tokens.header("viewer")
    ).is_success
    missing = client.get("/api/v1/incidents/deadbeef", headers=tokens.header("viewer"))
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM


def test_resending_the_same_batch_changes_nothing(client: TestClient, tokens: Tokens) -> None:
    _ingest(client, tokens, STORM)
    again = _ingest(client, tokens, STORM)
    assert again["new_alerts"] == 0 and again["duplicates"] == 2
    assert again["incidents_opened"] == [] and again["incidents_updated"] == []
    listing = client.get("/api/v1/incidents", headers=tokens.header("viewer")).json()
    assert len(listing["items"]) == 1


def test_malformed_alerts_are_counted_and_named_and_the_good_ones_kept(
    client: TestClient, tokens: Tokens
) -> None:
    bad = {**alert("checkout", "X", "2026-11-02T10:00:00Z"), "startsAt": "yesterday"}
    report = _ingest(
        client, tokens, [webhook(bad, alert("billing", "Slow", "2026-11-02T10:00:00Z"))]
    )
    assert report["new_alerts"] == 1 and report["malformed"] == 1
    assert report["problems"] == ["body[0]: alerts[0].startsAt: not a time: 'yesterday'"]
    far = {**alert("checkout", "X", "2026-11-02T10:00:00Z"), "startsAt": "0001-01-02T00:00:00Z"}
    assert _ingest(client, tokens, webhook(far))["malformed"] == 1
    # What a database would refuse (NUL characters, over-long names) is cleaned, not a 500.
    odd = alert("x" * 2000, "Null\u0000Byte", "2026-11-02T10:00:00Z")
    odd["fingerprint"] = "f" * 500
    assert _ingest(client, tokens, webhook(odd))["new_alerts"] == 1
    broken = client.post(
        "/api/v1/alerts",
        content=b'{"version": ',
        headers={**tokens.header("editor"), "content-type": "application/json"},
    )
    assert broken.status_code == 422 and broken.headers["content-type"] == PROBLEM


def test_who_may_ingest_and_acknowledge(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    denied = client.post("/api/v1/alerts", json=STORM, headers=tokens.header("viewer"))
    assert denied.status_code == 403
    _ingest(client, tokens, STORM)
    _ingest(client, tokens, webhook(alert("billing", "HighLatency", "2026-11-02T15:00:00Z")))
    incidents = client.get("/api/v1/incidents", headers=tokens.header("viewer")).json()["items"]
    by_cause = {i["root_cause"]: i["key"] for i in incidents}
    orders, billing = by_cause["resource:default/orders-db"], by_cause["component:default/billing"]
    assert (
        client.post(f"/api/v1/incidents/{orders}/ack", headers=tokens.header("viewer")).status_code
        == 403
    )
    # team-a's editor: yes for team-a1's database (a child group), no for team-b's billing.
    refused = client.post(f"/api/v1/incidents/{billing}/ack", headers=tokens.header("editor"))
    assert refused.status_code == 403 and "team-b" in refused.json()["detail"]
    done = client.post(
        f"/api/v1/incidents/{orders}/ack", json={"note": "on it"}, headers=tokens.header("editor")
    )
    assert done.status_code == 200 and done.json()["status"] == "acknowledged"
    assert done.json()["acknowledged_by"] == "team-a-ci"
    twice = client.post(f"/api/v1/incidents/{orders}/ack", headers=tokens.header("editor"))
    assert twice.status_code == 409
    assert client.post(
        f"/api/v1/incidents/{billing}/ack", headers=tokens.header("admin")
    ).is_success
    with session_scope(app_engine) as session:
        audit = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["incident.ack", "alerts.ingest"]))
        ).all()
        acked = events.list_events(session, type_prefix="io.sentier.aiops.incident.acknowledged")
    assert [(a.action, a.outcome) for a in audit].count(("incident.ack", "ok")) == 2
    assert {a.action for a in audit} == {"incident.ack", "alerts.ingest"}
    assert len(acked) == 2
    counts = client.get("/api/v1/incidents", headers=tokens.header("viewer")).json()["counts"]
    assert counts == {"open": 0, "acknowledged": 2, "resolved": 0, "merged": 0}


def test_alerts_list_filters_and_pages(client: TestClient, tokens: Tokens) -> None:
    _ingest(client, tokens, STORM)
    _ingest(
        client,
        tokens,
        webhook(alert("orders-db", "DatabaseDown", "2026-11-02T10:00:00Z", "2026-11-02T10:30:00Z")),
    )
    viewer = tokens.header("viewer")
    everything = client.get("/api/v1/alerts", headers=viewer).json()["items"]
    assert len(everything) == 2 and all(a["incident"] for a in everything)
    firing = client.get("/api/v1/alerts?status=firing", headers=viewer).json()["items"]
    assert [a["name"] for a in firing] == ["HighErrorRate"]
    on_db = client.get(
        "/api/v1/alerts", params={"entity": "resource:default/orders-db"}, headers=viewer
    ).json()["items"]
    assert [a["status"] for a in on_db] == ["resolved"]
    first = client.get("/api/v1/alerts?limit=1", headers=viewer).json()
    second = client.get(
        f"/api/v1/alerts?limit=1&before={first['next_before']}", headers=viewer
    ).json()
    assert first["items"][0]["id"] > second["items"][0]["id"]
    assert client.get("/api/v1/alerts?status=sleeping", headers=viewer).status_code == 422
    by_entity = client.get(
        "/api/v1/incidents", params={"entity": "component:default/checkout"}, headers=viewer
    ).json()["items"]
    by_owner = client.get("/api/v1/incidents?owner=team-a", headers=viewer).json()["items"]
    assert len(by_entity) == 1 and by_owner == by_entity
    assert client.get("/api/v1/incidents?owner=team-b", headers=viewer).json()["items"] == []


def test_stored_log_templates_and_metric_detection(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    miner = TemplateMiner()
    for n in range(30):
        miner.add(f"user {n} logged in from 10.0.0.{n}")
        miner.add(f"job {n} finished in {n * 7}ms")
    with session_scope(app_engine) as session:
        save_miner(session, "payments", miner)
    viewer = tokens.header("viewer")
    (stored,) = client.get("/api/v1/logs/miners", headers=viewer).json()
    assert stored["name"] == "payments" and stored["lines"] == 60
    templates = client.get("/api/v1/logs/miners/payments/templates", headers=viewer).json()
    assert sorted(t["template"] for t in templates) == [
        "job <*> finished in <*>",
        "user <*> logged in from <*>",
    ]
    assert client.get("/api/v1/logs/miners/nope/templates", headers=viewer).status_code == 404
    lines = ["timestamp,value"]
    for minute in range(600):
        value = 100.0 + (minute % 7) * 0.5 + (400.0 if minute == 500 else 0.0)
        lines.append(f"{1_780_000_000 + minute * 60},{value}")
    lines.append("oops,not-a-number")
    found = client.post(
        "/api/v1/metrics/detect", json={"text": "\n".join(lines)}, headers=viewer
    ).json()
    assert found["samples"] == 600 and found["malformed"] == 1
    assert [a["value"] for a in found["anomalies"]] == [501.5]
