"""``sentier cost``: what a user types and sees."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier.cli import app
from tests.finops.finops_helpers import line, write_focus

runner = CliRunner()


def test_ingest_report_tags_budgets_from_the_cli(catalog: Engine, tmp_path: Path) -> None:
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            line(cost="12.5", tags={"team": "team-a", "service": "x", "env": "prod"}),
            line(cost="7.5", ResourceId="i-2"),
        ],
    )
    result = runner.invoke(app, ["cost", "ingest", str(bill)])
    assert result.exit_code == 0, result.output
    assert "landed" in result.output
    result = runner.invoke(app, ["cost", "report", "--by", "group", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    totals = {r["key"]: r["total"] for r in data["rows"]}
    assert totals["group:default/team-a"] == "12.50" and totals["unallocated"] == "7.50"
    assert data["reconciliation"][0]["balanced"] is True
    result = runner.invoke(app, ["cost", "report", "--by", "service-category", "-f", "csv"])
    # Text quoted, numbers bare (``sentier.csvsafe``).
    assert (
        result.output.splitlines()[0]
        == '"service-category","currency","2024-09","total","share","MoM"'
    )
    result = runner.invoke(app, ["cost", "tags", "--format", "json"])
    assert json.loads(result.output)["overall"][0]["coverage"] == 12.5 / 20
    result = runner.invoke(
        app, ["cost", "budgets", "add", "a", "--scope", "team-a", "--amount", "20"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["cost", "budgets", "check", "--format", "json"])
    [status] = json.loads(result.output)
    # 12.50 spent by the 10th: 50 % crossed; at that pace the month ends far above 100 %.
    assert [(c["threshold"], c["kind"]) for c in status["crossed"]] == [
        (50, "actual"),
        (80, "forecast"),
        (100, "forecast"),
    ]
    result = runner.invoke(app, ["cost", "export", "--focus", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    exported = (tmp_path / "out.csv").read_text().splitlines()
    assert len(exported) == 3 and "x_AllocatedOwner" in exported[0]


def test_cli_errors_are_one_clear_line(catalog: Engine, tmp_path: Path) -> None:
    bad = write_focus(tmp_path / "bad.csv", [line(BillingCurrency="dollars")])
    result = runner.invoke(app, ["cost", "ingest", str(bad)])
    assert result.exit_code == 1
    assert "quarantined" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["cost", "report"])
    assert result.exit_code == 1 and "no billing data yet" in result.output
    result = runner.invoke(app, ["cost", "ingest", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1 and "no such file or directory" in result.output
    ok = write_focus(tmp_path / "ok.csv", [line()])
    runner.invoke(app, ["cost", "ingest", str(ok)])
    result = runner.invoke(app, ["cost", "report", "--by", "colour"])
    assert result.exit_code == 1 and "unknown report dimension 'colour'" in result.output
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - tag: team\n    sub_account: {}\n")
    result = runner.invoke(app, ["cost", "report", "--rules", str(rules)])
    assert result.exit_code == 1 and f"{rules}: row 2: rules.0" in " ".join(result.output.split())
