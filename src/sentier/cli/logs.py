"""``sentier logs``: mine templates from log files (Loghub-style structured output)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sentier.cli._common import console, err_console, fail, open_store, print_json

app = typer.Typer(help="Logs: streaming template mining.", no_args_is_help=True)


@app.command()
def parse(
    files: Annotated[list[Path], typer.Argument(help="Log files, read as one stream.")],
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help=(
                "Header format, e.g. '<Date> <Time> <Level> <Component>: <Content>', or the "
                "name of a known one (syslog-rfc3164, json-lines...; see `sentier logs "
                "formats`), or 'none' (whole lines). Default: detected from the first lines."
            ),
        ),
    ] = None,
    templates: Annotated[
        Path | None, typer.Option(help="Write EventId,EventTemplate,Occurrences here.")
    ] = None,
    structured: Annotated[
        Path | None,
        typer.Option(help="Write one row per line: LineId, header fields, Content, EventId..."),
    ] = None,
    settings: Annotated[
        Path | None, typer.Option(help="Per-source settings (YAML): similarity, extra_masks...")
    ] = None,
    state: Annotated[
        str | None,
        typer.Option(help="Name of a miner state in the store: reloaded first, saved after."),
    ] = None,
    top: Annotated[int, typer.Option(help="Show this many templates, most frequent first.")] = 20,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Mine templates from FILES; malformed lines are counted and shown, never fatal."""
    from sentier.aiops import AIOpsError
    from sentier.aiops.logs import TemplateMiner, load_miner, load_settings, parse_file, save_miner

    if structured is not None and len(files) > 1:
        fail("--structured takes one input file")
    try:
        miner_settings = load_settings(settings) if settings else None
    except AIOpsError as error:
        fail(str(error))
    engine = open_store() if state else None
    if engine is not None and state is not None:
        from sentier.store import session_scope

        with session_scope(engine) as session:
            try:
                miner = load_miner(session, state, miner_settings)
            except AIOpsError as error:
                fail(f"miner state {state}: {error}")
    else:
        miner = TemplateMiner(miner_settings)
    reports = []
    for path in files:
        if not path.is_file():
            fail(f"{path}: no such file")
        try:
            result = parse_file(
                path, miner, log_format=log_format, structured=structured, templates=None
            )
        except AIOpsError as error:
            fail(str(error))
        reports.append(result.report)
    if templates is not None:
        from sentier.aiops.logs import write_templates

        write_templates(templates, miner)
    if engine is not None and state is not None:
        from sentier.store import session_scope

        with session_scope(engine) as session:
            save_miner(session, state, miner)
    ranked = sorted(miner.templates(), key=lambda t: (-t.count, t.id))
    if json_output:
        print_json(
            {
                "files": [r.as_dict() for r in reports],
                "templates": len(ranked),
                "top": [{"id": t.id, "template": t.text, "count": t.count} for t in ranked[:top]],
            }
        )
        return
    for report in reports:
        console.print(
            f"{report.source}: {report.lines} lines, {report.parsed} parsed, "
            f"{report.malformed} malformed"
        )
        if report.headers is not None:
            found = report.headers
            seen = f" ({found.matched} of the first {found.sampled} lines)" if found.sampled else ""
            console.print(f"  headers: {found.title}{seen}", highlight=False)
        for example in report.examples:
            err_console.print(f"[yellow]malformed[/] {example}", highlight=False)
    table = Table(title=f"{len(ranked)} templates")
    table.add_column("id", justify="right")
    table.add_column("count", justify="right")
    table.add_column("template")
    for template in ranked[:top]:
        table.add_row(f"E{template.id}", str(template.count), template.text)
    console.print(table)


@app.command("formats")
def formats(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The header formats `logs parse` recognises by itself (or takes by name)."""
    from sentier.aiops.logs.detect import JournalExport, JsonLines, catalogue

    rows = [
        {"name": f.name, "title": f.title, "example": f.matches[0]} for f in catalogue().formats
    ]
    rows += [
        {"name": JsonLines.name, "title": JsonLines.title, "example": '{"msg": "started"}'},
        {"name": JournalExport.name, "title": JournalExport.title, "example": "MESSAGE=started"},
    ]
    if json_output:
        print_json(rows)
        return
    table = Table(title="header formats")
    table.add_column("name")
    table.add_column("what")
    for row in rows:
        table.add_row(row["name"], row["title"])
    console.print(table)


@app.command("templates")
def templates_(
    state: Annotated[str, typer.Argument(help="Name of a miner state in the store.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the templates a stored miner state holds."""
    from sentier.aiops.logs import list_miners, load_miner
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        known = {str(m["name"]) for m in list_miners(session)}
        if state not in known:
            fail(f"no miner state {state!r} (known: {', '.join(sorted(known)) or 'none'})")
        miner = load_miner(session, state)
    ranked = sorted(miner.templates(), key=lambda t: (-t.count, t.id))
    if json_output:
        print_json([{"id": t.id, "template": t.text, "count": t.count} for t in ranked])
        return
    table = Table(title=f"{state}: {len(ranked)} templates, {miner.lines} lines")
    table.add_column("id", justify="right")
    table.add_column("count", justify="right")
    table.add_column("template")
    for template in ranked:
        table.add_row(f"E{template.id}", str(template.count), template.text)
    console.print(table)
