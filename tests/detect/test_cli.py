"""``sentier detect`` as an operator runs it: stream a log file, store its records and hunt
them as SQL (same detections), record them as alerts, suppress with an audit trail, poll."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from sentier.cli import app
from sentier.store import get_engine, session_scope
from sentier.store.models import AuditEvent

runner = CliRunner()
BREAK_IN = (
    "reverse mapping checking getaddrinfo for x.example [203.0.113.{n}] failed - "
    "POSSIBLE BREAK-IN ATTEMPT!"
)


def _log(tmp_path: Path) -> Path:
    day = datetime.now(UTC) - timedelta(days=1)  # stored records are kept for 30 days
    lines = [
        f"{day:%b} {day.day:2d} 10:00:{n:02d} web-1 sshd[9]: {BREAK_IN.format(n=n)}"
        for n in range(3)
    ]
    lines.append(f"{day:%b} {day.day:2d} 10:01:00 web-1 sshd[9]: Connection closed by 10.0.0.1")
    path = tmp_path / "auth.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def _json(*args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["detect", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_run_store_and_hunt_find_the_same_then_record_suppress_and_poll(
    tmp_path: Path, isolated_settings: Path
) -> None:
    log = _log(tmp_path)
    year = str((datetime.now(UTC) - timedelta(days=1)).year)
    streamed = _json("run", "--year", year, "--store", str(log))
    assert streamed["records"] == 4 and streamed["stored"]["stored"] == 4
    assert [d["origin"] for d in streamed["detections"]] == [f"{log}:{n}" for n in (1, 2, 3)]
    hunted = _json("hunt", "--since", "3d")
    assert sorted(d["origin"] for d in hunted["detections"]) == sorted(
        d["origin"] for d in streamed["detections"]
    )
    later = _json("hunt", "--since", datetime.now(UTC).isoformat())
    assert (later["records"], later["detections"]) == (0, [])
    recorded = _json("run", "--year", year, "--record", str(log))["recorded"]
    assert (recorded["new"], recorded["alerts"]) == (3, 3)
    again = _json("run", "--year", year, "--record", str(log))["recorded"]
    assert (again["new"], again["already_known"]) == (0, 3)

    suppressed = runner.invoke(
        app,
        [
            "detect",
            "suppress",
            "add",
            "*",
            "--reason",
            "lab scanner",
            "--expires",
            "2d",
            "--by",
            "ana",
        ],
    )
    assert suppressed.exit_code == 0, suppressed.output
    assert json.loads(suppressed.stdout)["reason"] == "lab scanner"
    unknown = runner.invoke(
        app, ["detect", "suppress", "add", "*", "--reason", "x", "--entity", "component:x/none"]
    )
    assert unknown.exit_code == 2 and "no catalog entity component:x/none" in unknown.output
    with session_scope(get_engine()) as session:
        audited = session.execute(
            select(AuditEvent.action, AuditEvent.details).where(
                AuditEvent.action == "detect.suppress"
            )
        ).all()
    assert len(audited) == 1 and audited[0][1]["judged_by"] == "ana"

    polled = _json("poll")
    assert set(polled) == {"inbound", "audit", "outbox"}
    assert polled["audit"]["records"] >= 1  # the suppression's audit entry was read


def test_run_refuses_a_missing_file_with_its_name(tmp_path: Path, isolated_settings: Path) -> None:
    result = runner.invoke(app, ["detect", "run", str(tmp_path / "nope.log")])
    assert result.exit_code == 2 and "nope.log" in result.output
