"""``sentier metrics``: find anomalies in metric files (Prometheus text or CSV)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from sentier.cli._common import console, err_console, fail, print_json

app = typer.Typer(help="Metrics: streaming anomaly detection.", no_args_is_help=True)


class MetricsFormat(StrEnum):
    auto = "auto"
    prom = "prom"
    csv = "csv"


@app.command()
def detect(
    files: Annotated[list[Path], typer.Argument(help="Prometheus text or CSV files, in order.")],
    fmt: Annotated[MetricsFormat, typer.Option("--format", help="Input format.")] = (
        MetricsFormat.auto
    ),
    threshold: Annotated[
        float | None,
        typer.Option(help="Report every point scoring at least this (default: alarms only)."),
    ] = None,
    settings: Annotated[
        Path | None, typer.Option(help="Detector settings (YAML) overriding the defaults.")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Score every series of FILES point by point and list the anomalies found."""
    from sentier.aiops import AIOpsError
    from sentier.aiops.metrics import DetectorSettings, parse_text, scan_samples

    detector_settings = None
    if settings is not None:
        try:
            data = yaml.safe_load(settings.read_text(encoding="utf-8")) or {}
            detector_settings = DetectorSettings.from_dict(data)
        except (OSError, yaml.YAMLError, AIOpsError) as error:
            fail(f"{settings}: {error}")
    samples = []
    reports = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
            found, report = parse_text(
                text, str(path), None if fmt is MetricsFormat.auto else fmt.value
            )
        except OSError as error:
            fail(f"{path}: {error}")
        except AIOpsError as error:
            fail(str(error))
        samples.extend(found)
        reports.append(report)
    try:
        summaries = scan_samples(samples, settings=detector_settings, threshold=threshold)
    except AIOpsError as error:
        fail(str(error))
    anomalies = [a for s in summaries.values() for a in s.anomalies]
    if json_output:
        print_json(
            {
                "files": [r.as_dict() for r in reports],
                "series": {k: s.points for k, s in summaries.items()},
                "anomalies": [a.as_dict() for a in anomalies],
            }
        )
        return
    for report in reports:
        console.print(
            f"{report.source}: {report.samples} samples, {report.malformed} malformed lines"
        )
        for example in report.examples:
            err_console.print(f"[yellow]malformed[/] {example}", highlight=False)
    table = Table(title=f"{len(anomalies)} anomalies in {len(summaries)} series")
    for column in ("series", "time", "value", "score", "why"):
        table.add_column(column)
    for anomaly in anomalies:
        table.add_row(
            anomaly.series,
            anomaly.timestamp.isoformat() if anomaly.timestamp else f"line {anomaly.line}",
            f"{anomaly.value:g}",
            f"{anomaly.score:.3f}",
            anomaly.reason,
        )
    console.print(table)
