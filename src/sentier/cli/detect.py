"""``sentier detect``: run Sigma rules over logs (streaming), hunt over stored records (SQL),
browse and test rules, manage suppressions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sentier import auth
from sentier.cli._common import console, err_console, fail, open_store, print_json, print_yaml
from sentier.cli.token import CLI_ACTOR

app = typer.Typer(help="Detection rules (Sigma): run, hunt, test.", no_args_is_help=True)
rules_app = typer.Typer(help="Detection rules: list, show, test.", no_args_is_help=True)
suppress_app = typer.Typer(help="Suppressions of false positives.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
app.add_typer(suppress_app, name="suppress")

RulesOption = Annotated[
    list[Path] | None, typer.Option("--rules", help="Rule directory or file (repeatable).")
]
ShippedOption = Annotated[
    bool, typer.Option("--shipped/--no-shipped", help="Include sentier's own rules.")
]


def _ruleset(rules: list[Path] | None, shipped: bool, *, quiet: bool = False) -> Any:
    from sentier.detect import DetectError, load_rules

    try:
        loaded = load_rules(rules or [], shipped=shipped)
    except DetectError as error:
        fail(str(error), 2)
    if not quiet:
        for problem in loaded.refused[:50]:
            err_console.print(f"[yellow]refused[/] {problem}", highlight=False)
        if len(loaded.refused) > 50:
            err_console.print(f"… and {len(loaded.refused) - 50} more refused")
    if not len(loaded):
        fail("no rule loaded", 2)
    return loaded


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``7d``, ``12h``, ``30m`` ago, or an ISO date/time."""
    now = now or datetime.now(UTC)
    found = re.fullmatch(r"(\d{1,6})([smhdw])", text.strip())
    if found:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return now - timedelta(**{unit[found[2]]: int(found[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        fail(f"--since: expected 7d, 12h, 30m or an ISO date, got {text!r}", 2)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _show(detections: list[Any], json_output: bool, extra: dict[str, Any]) -> None:
    # Matches of rules that only feed a correlation are counted, not listed.
    rows = [d.as_dict() for d in detections if d.generate]
    extra = {**extra, "matches_feeding_correlations": sum(1 for d in detections if not d.generate)}
    if json_output:
        print_json({**extra, "detections": rows})
        return
    table = Table(title=f"{len(rows)} detections")
    for column in ("at", "level", "rule", "origin", "group / message"):
        table.add_column(column)
    for row in rows[:500]:
        detail = (
            ", ".join(f"{k}={v}" for k, v in row["group"].items()) + f" (count {row['count']})"
            if row["kind"] == "correlation"
            else (row["message"] or "")[:100]
        )
        table.add_row(row["at"], row["level"] or "", row["title"], row["origin"], detail)
    console.print(table)
    for key, value in extra.items():
        console.print(f"{key}: {value}")


def _record(detections: list[Any], source: str) -> dict[str, Any]:
    from sentier.detect.store import record_detections
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        return record_detections(session, detections, source=source)


@app.command()
def run(
    logs: Annotated[list[Path], typer.Argument(help="Log files: syslog, access logs, JSON lines.")],
    rules: RulesOption = None,
    shipped: ShippedOption = True,
    year: Annotated[
        int | None, typer.Option(help="Year of syslog dates (they have none).", min=1970, max=9000)
    ] = None,
    logsource: Annotated[
        str | None,
        typer.Option(help="Log source of every line, e.g. 'category=process_creation'."),
    ] = None,
    store: Annotated[
        bool, typer.Option("--store", help="Keep the parsed records for `detect hunt`.")
    ] = False,
    record: Annotated[
        bool,
        typer.Option("--record", help="Store the detections and raise them as alerts."),
    ] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Stream LOGS through the rules (each compiled once) and list the detections."""
    from sentier.detect import DetectError, StreamEngine
    from sentier.detect.records import logsource_of
    from sentier.detect.sources import read_log_files

    ruleset = _ruleset(rules, shipped)
    try:
        given = logsource_of(logsource) if logsource else None
        records = read_log_files(logs, year=year, logsource=given)
    except DetectError as error:
        fail(str(error), 2)
    engine = StreamEngine(ruleset)
    detections = engine.run(records)
    extra: dict[str, Any] = {
        "rules": len(ruleset),
        "refused": len(ruleset.refused),
        "records": len(records),
    }
    if store:
        from sentier.detect.logstore import store_records

        stored = {"stored": 0, "days": 0, "dropped_days": 0}
        for path in logs:
            mine = [r for r in records if r.origin.rsplit(":", 1)[0].split("#")[0] == str(path)]
            result = store_records(mine, str(path.resolve()))
            stored = {k: stored[k] + result[k] for k in stored}
        extra["stored"] = stored
    if record:
        extra["recorded"] = _record(detections, "logs")
    _show(detections, json_output, extra)


@app.command()
def hunt(
    rules: RulesOption = None,
    shipped: ShippedOption = True,
    since: Annotated[str, typer.Option(help="From when: 7d, 12h, or an ISO date.")] = "7d",
    all_records: Annotated[
        bool, typer.Option("--all", help="Every stored record, whatever its time.")
    ] = False,
    record: Annotated[
        bool, typer.Option("--record", help="Store the detections and raise them as alerts.")
    ] = False,
    show_sql: Annotated[bool, typer.Option("--sql", help="Print each rule's SQL.")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the rules as DuckDB SQL over the stored log records (`detect run --store`)."""
    from sentier.detect import HuntEngine, rule_sql
    from sentier.detect.logstore import open_stored, stored_files

    ruleset = _ruleset(rules, shipped)
    if show_sql:
        for item in ruleset.rules:
            console.print(f"-- {item.id} {item.info.title}\n{rule_sql(item)};", highlight=False)
        return
    start = None if all_records else parse_since(since)
    engine = HuntEngine(ruleset)
    open_stored(engine.con, stored_files(since=start))
    result = engine.run(since=start)
    extra: dict[str, Any] = {
        "rules": len(ruleset),
        "records": result.records,
        "since": start.isoformat() if start else "all",
    }
    if record:
        extra["recorded"] = _record(result.detections, "hunt")
    _show(result.detections, json_output, extra)


@app.command()
def poll(
    rules: RulesOption = None,
    shipped: ShippedOption = True,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the rules once over what arrived since the last poll: inbound hook payloads
    (CloudEvents, CloudTrail, Alertmanager), the audit log, findings and incidents."""
    from sentier.detect.sources import poll as poll_once
    from sentier.store import session_scope

    ruleset = _ruleset(rules, shipped)
    with session_scope(open_store()) as session:
        report = poll_once(session, ruleset)
    if json_output:
        print_json(report)
        return
    if "skipped" in report:
        console.print(f"skipped: {report['skipped']}")
        return
    for name, counts in report.items():
        console.print(
            f"{name}: {counts['records']} records, {counts['detections']} detections, "
            f"{counts.get('new', 0)} new, {counts.get('alerts', 0)} alerts"
        )


# -- rules ------------------------------------------------------------------------------------


@rules_app.command("list")
def rules_list(
    rules: RulesOption = None,
    shipped: ShippedOption = True,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the rules with their level, log source and ATT&CK ids; refused ones on stderr."""
    ruleset = _ruleset(rules, shipped, quiet=json_output)
    summaries = ruleset.summaries()
    if json_output:
        print_json({"rules": summaries, "refused": [str(e) for e in ruleset.refused]})
        return
    table = Table(title=f"{len(summaries)} rules, {len(ruleset.refused)} refused")
    for column in ("id", "level", "kind", "logsource / correlation", "title"):
        table.add_column(column)
    for item in summaries:
        if item["kind"] == "rule":
            where = "/".join(v for v in item["logsource"].values() if v) or "any"
        else:
            where = f"{item['type']} {item['timespan_seconds']}s"
        table.add_row(item["id"], item["level"] or "", item["kind"], where, item["title"])
    console.print(table)


@rules_app.command("show")
def rules_show(
    rule_id: Annotated[str, typer.Argument(help="Rule id or name.")],
    rules: RulesOption = None,
    shipped: ShippedOption = True,
) -> None:
    """Show one rule: what it says, its log source, its SQL."""
    from sentier.detect import Rule, rule_sql

    ruleset = _ruleset(rules, shipped, quiet=True)
    found = ruleset.find(rule_id)
    if found is None:
        fail(f"no rule {rule_id}", 2)
    data = found.summary()
    if isinstance(found, Rule):
        data["sql"] = rule_sql(found)
    print_yaml(data)


@rules_app.command("test")
def rules_test(
    rules: RulesOption = None,
    shipped: ShippedOption = True,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run each rule file's samples (NAME.tests.yml) on both engines; exit 1 on a failure."""
    from sentier.detect import DetectError, run_rule_tests, shipped_rules_dir

    paths = ([shipped_rules_dir()] if shipped else []) + list(rules or [])
    if not paths:
        fail("nothing to test: give --rules or keep --shipped", 2)
    try:
        outcomes = run_rule_tests(paths)
    except DetectError as error:
        fail(str(error), 2)
    failed = [o for o in outcomes if not o.passed]
    if json_output:
        print_json([o.as_dict() for o in outcomes])
    else:
        for outcome in failed:
            err_console.print(f"[red]FAIL[/] {outcome.describe()}", highlight=False)
        console.print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


# -- suppressions -----------------------------------------------------------------------------


@suppress_app.command("add")
def suppress_add(
    rule_id: Annotated[str, typer.Argument(help="Rule id, or * for any rule.")],
    reason: Annotated[str, typer.Option(help="Why these detections are false positives.")],
    expires: Annotated[str, typer.Option(help="How long: 30d, 12h, or an ISO date.")] = "30d",
    entity: Annotated[str | None, typer.Option(help="Only on this entity reference.")] = None,
    field: Annotated[
        list[str] | None, typer.Option("--field", help="Only when FIELD=VALUE (repeatable).")
    ] = None,
    by: Annotated[str, typer.Option(help="Who judged it.")] = "cli",
) -> None:
    """Suppress a rule's detections (kept, not alerted) until the expiry."""
    from sentier.detect import DetectError
    from sentier.detect.store import add_suppression
    from sentier.store import session_scope

    now = datetime.now(UTC)
    found = re.fullmatch(r"(\d{1,6})([smhdw])", expires.strip())
    expires_at = (now - parse_since(expires, now)) + now if found else parse_since(expires, now)
    match: dict[str, str] = {}
    for item in field or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            fail(f"--field: expected FIELD=VALUE, got {item!r}", 2)
        match[key] = value
    with session_scope(open_store()) as session:
        try:
            created = add_suppression(
                session,
                rule_id=rule_id,
                reason=reason,
                expires_at=expires_at,
                created_by=by,
                entity_ref=entity,
                match=match,
                now=now,
            )
        except DetectError as error:
            fail(str(error), 2)
        auth.audit(
            session,
            actor=CLI_ACTOR,
            action="detect.suppress",
            outcome="ok",
            target=rule_id,
            details={
                "id": created["id"],
                "entity_ref": created["entity_ref"],
                "reason": created["reason"],
                "expires_at": created["expires_at"],
                "judged_by": by,
            },
        )
    print_json(created)


@suppress_app.command("list")
def suppress_list(
    active: Annotated[bool, typer.Option("--active", help="Only unexpired ones.")] = False,
) -> None:
    """List suppressions with their reason and expiry."""
    from sentier.detect.store import list_suppressions
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        print_json(list_suppressions(session, active_only=active))


@suppress_app.command("remove")
def suppress_remove(suppression_id: Annotated[int, typer.Argument()]) -> None:
    """Remove a suppression."""
    from sentier.detect import DetectError
    from sentier.detect.store import remove_suppression
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        try:
            remove_suppression(session, suppression_id)
        except DetectError as error:
            fail(str(error), 2)
        auth.audit(
            session,
            actor=CLI_ACTOR,
            action="detect.unsuppress",
            outcome="ok",
            target=str(suppression_id),
        )
    console.print(f"removed suppression {suppression_id}")
