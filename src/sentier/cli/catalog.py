"""``sentier catalog``: ingest, validate, list, show and graph the software catalog."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from sentier.cli._common import console, err_console, fail, open_store, print_json, print_yaml

app = typer.Typer(
    help="The software catalog: Backstage descriptors in, owners for everything.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class GraphFormat(StrEnum):
    dot = "dot"
    json = "json"


def _print_problems(problems: list, limit: int = 200) -> None:  # type: ignore[type-arg]
    for problem in problems[:limit]:
        colour = "red" if problem.severity == "error" else "yellow"
        err_console.print(
            f"[{colour}]{problem.severity}[/] {problem}", highlight=False, soft_wrap=True
        )
    if len(problems) > limit:
        err_console.print(f"… and {len(problems) - limit} more")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories; each is one source.")],
    warnings: Annotated[
        bool, typer.Option("--warnings/--no-warnings", help="Show warnings.")
    ] = True,
) -> None:
    """Reconcile the catalog with descriptor files: add, update and remove entities.

    Directories are walked for catalog-info.yaml and *.catalog.yaml; Location entities are
    followed. Re-running is cheap: unchanged files are skipped by hash.
    """
    from sentier.catalog import Problem, SourceOverlap, dangling_relations, ingest_source
    from sentier.store import session_scope

    engine = open_store()
    reports = []
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        for path in paths:
            task = progress.add_task(f"ingesting {path}", total=None)

            def advance(done: int, total: int, task: TaskID = task) -> None:
                progress.update(task, completed=done, total=total)

            try:
                with session_scope(engine) as session:
                    report = ingest_source(session, [path], progress=advance, check_dangling=False)
            except SourceOverlap as overlap:
                fail(f"{path}: not ingested: {overlap}")
            except Exception as error:  # noqa: BLE001 - rolled back, reported, recorded
                _record_failure(engine, str(path.resolve()), error)
                fail(f"ingestion of {path} failed and was rolled back: {error}")
            reports.append(report)
            if report.source != str(path.resolve()):
                err_console.print(f"{path} is the catalog source {report.source}: refreshed it")
    # Dangling relations are judged once every source of this run is in.
    with session_scope(engine) as session:
        from sentier.catalog.ingest import source_id_of

        for report in reports:
            source_id = source_id_of(session, report.source)
            for item in dangling_relations(session, source_id=source_id):
                report.dangling += 1
                message = f"{item.type} {item.target_ref}: no such entity (dangling relation)"
                report.problems.append(
                    Problem(
                        "warning",
                        message,
                        file=item.file,
                        line=item.line,
                        field=item.field,
                        entity_ref=item.source_ref,
                        code="dangling",
                    )
                )

    table = Table(title="catalog ingestion")
    for column in (
        "source",
        "files",
        "parsed",
        "added",
        "updated",
        "removed",
        "unchanged",
        "errors",
        "warnings",
    ):
        table.add_column(column, justify="left" if column == "source" else "right")
    for report in reports:
        s = report.summary()
        table.add_row(
            report.source,
            *(
                str(s[k])
                for k in (
                    "files",
                    "files_parsed",
                    "added",
                    "updated",
                    "removed",
                    "unchanged",
                    "errors",
                    "warnings",
                )
            ),
        )
    console.print(table)
    problems = [p for r in reports for p in r.problems if warnings or p.severity == "error"]
    _print_problems(problems)
    if any(not r.ok for r in reports):
        raise typer.Exit(1)


def _record_failure(engine, source: str, error: Exception) -> None:  # type: ignore[no-untyped-def]
    from sentier import events
    from sentier.store import session_scope

    with session_scope(engine) as session:
        events.record(
            session,
            events.CATALOG_INGESTION_FAILED,
            f"source:{source}",
            {"source": source, "errors": 1, "first_errors": [str(error)]},
        )


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories to check.")],
) -> None:
    """Check descriptors against Backstage's rules without writing anything."""
    from sentier.catalog.check import check_paths

    result = check_paths(paths)
    _print_problems(result.problems)
    errors = len(result.errors)
    console.print(
        f"{result.files} files, {result.entities} valid entities, "
        f"{errors} errors, {len(result.problems) - errors} warnings"
    )
    if errors:
        raise typer.Exit(1)


