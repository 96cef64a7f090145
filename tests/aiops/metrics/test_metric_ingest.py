from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from sentier.aiops.metrics import parse_text
from sentier.cli import app

PROM = """# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000
latency_seconds 0.25
broken{method="post" 1
rpc_duration_seconds{quantile="0.5"} NaNx
"""


def test_prometheus_text_with_malformed_lines_counted() -> None:
    samples, report = parse_text(PROM, "metrics.prom")
    assert [s.series for s in samples] == [
        'http_requests_total{code="200",method="post"}',
        'http_requests_total{code="400",method="post"}',
        "latency_seconds",
    ]
    assert samples[0].timestamp is not None
    assert samples[0].timestamp.year == 2014
    assert report.malformed == 2
    assert str(report.examples[0]).startswith("metrics.prom:6")
    assert "value" in str(report.examples[1])


def test_plain_and_labelled_csv() -> None:
    plain, _ = parse_text("timestamp,value\n2024-01-01T00:00:00Z,1.5\n1704067260,2\n", "cpu.csv")
    assert [(s.series, s.value) for s in plain] == [("cpu", 1.5), ("cpu", 2.0)]
    assert plain[1].timestamp is not None and plain[1].timestamp.minute == 1
    labelled, report = parse_text(
        "__name__,instance,timestamp,value\nup,a:9100,1704067200000,1\nup,b:9100,oops,1\n", "x.csv"
    )
    assert labelled[0].series == 'up{instance="a:9100"}'
    assert report.malformed == 1
    assert "timestamp" in str(report.examples[0])


def test_cli_detect_finds_the_spike(tmp_path: Path) -> None:
    rng = random.Random(5)
    rows = ["timestamp,value"]
    for i in range(1500):
        value = 50 + rng.gauss(0, 1) + (40 if i == 1200 else 0)
        rows.append(f"{1_700_000_000 + 60 * i},{value:.3f}")
    path = tmp_path / "latency.csv"
    path.write_text("\n".join(rows) + "\nnot,a,row\n")
    result = CliRunner().invoke(app, ["metrics", "detect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    lines = [a["line"] for a in data["anomalies"]]
    assert 1202 in lines and len(lines) <= 3  # beside the spike, at most a new record or two
    assert data["files"][0]["malformed"] == 1
    settings = tmp_path / "wide.yaml"
    settings.write_text("spatial_tolerance: 0.2\n")
    wide = CliRunner().invoke(
        app, ["metrics", "detect", str(path), "--json", "--settings", str(settings)]
    )
    assert [a["line"] for a in json.loads(wide.stdout)["anomalies"]] == [1202]
