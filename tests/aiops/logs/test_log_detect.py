"""Header formats told from a file's first lines, so templates are made of messages only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sentier.aiops.logs import TemplateMiner, compile_format, parse_file, read_lines
from sentier.aiops.logs.detect import catalogue, detect, resolve_format
from sentier.cli import app

FORMATS = catalogue().formats


@pytest.mark.parametrize("known", FORMATS, ids=[f.name for f in FORMATS])
def test_every_format_splits_its_examples_and_leaves_the_others(known) -> None:  # type: ignore[no-untyped-def]
    assert known.matches, f"{known.name} has no example"
    for line in known.matches:
        fields = known.split(line)
        assert fields is not None and fields["Content"], (known.name, line)
    for line in known.ignores:
        assert known.split(line) is None, (known.name, line)


SAMPLES = {
    "syslog-rfc5424": [
        "<165>1 2024-03-01T10:15:02.003Z web-1 nginx 812 ID47 - worker process 813 exited",
        '<34>1 2024-03-01T10:15:03.100Z web-1 su - ID48 [origin ip="10.0.0.1"] su root failed',
    ],
    "syslog-rfc3164": [
        "Mar  1 10:15:02 web-1 sshd[812]: Accepted publickey for deploy from 10.0.0.9 port 51022",
        "Mar  1 10:15:04 web-1 CRON[990]: (root) CMD (run-parts /etc/cron.hourly)",
    ],
    "kubernetes-cri": [
        "2024-03-01T10:15:02.123456789Z stdout F GET /healthz 200 1ms",
        "2024-03-01T10:15:02.223456789Z stderr F warning: cache miss for key users:42",
    ],
    "apache-access": [
        '10.0.0.5 - - [01/Mar/2024:10:15:02 +0000] "GET /api/v1/orders HTTP/1.1" 200 512',
        '10.0.0.6 - bob [01/Mar/2024:10:15:03 +0000] "POST /login HTTP/1.1" 302 0 "-" "curl/8"',
    ],
    "nginx-error": [
        '2024/03/01 10:15:02 [error] 812#812: *41 open() "/srv/x.ico" failed (2: No such file)',
        "2024/03/01 10:15:09 [warn] 812#812: *43 upstream response is buffered to a temporary file",
    ],
    "spring-boot": [
        "2024-03-01 10:15:02.123  INFO 4711 --- [     main] o.s.b.Startup : Started in 2.5 s",
        "2024-03-01 10:15:03.456  WARN 4711 --- [nio-8080-1] c.e.Orders : order 42 not found",
    ],
    "logback": [
        "10:15:02.123 [main] INFO  com.example.App - Started App in 2.1 seconds",
        "10:15:03.456 [worker-2] ERROR com.example.Jobs - job 77 failed: timeout",
    ],
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_detection_names_the_format_and_splits_off_the_header(name: str) -> None:
    lines = SAMPLES[name] * 3
    found = detect(lines)
    assert found.format is not None and found.format.text == name
    assert found.matched == found.sampled == len(lines)
    content = found.format.split(lines[0])
    assert content is not None
    assert content["Content"] and content["Content"] in lines[0]
    assert not lines[0].startswith(content["Content"])  # a header was really taken off


def test_json_lines_of_docker_and_journald_take_their_message_key() -> None:
    docker = [
        json.dumps(
            {"log": f"GET /orders/{n} 200\n", "stream": "stdout", "time": "2024-03-01T10:15:02Z"}
        )
        for n in range(5)
    ]
    found = detect(docker)
    assert found.format is not None and found.format.text == "json-lines"
    assert found.format.split(docker[0]) == {
        "stream": "stdout",
        "time": "2024-03-01T10:15:02Z",
        "Content": "GET /orders/0 200",
    }
    journal = [
        json.dumps({"MESSAGE": "Started Session 3 of user root.", "_PID": "1", "PRIORITY": 6})
    ]
    split = detect(journal).format.split(journal[0])  # type: ignore[union-attr]
    assert split is not None and split["Content"] == "Started Session 3 of user root."
    assert split["PRIORITY"] == "6"


def test_journal_export_records_span_lines(tmp_path: Path) -> None:
    records = []
    for n in range(4):
        records.append(
            "\n".join(
                [
                    f"__CURSOR=s=abc;i={n}",
                    f"__REALTIME_TIMESTAMP=17093000000000{n}",
                    "_HOSTNAME=web-1",
                    "SYSLOG_IDENTIFIER=sshd",
                    f"MESSAGE=Accepted publickey for deploy from 10.0.0.{n} port 5102{n}",
                ]
            )
        )
    log = tmp_path / "journal.export"
    log.write_text("\n\n".join(records) + "\n", encoding="utf-8")
    structured = tmp_path / "s.csv"
    result = parse_file(log, TemplateMiner(), structured=structured)
    assert result.report.headers is not None
    assert result.report.headers.title == "systemd journal export format"
    assert result.report.lines == 4 and result.report.parsed == 4
    rows = list(csv.DictReader(structured.open(encoding="utf-8")))
    assert [r["LineId"] for r in rows] == ["1", "7", "13", "19"]
    assert {r["EventTemplate"] for r in rows} == {"Accepted publickey for deploy from <*> port <*>"}
    assert rows[0]["SYSLOG_IDENTIFIER"] == "sshd"


def test_no_known_header_keeps_whole_lines() -> None:
    lines = ["user alice logged in", "user bob logged in", "disk full on /var"]
    found = detect(lines)
    assert found.format is None
    # A few lines of a known format among many others are not enough.
    mixed = SAMPLES["syslog-rfc3164"] + ["free text"] * 8
    assert detect(mixed).format is None


def test_a_given_format_wins_over_detection() -> None:
    given = resolve_format("<Date> <Time> <Rest> <Content>", SAMPLES["syslog-rfc3164"])
    assert given.format is not None and given.title.startswith("given")
    assert resolve_format("none", SAMPLES["syslog-rfc3164"]).format is None
    named = resolve_format("nginx-error", [])
    assert named.format is not None and named.format.text == "nginx-error"


def test_cli_without_a_format_mines_messages_not_headers(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text(
        "\n".join(
            f"Dec 10 06:55:{n:02d} LabSZ sshd[{24200 + n}]: Failed password for root from "
            f"10.0.0.{n} port {5000 + n} ssh2"
            for n in range(30)
        )
        + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["logs", "parse", str(log), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["files"][0]["headers"]["format"] == "syslog-rfc3164"
    assert [t["template"] for t in summary["top"]] == [
        "Failed password for root from <*> port <*> ssh2"
    ]
    raw = CliRunner().invoke(app, ["logs", "parse", str(log), "--log-format", "none", "--json"])
    assert "LabSZ" in json.loads(raw.stdout)["top"][0]["template"]


@pytest.mark.corpora
def test_loghub_systems_are_told_apart_and_split_as_loghub_splits_them(corpora: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
    from loghub import SYSTEMS  # the formats Loghub publishes

    for system, settings in SYSTEMS.items():
        lines = list(read_lines(corpora / "loghub-2k" / system / f"{system}_2k.log"))
        found = detect(lines[:100])
        assert found.format is not None, system
        reference = compile_format(settings["format"])
        same = 0
        for line in lines:
            ours, theirs = found.format.split(line), reference.split(line)
            if ours is not None and theirs is not None:
                same += ours["Content"].strip() == theirs["Content"].strip()
        # Apache's "[client ...]" is a header of its error log: split off here, kept by Loghub.
        assert same / len(lines) >= (0.98 if system == "Apache" else 0.995), system


def test_json_formats_can_be_named(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text(
        "\n".join(json.dumps({"msg": f"user {n} logged in", "level": "info"}) for n in range(3))
        + "\n",
        encoding="utf-8",
    )
    structured = tmp_path / "s.csv"
    result = parse_file(log, TemplateMiner(), log_format="json-lines", structured=structured)
    assert result.report.parsed == 3
    rows = list(csv.DictReader(structured.open(encoding="utf-8")))
    assert rows[0]["level"] == "info" and rows[0]["EventTemplate"] == "user <*> logged in"