@app.command("list")
def list_(
    kind: Annotated[
        list[str] | None, typer.Option("--kind", "-k", help="Kind (repeatable).")
    ] = None,
    type_: Annotated[list[str] | None, typer.Option("--type", "-t", help="spec.type.")] = None,
    lifecycle: Annotated[list[str] | None, typer.Option(help="spec.lifecycle.")] = None,
    owner: Annotated[
        list[str] | None, typer.Option(help="Owner reference (group by default).")
    ] = None,
    system: Annotated[list[str] | None, typer.Option(help="System reference.")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Tag (all must match).")] = None,
    label: Annotated[list[str] | None, typer.Option(help="Label key or key=value.")] = None,
    annotation: Annotated[
        list[str] | None, typer.Option(help="Annotation key or key=value.")
    ] = None,
    namespace: Annotated[list[str] | None, typer.Option(help="Namespace.")] = None,
    search: Annotated[str | None, typer.Option("--search", "-q", help="Full text.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many entities.")] = 1000,
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """List entities, filtered; json and yaml print whole entities in Backstage's shape."""
    from sentier.catalog import EntityFilter, as_backstage, list_entities, relations_for
    from sentier.store import session_scope

    flt = EntityFilter.of(
        kind=kind,
        type=type_,
        lifecycle=lifecycle,
        owner=owner,
        system=system,
        tag=tag,
        label=label,
        annotation=annotation,
        namespace=namespace,
        text=search,
    )
    with session_scope(open_store()) as session:
        page = list_entities(session, flt, limit=limit, with_total=True)
        if format is OutputFormat.table:
            table = Table(title=f"{len(page.items)} of {page.total} entities")
            for column in ("ref", "type", "lifecycle", "owner", "system", "title"):
                table.add_column(column)
            for e in page.items:
                table.add_row(
                    e.ref,
                    e.spec_type or "",
                    e.lifecycle or "",
                    e.owner_ref or "",
                    e.system_ref or "",
                    e.title or "",
                )
            console.print(table)
            return
        relations = relations_for(session, [e.ref for e in page.items])
        items = [as_backstage(e, relations.get(e.ref, [])) for e in page.items]
    print_json(items) if format is OutputFormat.json else print_yaml(items)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="Entity reference, e.g. component:default/payments.")],
    format: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.yaml,
) -> None:
    """Show one entity with its relations."""
    from sentier.catalog import as_backstage, find_entity, relations_of
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        entity = find_entity(session, ref)
        if entity is None:
            fail(f"no entity {ref}")
        data = as_backstage(entity, relations_of(session, entity.ref))
    if format is OutputFormat.json:
        print_json(data)
    elif format is OutputFormat.yaml:
        print_yaml(data)
    else:
        table = Table(title=entity.ref, show_header=False)
        table.add_column("field", style="bold")
        table.add_column("value")
        meta = data["metadata"]
        for label, value in (
            ("title", meta.get("title")),
            ("description", meta.get("description")),
            ("type", entity.spec_type),
            ("lifecycle", entity.lifecycle),
            ("owner", entity.owner_ref),
            ("system", entity.system_ref),
            ("tags", ", ".join(meta.get("tags") or [])),
        ):
            if value:
                table.add_row(label, str(value))
        for relation in data["relations"]:
            table.add_row(relation["type"], relation["targetRef"])
        console.print(table)


@app.command()
def graph(
    ref: Annotated[
        str, typer.Argument(help="Entity reference; for a system, its dependency graph.")
    ],
    format: Annotated[GraphFormat, typer.Option("--format", "-f")] = GraphFormat.dot,
    depth: Annotated[int, typer.Option(help="Hops from a non-system entity.")] = 1,
) -> None:
    """Print the relations around an entity (a system's dependency graph) as DOT or JSON."""
    from sentier.catalog import entity_graph, find_entity, system_graph
    from sentier.catalog.render import graph_to_dot
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        entity = find_entity(session, ref)
        if entity is None:
            fail(f"no entity {ref}")
        result = (
            system_graph(session, entity.ref)
            if entity.kind == "System"
            else entity_graph(session, entity.ref, depth=depth)
        )
    if format is GraphFormat.json:
        print_json(result.as_dict())
    else:
        typer.echo(graph_to_dot(result, title=entity.ref))
