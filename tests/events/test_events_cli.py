"""The CLI reaches the events domain: webhooks, the event log, types, hooks."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier import events
from sentier.cli import app
from sentier.store import session_scope

runner = CliRunner()


def test_webhooks_and_events_commands(sqlite_engine: Engine, receiver, tmp_path: Path) -> None:
    added = runner.invoke(app, ["webhooks", "add", receiver.url, "--types", "io.sentier.test.*"])
    assert added.exit_code == 0, added.output
    assert "whsec_" in added.output
    listed = json.loads(runner.invoke(app, ["webhooks", "list", "-f", "json"]).output)
    assert listed[0]["url"] == receiver.url and "secret" not in listed[0]
    with session_scope(sqlite_engine) as session:
        events.record(session, "io.sentier.test.changed", "component:default/x", {"n": 1})
    dispatched = runner.invoke(app, ["events", "dispatch", "--once"])
    assert dispatched.exit_code == 0, dispatched.output
    assert len(receiver.requests) == 1
    deliveries = runner.invoke(app, ["webhooks", "deliveries", listed[0]["id"], "-f", "json"])
    (delivery,) = json.loads(deliveries.output)
    assert delivery["status"] == "delivered"
    assert runner.invoke(app, ["webhooks", "redeliver", str(delivery["id"])]).exit_code == 0
    runner.invoke(app, ["events", "dispatch", "--once"])
    assert len(receiver.requests) == 2 and receiver.dedup_log() == [delivery["event_id"]]
    tail = runner.invoke(app, ["events", "tail", "-f", "json", "--type", "io.sentier.test"])
    assert json.loads(tail.output.splitlines()[0])["subject"] == "component:default/x"
    types = json.loads(runner.invoke(app, ["events", "types", "-f", "json"]).output)
    assert any(t["type"] == events.CATALOG_ENTITY_ADDED for t in types)
    refused = runner.invoke(app, ["webhooks", "add", "http://169.254.169.254/"])
    assert refused.exit_code == 1 and "link-local" in refused.output
    assert runner.invoke(app, ["webhooks", "remove", listed[0]["id"]]).exit_code == 0


def test_bad_hook_payload_is_one_clear_error(sqlite_engine: Engine, tmp_path: Path) -> None:
    created = runner.invoke(app, ["events", "hooks", "add", "am", "--kind", "alertmanager"])
    assert created.exit_code == 0 and "token:" in created.output
    payload = tmp_path / "alert.json"
    payload.write_text('{"version": "4"}')
    result = runner.invoke(app, ["events", "hooks", "receive", "am", str(payload)])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output
