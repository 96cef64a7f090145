"""Resource facts (instance types, measured utilisation) and ``sentier carbon`` from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from sentier.cli import app
from sentier.greenops import (
    GreenOpsError,
    load_resource_facts,
    read_metric_files,
    read_resource_csv,
    store_resource_facts,
)
from sentier.store import session_scope
from sentier.store.models import OutboxEvent
from tests.finops.finops_helpers import line, write_focus
from tests.greenops.conftest import FOCUS_COLUMNS

runner = CliRunner()
M5 = "$0.112 per On Demand Linux m5.large Instance Hour"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id,cpu_utilization\ni-1,0.5\n", "bad.csv:1: resource_id: missing column"),
        ("resource_id,owner\ni-1,a\n", "nothing to import"),
        ("resource_id,cpu_utilization\ni-1,0.5\ni-2,1.7\n", "bad.csv:3: cpu_utilization: '1.7'"),
        ("resource_id,cpu_percent\ni-1,abc\n", "bad.csv:2: cpu_percent: 'abc' is not a number"),
        ("resource_id,period,cpu_percent\ni-1,2024-13,50\n", "bad.csv:2: period"),
        ("resource_id,cpu_percent\ni-1,50\ni-1,60\n", "bad.csv:3: resource_id: i-1"),
    ],
)
def test_resource_csv_errors_name_file_line_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(GreenOpsError) as error:
        read_resource_csv(write(tmp_path / "bad.csv", text))
    assert message in str(error.value).replace(str(tmp_path) + "/", "")


def test_resource_csv_reads_fractions_percentages_periods(tmp_path: Path) -> None:
    facts = read_resource_csv(
        write(
            tmp_path / "r.csv",
            "resource_id,period,instance_type,cpu_percent\n"
            "i-1,,m5.large,35\ni-1,2024-09,,12.5%\ni-2,,c5.xlarge,\n",
        )
    )
    assert [(f.resource_id, f.period, f.instance_type, f.cpu_utilization) for f in facts] == [
        ("i-1", "", "m5.large", 0.35),
        ("i-1", "2024-09", None, 0.125),
        ("i-2", "", "c5.xlarge", None),
    ]


def test_metric_files_average_per_resource_and_month(tmp_path: Path) -> None:
    """Metric files as AIOps reads them: samples averaged per resource label and month."""
    prometheus = write(
        tmp_path / "cpu.prom",
        'cpu_utilization{resource_id="i-1"} 0.2 1725926400000\n'
        'cpu_utilization{resource_id="i-1"} 0.4 1725930000000\n'
        'cpu_utilization{resource_id="i-2"} 0.9 1725926400000\n'
        'memory_bytes{resource_id="i-1"} 12345 1725926400000\n'
        "this line is broken\n",
    )
    facts, problems = read_metric_files([prometheus], metric="cpu_utilization")
    averages = {(f.resource_id, f.period): (f.cpu_utilization, f.samples) for f in facts}
    assert averages[("i-1", "2024-09")] == (pytest.approx(0.3), 2)
    assert averages[("i-2", "2024-09")] == (pytest.approx(0.9), 1)
    assert len(problems) == 1
    csv_file = write(
        tmp_path / "cpu.csv",
        "timestamp,__name__,instance,value\n2024-09-10T00:00:00Z,cpu,vm-1,55\n"
        "2024-09-11T00:00:00Z,cpu,vm-1,65\n",
    )
    facts, _ = read_metric_files([csv_file], metric="cpu", label="instance", percent=True)
    assert [(f.resource_id, f.cpu_utilization) for f in facts] == [("vm-1", pytest.approx(0.6))]


def test_import_replaces_its_source_and_says_so(engine: Engine, tmp_path: Path) -> None:
    from sentier.greenops.resources import ResourceFact

    with session_scope(engine) as session:
        store_resource_facts(session, "inv", [ResourceFact("i-1", "", "m5.large", 0.3)])
        store_resource_facts(session, "metrics", [ResourceFact("i-1", "2024-09", None, 0.6)])
    with session_scope(engine) as session:
        summary = store_resource_facts(session, "inv", [ResourceFact("i-2", "", "c5.large")])
    assert summary["rows"] == 1 and summary["with_instance_type"] == 1
    with session_scope(engine) as session:
        facts = load_resource_facts(session)
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type == "io.sentier.greenops.resources.imported")
        ).all()
    assert facts.instance_types == {"i-2": "c5.large"}
    assert facts.utilization_of("i-1", "2024-09") == 0.6
    assert facts.utilization_of("i-1", "2024-10") is None
    assert len(events) == 3 and events[-1].data["source"] == "inv"


def test_carbon_cli_end_to_end(catalog: Engine, tmp_path: Path) -> None:
    bill = write_focus(
        tmp_path / "bill.csv",
        [
            line(ChargeDescription=M5, cost="0.112", tags={"team": "team-a"}, ResourceId="i-1"),
            line(ChargeDescription="EC2 usage", cost="0.2", ResourceId="i-2"),
        ],
        FOCUS_COLUMNS,
    )
    assert runner.invoke(app, ["cost", "ingest", str(bill)]).exit_code == 0
    result = runner.invoke(app, ["carbon", "report", "--by", "group", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["coverage"]["lines"]["not_estimated"] == 1
    assert data["not_estimated_reasons"][0]["reason"].startswith("usage hours without")
    inventory = write(
        tmp_path / "inv.csv", "resource_id,instance_type,cpu_percent\ni-2,m5.large,50\n"
    )
    result = runner.invoke(app, ["carbon", "resources", "import", str(inventory)])
    assert result.exit_code == 0 and "1 with an instance type" in result.output
    data = json.loads(runner.invoke(app, ["carbon", "report", "--format", "json"]).output)
    assert data["coverage"]["lines"]["not_estimated"] == 0
    lines = json.loads(runner.invoke(app, ["carbon", "lines", "--format", "json"]).output)
    assert len(lines) == 2
    result = runner.invoke(app, ["carbon", "explain", lines[0]["line_id"]])
    assert result.exit_code == 0 and "m5.large" in result.output and "Skylake" in result.output
    result = runner.invoke(app, ["carbon", "explain", "nope"])
    assert result.exit_code == 1 and "not a line id" in result.output
    result = runner.invoke(app, ["carbon", "summary", "--format", "json"])
    assert json.loads(result.output)["year"] == 2024
    result = runner.invoke(app, ["carbon", "report", "--by", "flavour"])
    assert result.exit_code == 1 and "unknown report dimension" in result.output
    bad = write(tmp_path / "bad.csv", "resource_id,cpu_utilization\ni-1,2\n")
    result = runner.invoke(app, ["carbon", "resources", "import", str(bad)])
    assert result.exit_code == 1 and "bad.csv:2: cpu_utilization" in result.output.replace("\n", "")


def test_estimate_command_json(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "carbon",
            "estimate",
            "--provider",
            "aws",
            "--instance-type",
            "m5.large",
            "--region",
            "eu-west-3",
            "--hours",
            "1",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert round(data["ccf"]["total_kg"], 5) == 0.00139
    assert data["ccf"]["coefficients"]["instance_type"] == "m5.large"
    result = runner.invoke(
        app, ["carbon", "estimate", "--provider", "ibm", "--instance-type", "x", "--region", "y"]
    )
    assert result.exit_code == 1 and "unknown provider" in result.output


def test_demo_machines_cover_the_demo_compute(tmp_path: Path) -> None:
    """Every service machine of the demo billing gets an instance type the model knows."""
    import csv
    import gzip

    from sentier.demo import generate_organisation
    from sentier.greenops import load_coefficients

    generate_organisation(tmp_path)
    facts = {f.resource_id: f for f in read_resource_csv(tmp_path / "greenops" / "resources.csv")}
    coefficients = load_coefficients()
    machines = set()
    for path in (tmp_path / "billing").rglob("*.csv.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["ResourceType"] == "instance":
                    machines.add((row["ProviderName"], row["ResourceId"]))
    assert machines
    for provider, resource in machines:
        fact = facts[resource]
        key = "aws" if provider == "AWS" else "gcp"
        assert coefficients.instance(key, fact.instance_type) is not None, fact
