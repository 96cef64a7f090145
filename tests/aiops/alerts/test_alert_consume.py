"""Inbound hook messages become incidents with nobody running a command, exactly once."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from sentier import events
from sentier.aiops.alerts import consume_all, incident_detail, list_incidents
from sentier.api.alert_consumer import AlertConsumer
from sentier.catalog import ingest_source
from sentier.cli import app
from sentier.store import session_scope
from sentier.store.models import Alert as AlertRow
from tests.catalog.builders import component, group, resource


def _catalog(engine: Engine, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    docs = [
        group("team-pay"),
        component("checkout", owner="team-pay", dependsOn=["component:payments"]),
        component("payments", owner="team-pay", dependsOn=["resource:payments-db"]),
        resource("payments-db", owner="team-pay"),
        component("search", owner="team-pay"),
    ]
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    with session_scope(engine) as session:
        assert ingest_source(session, [root]).ok


def _alert(service: str, name: str, at: str, status: str = "firing") -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": at,
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": f"{service}-{name}",
    }


def _notification(*alerts: dict[str, Any], key: str = "g1") -> bytes:
    return json.dumps(
        {
            "version": "4",
            "groupKey": key,
            "status": "firing",
            "receiver": "sentier",
            "groupLabels": {},
            "commonLabels": {},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.invalid",
            "alerts": list(alerts),
        }
    ).encode()


def _receive(engine: Engine, body: bytes) -> None:
    """As the hook route does: authenticated already, stored raw for AIOps."""
    with session_scope(engine) as session:
        events.receive_alertmanager(
            session, {"content-type": "application/json"}, body, principal="test"
        )


def _cloudevent(engine: Engine, event: dict[str, Any]) -> None:
    with session_scope(engine) as session:
        events.receive_cloudevents(
            session,
            {"content-type": "application/cloudevents+json"},
            json.dumps(event).encode(),
            principal="test",
        )


@pytest.fixture
def hooks(engine: Engine, tmp_path: Path) -> Engine:
    _catalog(engine, tmp_path / "catalog")
    with session_scope(engine) as session:
        events.add_hook(session, "alertmanager", "alertmanager")
        events.add_hook(session, "cloudevents", "cloudevents")
    return engine


def test_stored_notifications_become_one_incident_once(hooks: Engine) -> None:
    _receive(
        hooks,
        _notification(
            _alert("payments-db", "DatabaseDown", "2026-11-02T10:00:00Z"),
            _alert("payments", "HighErrorRate", "2026-11-02T10:01:00Z"),
        ),
    )
    _receive(hooks, _notification(_alert("checkout", "HighLatency", "2026-11-02T10:02:30Z")))
    _cloudevent(
        hooks,
        {
            "specversion": "1.0",
            "id": "deploy-1",
            "source": "ci",
            "type": "dev.ci.deployment.finished",
            "time": "2026-11-02T09:00:00Z",
            "data": {"version": "1.2.3"},
        },
    )
    first = consume_all(hooks)
    assert (first.messages, first.ignored, first.malformed) == (3, 1, 0)
    assert first.ingest.outcomes["new"] == 3 and len(first.ingest.opened) == 1
    with session_scope(hooks) as session:
        (incident,) = list_incidents(session)
        detail = incident_detail(session, incident["key"])
        assert events.list_inbound(session, unconsumed=True) == []
    assert detail["root_causes"][0]["ref"] == "resource:default/payments-db"
    assert incident["alerts"] == 3 and incident["status"] == "open"
    # Nothing new: a second run finds nothing; Alertmanager re-sending is stored once anyway.
    assert consume_all(hooks).messages == 0
    _receive(
        hooks,
        _notification(_alert("checkout", "HighLatency", "2026-11-02T10:02:30Z"), key="g2"),
    )
    again = consume_all(hooks)
    assert again.messages == 1 and again.ingest.outcomes["duplicate"] == 1
    with session_scope(hooks) as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 3
        assert len(list_incidents(session)) == 1


def test_cloudevent_alerts_and_malformed_ones_are_counted(hooks: Engine) -> None:
    _cloudevent(
        hooks,
        {
            "specversion": "1.0",
            "id": "a1",
            "source": "uptime",
            "type": "io.uptime.alert.firing",
            "subject": "search",
            "time": "2026-11-02T11:00:00Z",
            "data": {"alertname": "SiteDown", "severity": "critical"},
        },
    )
    _receive(
        hooks,
        _notification(
            _alert("payments", "HighErrorRate", "2026-11-02T12:00:00Z"),
            {**_alert("payments", "", "2026-11-02T12:00:00Z"), "labels": {"service": "payments"}},
        ),
    )
    result = consume_all(hooks)
    assert result.messages == 2 and result.malformed == 1
    assert "alerts[1].labels.alertname" in result.problems[0]
    assert "inbound message" in result.problems[0]
    with session_scope(hooks) as session:
        causes = sorted(i["root_cause"] for i in list_incidents(session))
    assert causes == ["component:default/payments", "component:default/search"]


def test_a_failed_batch_leaves_its_messages_for_the_next_run(
    hooks: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _receive(hooks, _notification(_alert("payments", "HighErrorRate", "2026-11-02T10:00:00Z")))
    import sentier.aiops.alerts.consume as consume

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(consume, "ingest_alerts", broken)
    with pytest.raises(RuntimeError):
        consume_all(hooks)
    with session_scope(hooks) as session:
        assert len(events.list_inbound(session, unconsumed=True)) == 1
        assert list_incidents(session) == []
    monkeypatch.undo()
    assert consume_all(hooks).ingest.outcomes["new"] == 1


def test_cli_consume_reports_in_json(hooks: Engine) -> None:
    _receive(hooks, _notification(_alert("payments", "HighErrorRate", "2026-11-02T10:00:00Z")))
    result = CliRunner().invoke(app, ["alerts", "consume", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["messages"] == 1 and report["new_alerts"] == 1
    assert len(report["incidents_opened"]) == 1


def test_background_consumer_of_sentier_serve_correlates_as_alerts_arrive(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    _catalog(sqlite_engine, tmp_path / "catalog")
    with session_scope(sqlite_engine) as session:
        events.add_hook(session, "alertmanager", "alertmanager")
    _receive(
        sqlite_engine,
        _notification(_alert("payments-db", "DatabaseDown", "2026-11-02T10:00:00Z")),
    )

    async def scenario() -> list[dict[str, Any]]:
        consumer = AlertConsumer(interval=0.05).start()
        deadline = time.monotonic() + 10
        found: list[dict[str, Any]] = []
        while not found and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            with session_scope(sqlite_engine) as session:
                found = list_incidents(session)
        await consumer.stop()
        return found

    (incident,) = asyncio.run(scenario())
    assert incident["root_cause"] == "resource:default/payments-db"


def test_the_starter_runs_under_a_server_but_not_under_a_test_client(
    sqlite_engine: Engine,
) -> None:
    """A server drives the app from the main thread; test clients from a helper thread,
    where the consumer must not take the messages a test stored to look at."""
    import threading

    from sentier.api.alert_consumer import start_alert_consumer

    async def main_thread() -> bool:
        consumer = start_alert_consumer()
        if consumer is None:
            return False
        await consumer.stop()
        return True

    seen: list[object] = []
    helper = threading.Thread(target=lambda: seen.append(asyncio.run(main_thread())))
    helper.start()
    helper.join()
    assert asyncio.run(main_thread()) is True and seen == [False]
