"""Files through the CLI: Loghub CSVs, malformed lines reported, state kept in the store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier.cli import app

RESPONDER = "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder"
LINES = [
    f"{RESPONDER} 1 for block blk_38865049064139660 terminating",
    f"{RESPONDER} 0 for block blk_-6952295868487656571 terminating",
    "garbage without the header",
    "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.delete: blk_-1 is added to "
    "invalidSet of 10.251.73.220:50010",
]
FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"


def test_parse_writes_structured_and_templates(tmp_path: Path, sqlite_engine: Engine) -> None:
    log = tmp_path / "hdfs.log"
    log.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    structured, templates = tmp_path / "s.csv", tmp_path / "t.csv"
    result = CliRunner().invoke(
        app,
        [
            "logs",
            "parse",
            str(log),
            "--log-format",
            FORMAT,
            "--structured",
            str(structured),
            "--templates",
            str(templates),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files"][0]["malformed"] == 1
    assert f"{log}:3" in summary["files"][0]["examples"][0]
    rows = list(csv.DictReader(structured.open(encoding="utf-8")))
    assert [r["LineId"] for r in rows] == ["1", "2", "4"]
    assert list(rows[0]) == [
        "LineId",
        "Date",
        "Time",
        "Pid",
        "Level",
        "Component",
        "Content",
        "EventId",
        "EventTemplate",
    ]
    assert rows[0]["EventTemplate"] == "PacketResponder <*> for block <*> terminating"
    assert rows[0]["EventId"] == rows[1]["EventId"] != rows[2]["EventId"]
    listed = list(csv.DictReader(templates.open(encoding="utf-8")))
    assert sorted(int(r["Occurrences"]) for r in listed) == [1, 2]


def test_state_persists_between_runs(tmp_path: Path, sqlite_engine: Engine) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("user alice logged in\nuser bob logged in\nuser carol logged in\n")
    second.write_text("user dave logged in\n")
    runner = CliRunner()
    for path in (first, second):
        result = runner.invoke(app, ["logs", "parse", str(path), "--state", "auth", "--json"])
        assert result.exit_code == 0, result.output
    shown = runner.invoke(app, ["logs", "templates", "auth", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout) == [{"id": 1, "template": "user <*> logged in", "count": 4}]
    missing = runner.invoke(app, ["logs", "templates", "nope"])
    assert missing.exit_code == 1


def test_bad_settings_file_is_reported(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("hello\n")
    settings = tmp_path / "s.yaml"
    settings.write_text("similarity: [1, 2]\n")
    result = CliRunner().invoke(app, ["logs", "parse", str(log), "--settings", str(settings)])
    assert result.exit_code == 1
    assert "s.yaml" in result.output
