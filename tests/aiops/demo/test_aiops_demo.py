"""The demo organisation's storm shows two open incidents, each with its real root cause."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sentier.aiops.alerts import ingest_alerts, list_incidents, normalise_text
from sentier.aiops.logs import TemplateMiner, compile_format, read_lines
from sentier.catalog import ingest_source
from sentier.demo import generate_organisation
from sentier.demo.aiops_files import FAULTS, LOG_FORMAT
from sentier.store import session_scope


def test_demo_storm_gives_two_incidents_with_their_causes(
    tmp_path: Path, sqlite_engine: Engine
) -> None:
    summary = generate_organisation(tmp_path)
    assert summary["alert notifications"] > 20
    with session_scope(sqlite_engine) as session:
        ingest_source(session, [tmp_path / "catalog"])
    storm = tmp_path / "aiops" / "alerts" / "storm.json"
    normalised = normalise_text(storm.read_text(), str(storm))
    assert not normalised.problems
    with session_scope(sqlite_engine) as session:
        result = ingest_alerts(session, normalised.alerts)
        assert result.unresolved == 0
        still_open = list_incidents(session, statuses=["open"])
    assert sorted(i["root_cause"] for i in still_open) == sorted(FAULTS)
    assert all(i["alerts"] >= 3 for i in still_open)


def test_demo_logs_parse_into_few_templates(tmp_path: Path) -> None:
    generate_organisation(tmp_path)
    fmt = compile_format(LOG_FORMAT)
    miner = TemplateMiner()
    for line in read_lines(tmp_path / "aiops" / "logs" / "payments.log"):
        fields = fmt.split(line)
        assert fields is not None, line
        miner.add(fields["Content"])
    miner.refresh()
    assert 8 <= len(miner) <= 16
    assert any("failed: timeout" in t.text for t in miner.templates())


def test_demo_up_shows_the_two_incidents_and_stays_so_when_run_again() -> None:
    from typer.testing import CliRunner

    from sentier.cli import app
    from sentier.store import get_engine

    for _ in range(2):
        result = CliRunner().invoke(app, ["demo", "up", "--no-serve"])
        assert result.exit_code == 0, result.output
        assert "2 open incidents" in result.output
    with session_scope(get_engine()) as session:
        still_open = list_incidents(session, statuses=["open"])
    assert sorted(i["root_cause"] for i in still_open) == sorted(FAULTS)
