"""Across domains: every event the demo organisation produces matches its catalogued schema."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier import events
from sentier.cli import app
from sentier.demo import generate_organisation
from sentier.store import session_scope

runner = CliRunner()


def test_every_domain_emits_events_that_match_their_schemas(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    demo = tmp_path / "demo"
    generate_organisation(demo)
    steps = [
        ["catalog", "ingest", str(demo / "catalog")],
        ["scan", str(demo / "terraform"), "--store", "--fail-on", "none"],
        ["alerts", "ingest", str(demo / "aiops" / "alerts" / "storm.json")],
        ["cost", "ingest", str(demo / "billing")],
        ["cost", "anomalies"],
        [
            "cost",
            "budgets",
            "add",
            "data",
            "--scope",
            "team-data",
            "--amount",
            "100",
            "--currency",
            "EUR",
        ],
        ["cost", "budgets", "check"],
    ]
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output)
    with session_scope(sqlite_engine) as session:
        emitted = events.list_events(session, limit=100_000)
    domains = {row.type.split(".")[2] for row in emitted}
    assert {"catalog", "policy", "aiops", "finops"} <= domains
    for row in emitted:
        assert events.validate_data(row.type, row.data) == [], (row.type, row.data)
