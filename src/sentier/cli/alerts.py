"""``sentier alerts`` and ``sentier incidents``: ingest alerts, see and acknowledge incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentier.cli._common import console, err_console, fail, open_store, print_json

app = typer.Typer(
    help="Alerts: normalise, deduplicate, correlate into incidents.", no_args_is_help=True
)
incidents_app = typer.Typer(
    help="Incidents: correlated alerts with their likely root cause.", no_args_is_help=True
)


@app.command()
def ingest(
    files: Annotated[
        list[Path],
        typer.Argument(help="JSON or JSON Lines: Alertmanager webhooks, CloudEvents, generic."),
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(help="YAML: where our fields live in generic JSON (name, status, ...)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Read alert files, correlate them into incidents and store everything (idempotent)."""
    from sentier.aiops import AIOpsError
    from sentier.aiops.alerts import GenericMapping, ingest_alerts, normalise_text
    from sentier.store import session_scope

    generic = None
    if mapping is not None:
        try:
            generic = GenericMapping.load(mapping)
        except AIOpsError as error:
            fail(str(error))
    alerts = []
    problems = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            fail(f"{path}: {error}")
        found = normalise_text(text, str(path), generic)
        alerts.extend(found.alerts)
        problems.extend(found.problems)
    engine = open_store()
    with session_scope(engine) as session:
        result = ingest_alerts(session, alerts)
    report = {
        **result.as_dict(),
        "malformed": len(problems),
        "problems": [str(p) for p in problems[:50]],
    }
    if json_output:
        print_json(report)
        return
    for problem in problems[:50]:
        err_console.print(f"[yellow]malformed[/] {problem}", highlight=False)
    if len(problems) > 50:
        err_console.print(f"… and {len(problems) - 50} more")
    console.print(
        f"{report['received']} notifications: {report['new_alerts']} new alerts, "
        f"{report['duplicates']} duplicates, {report['flaps']} flaps, "
        f"{report['resolutions']} resolutions, {report['malformed']} malformed, "
        f"{report['alerts_without_catalog_entity']} without a catalog entity"
    )
    console.print(
        f"incidents: {len(result.opened)} opened, {len(result.updated)} updated, "
        f"{len(result.resolved)} resolved"
    )


@app.command()
def consume(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep taking new messages as they arrive (Ctrl-C).")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, max=3600, help="Seconds between polls with --follow.")
    ] = 2.0,
    batch: Annotated[int, typer.Option(min=1, max=1000, help="Messages per transaction.")] = 500,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Correlate the alerts the inbound hooks stored (Alertmanager, CloudEvents) into incidents.

    Each batch is one transaction: incidents are updated and the messages marked consumed
    together, so running it again (or beside ``sentier serve``, which does the same in the
    background) never counts a notification twice.
    """
    import time

    from sentier.aiops.alerts import ConsumeResult, consume_all

    engine = open_store()

    def report(result: ConsumeResult) -> None:
        if json_output:
            print_json(result.as_dict())
            return
        for problem in result.problems[:50]:
            err_console.print(f"[yellow]malformed[/] {problem}", highlight=False)
        data = result.as_dict()
        console.print(
            f"{data['messages']} messages ({data['ignored']} not alerts): "
            f"{data['new_alerts']} new alerts, {data['duplicates']} duplicates, "
            f"{data['flaps']} flaps, {data['resolutions']} resolutions, "
            f"{data['malformed']} malformed; incidents: {len(data['incidents_opened'])} opened, "
            f"{len(data['incidents_updated'])} updated, {len(data['incidents_resolved'])} resolved"
        )

    result = consume_all(engine, batch=batch)
    if not follow:
        report(result)
        return
    if result.messages:
        report(result)
    try:
        while True:
            time.sleep(interval)
            result = consume_all(engine, batch=batch)
            if result.messages:
                report(result)
    except KeyboardInterrupt:
        return


@incidents_app.command("list")
def list_(
    status: Annotated[
        list[str] | None,
        typer.Option(help="open, acknowledged, resolved or merged (repeatable)."),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Incidents, newest first."""
    from sentier.aiops.alerts import list_incidents
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        items = list_incidents(session, statuses=status or [], limit=limit)
    if json_output:
        print_json(items)
        return
    table = Table(title=f"{len(items)} incidents")
    for column in ("key", "status", "severity", "opened", "alerts", "root cause", "title"):
        table.add_column(column)
    for item in items:
        table.add_row(
            item["key"][:8],
            item["status"],
            item["severity"],
            (item["opened_at"] or "")[:19],
            str(item["alerts"]),
            item["root_cause"] or "",
            item["title"],
        )
    console.print(table)


@incidents_app.command()
def show(
    key: Annotated[str, typer.Argument(help="Incident key (or its first characters).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One incident: likely root causes with reasons, alerts, timeline, affected graph."""
    from sentier.aiops import AIOpsError
    from sentier.aiops.alerts import incident_detail
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        try:
            detail = incident_detail(session, key)
        except AIOpsError as error:
            fail(str(error))
    if json_output:
        print_json(detail)
        return
    console.print(f"[bold]{detail['title']}[/]  ({detail['key']})")
    console.print(
        f"status {detail['status']}, severity {detail['severity']}, opened {detail['opened_at']}"
        + (f", owner {detail['owner']}" if detail["owner"] else "")
    )
    causes = Table(title="likely root cause")
    causes.add_column("#", justify="right")
    causes.add_column("entity")
    causes.add_column("score", justify="right")
    causes.add_column("why")
    for index, cause in enumerate(detail["root_causes"], start=1):
        causes.add_row(
            str(index), cause["ref"], f"{cause['score']:.2f}", "; ".join(cause["reasons"])
        )
    console.print(causes)
    alerts = Table(title=f"{len(detail['alerts'])} alerts")
    for column in ("started", "status", "severity", "alert", "entity", "dup", "flaps"):
        alerts.add_column(column)
    for alert in detail["alerts"]:
        alerts.add_row(
            (alert["starts_at"] or "")[:19],
            alert["status"],
            alert["severity"],
            alert["name"],
            alert["entity"] or f"{alert['unresolved_entity']} (not in catalog)",
            str(alert["duplicates"]),
            str(alert["flaps"]),
        )
    console.print(alerts)
    console.print("[bold]timeline[/]")
    for entry in detail["timeline"]:
        console.print(f"  {(entry['at'] or '')[:19]}  {entry['kind']:<14} {entry['message']}")
    if detail["graph"]["edges"]:
        console.print("[bold]affected dependencies[/] (depends on)")
        for edge in detail["graph"]["edges"]:
            console.print(f"  {edge['source']} -> {edge['target']}")


@incidents_app.command()
def ack(
    key: Annotated[str, typer.Argument(help="Incident key (or its first characters).")],
    by: Annotated[str | None, typer.Option(help="Who is on it.")] = None,
) -> None:
    """Acknowledge an open incident."""
    from sentier.aiops import AIOpsError
    from sentier.aiops.alerts import acknowledge
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        try:
            data = acknowledge(session, key, by)
        except AIOpsError as error:
            fail(str(error))
    console.print(f"incident {data['key'][:8]} acknowledged")
