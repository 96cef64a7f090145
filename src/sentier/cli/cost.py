"""``sentier cost``: ingest billing (FOCUS), show who spends what, steer with budgets.

Thin shell over ``sentier.finops``: parse options, call the domain, render its plain rows as a
table, CSV or JSON.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sentier.cli._billing import (
    Format,
    FormatOption,
    FromOption,
    PeriodOption,
    PlanOption,
    RulesOption,
    ToOption,
    billing_context,
    parse_day,
    plain,
    write_csv,
)
from sentier.cli._common import console, err_console, fail, open_store, print_json

app = typer.Typer(
    help="FinOps: FOCUS billing in, cost per team and service out, budgets and anomalies.",
    no_args_is_help=True,
)
budgets_app = typer.Typer(help="Monthly budgets per group or system.", no_args_is_help=True)
app.add_typer(budgets_app, name="budgets")


def _money(value: Any) -> str:
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01')):,}"


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


# -- ingest -----------------------------------------------------------------------------------


class ProviderFormat(StrEnum):
    focus = "focus"
    aws_cur2 = "aws-cur2"
    azure = "azure"
    gcp = "gcp"


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Billing files or directories of them.")],
    provider_format: Annotated[
        ProviderFormat, typer.Option("--provider-format", help="Format of the files.")
    ] = ProviderFormat.focus,
    currency: Annotated[
        str | None,
        typer.Option(help="Billing currency for files that do not say it (e.g. USD)."),
    ] = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Ingest billing exports; each billing period of an account replaces the stored one.

    A file with errors is quarantined (nothing of it lands) and its errors are listed with
    file, row and column; the other files land. Re-running is idempotent.
    """
    from sentier.finops import FinOpsError
    from sentier.finops import ingest as run
    from sentier.finops.tags import plan_or_default
    from sentier.tagging import TaggingError

    engine = open_store()
    try:
        plan = plan_or_default(tagging_plan)
        report = run(
            engine,
            paths,
            provider_format=provider_format.value,
            tagging_plan=plan,
            default_currency=currency,
        )
    except (FinOpsError, TaggingError) as error:
        fail(str(error))
    if format is Format.json:
        print_json(report.as_dict())
    else:
        table = Table(title=f"cost ingestion #{report.ingestion_id}: {report.status}")
        for column in ("file", "status", "FOCUS", "rows", "periods", "effective cost"):
            table.add_column(column, justify="right" if column in {"rows"} else "left")
        for item in report.files:
            totals = ", ".join(
                f"{_money(v['effective'])} {cur}" for cur, v in sorted(item.totals.items())
            )
            colour = {"landed": "green", "quarantined": "red", "held": "yellow"}[item.status]
            table.add_row(
                item.path,
                f"[{colour}]{item.status}[/]",
                item.version or "",
                f"{item.rows:,}",
                ", ".join(item.periods),
                totals,
            )
        console.print(table)
        for item in report.files:
            for problem in item.problems[:20]:
                colour = "red" if problem.severity == "error" else "yellow"
                err_console.print(f"[{colour}]{problem.severity}[/] {problem}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def ingestions(
    limit: Annotated[int, typer.Option(help="Most recent runs shown.")] = 20,
    format: FormatOption = Format.table,
) -> None:
    """Past ingestions and their files, quarantined ones with their errors."""
    from sentier.finops import ingestion_history
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        history = ingestion_history(session, limit=limit)
    if format is Format.json:
        print_json(plain(history))
        return
    table = Table(title="cost ingestions")
    for column in ("#", "when", "status", "file", "file status", "rows", "first problem"):
        table.add_column(column)
    for run in history:
        for item in run["files"]:
            errors = [p for p in item["problems"] if p["severity"] == "error"]
            table.add_row(
                str(run["id"]),
                str(run["started_at"])[:19],
                run["status"],
                item["path"],
                item["status"],
                f"{item['rows']:,}",
                _problem_text(errors[0]) if errors else "",
            )
    console.print(table)


def _problem_text(problem: dict[str, Any]) -> str:
    where = f"row {problem['row']}: " if problem.get("row") else ""
    column = f"{problem['column']}: " if problem.get("column") else ""
    return f"{where}{column}{problem['message']}"


# -- reports ----------------------------------------------------------------------------------


@app.command()
def report(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="group, system, component, service-category, service, region, sub-account, "
            "provider, charge-category, rule or tag:KEY.",
        ),
    ] = "group",
    period: PeriodOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Showback: effective cost per owner (child groups rolled up) or dimension, per month."""
    from sentier.finops import Scope, showback

    scope = Scope(period, parse_day(from_), parse_day(to, end=True))
    with billing_context(rules, tagging_plan, period) as ctx:
        result = showback(ctx.facts, ctx.snapshot, ctx.rules, by=by, scope=scope)
    if format is Format.json:
        print_json(plain(result))
        return
    periods = result["periods"]
    headers = [by, "currency", *periods, "total", "share", "MoM"]
    if by == "group":
        headers.insert(2, "direct")
    rows = []
    for row in result["rows"]:
        values = [row["key"], row["currency"]]
        if by == "group":
            values.append(row["direct"])
        values += [row["periods"][p] for p in periods]
        values += [row["total"], row["share"], row["change"]]
        rows.append(values)
    if format is Format.csv:
        write_csv(headers, rows)
        return
    table = Table(title=f"effective cost by {by}")
    for header in headers:
        table.add_column(header, justify="left" if header in {by, "currency"} else "right")
    for values in rows:
        cells = []
        for header, value in zip(headers, values, strict=True):
            if header == "share":
                cells.append("" if value is None else f"{value * 100:.1f}%")
            elif header == "MoM":
                cells.append(_percent(value))
            elif isinstance(value, Decimal):
                cells.append(_money(value))
            else:
                cells.append(str(value))
        table.add_row(*cells)
    console.print(table)
    _print_reconciliation(result["reconciliation"], by_date=bool(from_ or to))


def _print_reconciliation(items: list[dict[str, Any]], *, by_date: bool) -> None:
    for item in items:
        if by_date:
            console.print(
                f"{item['currency']}: allocated {_money(item['allocated'])}, "
                f"unallocated {_money(item['unallocated'])} (date range: not reconciled "
                "against whole billing periods)"
            )
            continue
        status = "[green]balanced[/]" if item["balanced"] else "[red]DOES NOT BALANCE[/]"
        console.print(
            f"{item['currency']}: input {_money(item['input_effective'])} = allocated "
            f"{_money(item['allocated'])} + unallocated {_money(item['unallocated'])} "
            f"{status}; billed {_money(item['billed'])}"
        )


@app.command()
def tags(
    by: Annotated[
        str, typer.Option("--by", help="sub-account, group, service, ... or tag:KEY.")
    ] = "sub-account",
    worst: Annotated[int, typer.Option(help="Offending resources listed.")] = 10,
    period: PeriodOption = None,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Tag coverage: share of effective cost fully tagged per the plan, worst offenders."""
    from sentier.finops import Scope, tag_coverage

    with billing_context(rules, tagging_plan, period) as ctx:
        result = tag_coverage(
            ctx.facts, ctx.snapshot, ctx.rules, by=by, scope=Scope(period), worst=worst
        )
    if format is Format.json:
        print_json(plain(result))
        return
    headers = [by, "currency", "tagged", "untagged", "total", "coverage"]
    rows = [
        [r["key"], r["currency"], r["tagged"], r["untagged"], r["total"], r["coverage"]]
        for r in result["rows"]
    ]
    if format is Format.csv:
        write_csv(headers, rows)
        return
    table = Table(title=f"tag coverage by {by} (required: {', '.join(result['required_keys'])})")
    for header in headers:
        table.add_column(header, justify="left" if header in {by, "currency"} else "right")
    for row in rows:
        table.add_row(
            str(row[0]),
            str(row[1]),
            _money(row[2]),
            _money(row[3]),
            _money(row[4]),
            "" if row[5] is None else f"{row[5] * 100:.1f}%",
        )
    console.print(table)
    for item in result["overall"]:
        console.print(
            f"overall {item['currency']}: {item['coverage'] * 100:.1f}% of "
            f"{_money(item['total'])} fully tagged"
            if item["coverage"] is not None
            else f"overall {item['currency']}: no cost"
        )
    offenders = Table(title="worst offenders")
    for header in ("resource", "sub-account", "owner", "what is wrong", "cost"):
        offenders.add_column(header, justify="right" if header == "cost" else "left")
    for item in result["offenders"]:
        offenders.add_row(
            item["resource_id"],
            str(item["sub_account"] or ""),
            str(item["owner"] or ""),
            ", ".join(item["violations"]),
            f"{_money(item['cost'])} {item['currency']}",
        )
    console.print(offenders)


# -- steering ---------------------------------------------------------------------------------


def _short(ref: Any) -> str:
    text = str(ref)
    return text.replace(":default/", ":") if text else ""


@app.command()
def anomalies(
    detect: Annotated[
        bool, typer.Option("--detect/--no-detect", help="Run detection before listing.")
    ] = True,
    since: Annotated[str | None, typer.Option(help="Only days from this date.")] = None,
    threshold: Annotated[float, typer.Option(help="Robust z-score of a day to flag it.")] = 4.0,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Days whose cost for an owner and service broke the weekly pattern, explained."""
    from sentier.finops.anomalies import detect_and_record, stored_anomalies
    from sentier.store import session_scope

    since_day = parse_day(since)
    if detect:
        with billing_context(rules, tagging_plan) as ctx, session_scope(ctx.engine) as session:
            result = detect_and_record(
                session, ctx.facts, ctx.snapshot, ctx.rules, threshold=threshold, since=since_day
            )
        err_console.print(
            f"{len(result['new'])} new anomalies, {len(result['known'])} already known"
        )
    from sentier.store import session_scope as scope

    with scope(open_store()) as session:
        items = stored_anomalies(session, since=since_day)
    if format is Format.json:
        print_json(plain(items))
        return
    headers = ["day", "owner", "service", "currency", "actual", "expected", "score", "drivers"]
    rows = [
        [
            a["day"],
            _short(a["owner"]),
            a["service"],
            a["currency"],
            a["actual"],
            a["expected"],
            a["score"],
            "; ".join(
                f"{d['resource_id']} {_money(d['actual'])} (usually {_money(d['usual'])})"
                for d in a["drivers"][:3]
            ),
        ]
        for a in items
    ]
    if format is Format.csv:
        write_csv(headers, rows)
        return
    table = Table(title="cost anomalies")
    for header in headers:
        table.add_column(
            header, justify="right" if header in {"actual", "expected", "score"} else "left"
        )
    for row in rows:
        table.add_row(*[_money(v) if isinstance(v, Decimal) else str(v) for v in row])
    console.print(table)


@app.command()
def forecast(
    months: Annotated[int, typer.Option(help="Months after the current one.")] = 3,
    level: Annotated[float, typer.Option(help="Interval level (0.8 = 10th-90th).")] = 0.8,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Month-end and next months' cost per owner, with an interval."""
    from sentier.finops.forecast import forecast as run
    from sentier.finops.timeseries import daily_costs

    with billing_context(rules, tagging_plan) as ctx:
        rows = run(daily_costs(ctx.facts, ctx.snapshot, ctx.rules), months=months, level=level)
    if format is Format.json:
        print_json(plain(rows))
        return
    headers = ["owner", "currency", "month", "to date", "forecast", "low", "high"]
    values = [
        [
            _short(r["owner"]),
            r["currency"],
            r["month"],
            r["actual_to_date"],
            r["forecast"],
            r["low"],
            r["high"],
        ]
        for r in rows
    ]
    if format is Format.csv:
        write_csv(headers, values)
        return
    as_of = rows[0]["as_of"] if rows else ""
    table = Table(title=f"cost forecast (data up to {as_of}, {level:.0%} interval)")
    for header in headers:
        table.add_column(
            header, justify="left" if header in {"owner", "currency", "month"} else "right"
        )
    for row in values:
        table.add_row(*[_money(v) if isinstance(v, Decimal) else str(v or "") for v in row])
    console.print(table)


@budgets_app.command("add")
def budgets_add(
    name: Annotated[str, typer.Argument(help="Budget name.")],
    scope: Annotated[str, typer.Option(help="Group (with its children) or system:NAME.")],
    amount: Annotated[str, typer.Option(help="Monthly amount.")],
    currency: Annotated[str, typer.Option(help="Currency of the amount.")] = "USD",
    thresholds: Annotated[str, typer.Option(help="Percentages that alert.")] = "50,80,100",
    forecast_alert: Annotated[
        bool, typer.Option("--forecast/--no-forecast", help="Alert on forecast month-end.")
    ] = True,
) -> None:
    """Create or change a monthly budget."""
    from sentier.finops import FinOpsError
    from sentier.finops.budgets import add_budget
    from sentier.store import session_scope

    try:
        levels = [int(t) for t in thresholds.split(",") if t.strip()]
    except ValueError:
        fail(f"thresholds: {thresholds!r} is not a list of percentages like 50,80,100")
    try:
        with session_scope(open_store()) as session:
            budget = add_budget(
                session,
                name,
                scope,
                amount,
                currency,
                thresholds=levels,
                forecast_alert=forecast_alert,
            )
    except FinOpsError as error:
        fail(str(error))
    console.print(
        f"budget [bold]{name}[/]: {_money(budget['amount'])} {budget['currency']} a month "
        f"for {budget['scope']}, alerts at {', '.join(map(str, budget['thresholds']))}%"
    )


@budgets_app.command("list")
def budgets_list(format: FormatOption = Format.table) -> None:
    """The budgets defined."""
    from sentier.finops.budgets import list_budgets
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        items = list_budgets(session)
    if format is Format.json:
        print_json(plain(items))
        return
    table = Table(title="budgets")
    for header in ("name", "scope", "amount", "thresholds", "forecast alert"):
        table.add_column(header)
    for b in items:
        table.add_row(
            b["name"],
            b["scope"],
            f"{_money(b['amount'])} {b['currency']}",
            ", ".join(map(str, b["thresholds"])),
            "yes" if b["forecast_alert"] else "no",
        )
    console.print(table)


@budgets_app.command("remove")
def budgets_remove(name: Annotated[str, typer.Argument(help="Budget name.")]) -> None:
    """Delete a budget (and its alert history)."""
    from sentier.finops.budgets import remove_budget
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        if not remove_budget(session, name):
            fail(f"no budget {name!r}")
    console.print(f"budget {name} removed")


@budgets_app.command("check")
def budgets_check(
    month: Annotated[str | None, typer.Option(help="YYYY-MM (default: latest).")] = None,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Spend and forecast against each budget; new threshold crossings raise events."""
    from sentier.finops.budgets import check_budgets
    from sentier.store import session_scope

    with billing_context(rules, tagging_plan) as ctx, session_scope(ctx.engine) as session:
        items = check_budgets(session, ctx.facts, ctx.snapshot, ctx.rules, month=month)
    if format is Format.json:
        print_json(plain(items))
        return
    table = Table(title="budgets")
    for header in (
        "budget",
        "scope",
        "month",
        "budget amount",
        "spent",
        "used",
        "forecast",
        "forecast used",
        "crossed",
    ):
        table.add_column(header)
    for b in items:
        table.add_row(
            b["name"],
            _short(b["scope"]),
            b["month"],
            f"{_money(b['amount'])} {b['currency']}",
            _money(b["spent"]),
            f"{b['used']:.0f}%",
            _money(b["forecast"]),
            f"{b['forecast_used']:.0f}%",
            ", ".join(f"{c['threshold']}% ({c['kind']})" for c in b["crossed"]),
        )
    console.print(table)


@app.command()
def export(
    focus: Annotated[Path, typer.Option("--focus", help="Output file (.parquet or .csv).")],
    period: PeriodOption = None,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
) -> None:
    """Chargeback export: every line in FOCUS columns with its allocation (FOCUS 1.3 style)."""
    from sentier.finops.export import export_focus

    with billing_context(rules, tagging_plan, period) as ctx:
        summary = export_focus(ctx.facts, ctx.snapshot, ctx.rules, focus, scope=Scope_(period))
    console.print(
        f"{summary['rows']:,} lines, effective cost {_money(summary['effective'])}, "
        f"written to {summary['path']}"
    )


def Scope_(periods: list[str] | None) -> Any:
    from sentier.finops import Scope

    return Scope(periods)


@app.command()
def commitments(
    period: PeriodOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Commitment discounts: purchase, used and unused cost, utilisation, and savings."""
    from sentier.finops.economics import commitments as run

    with billing_context(None, tagging_plan, period) as ctx:
        result = run(ctx.facts)
    if format is Format.json:
        print_json(plain(result))
        return
    headers = [
        "commitment",
        "period",
        "currency",
        "purchase",
        "used",
        "unused",
        "utilisation",
        "savings",
    ]
    rows = [
        [
            c["name"] or c["commitment"],
            c["period"],
            c["currency"],
            c["purchase"],
            c["used"],
            c["unused"],
            c["utilisation"],
            c["savings"],
        ]
        for c in result["commitments"]
    ]
    if format is Format.csv:
        write_csv(headers, rows)
        return
    table = Table(title="commitment discounts")
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:3] else "right")
    for row in rows:
        table.add_row(
            *[
                _money(v)
                if isinstance(v, Decimal)
                else ("" if v is None else f"{v * 100:.1f}%")
                if isinstance(v, float) or v is None
                else str(v)
                for v in row
            ]
        )
    console.print(table)
    for total in result["totals"]:
        rate = "" if total["savings_rate"] is None else f" ({total['savings_rate'] * 100:.1f}%)"
        console.print(
            f"{total['currency']}: usage at list price {_money(total['usage_list_cost'])}, "
            f"effective {_money(total['usage_effective_cost'])}, savings "
            f"{_money(total['savings'])}{rate}; invoiced {_money(total['billed'])}"
        )


@app.command()
def unit(
    kpi: Annotated[Path, typer.Option("--kpi", help="CSV: date,product,metric,value.")],
    period: PeriodOption = None,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Unit economics: cost per business KPI (orders, active users...) per month, trended."""
    from sentier.finops import FinOpsError
    from sentier.finops.economics import read_kpis, unit_costs

    try:
        kpis = read_kpis(kpi)
    except FinOpsError as error:
        fail(str(error))
    with billing_context(rules, tagging_plan, period) as ctx:
        rows = unit_costs(ctx.facts, ctx.snapshot, ctx.rules, kpis, scope=Scope_(period))
    if format is Format.json:
        print_json(plain(rows))
        return
    headers = ["product", "metric", "month", "currency", "cost", "units", "unit cost", "MoM"]
    values = [
        [
            _short(r["product"]),
            r["metric"],
            r["month"],
            r["currency"],
            r["cost"],
            r["units"],
            r["unit_cost"],
            r["change"],
        ]
        for r in rows
    ]
    if format is Format.csv:
        write_csv(headers, values)
        return
    table = Table(title="unit economics")
    for header in headers:
        table.add_column(header, justify="left" if header in headers[:4] else "right")
    for row in values:
        table.add_row(
            *[str(v) for v in row[:4]],
            _money(row[4]),
            f"{row[5]:,}",
            "" if row[6] is None else f"{row[6]:.4f}",
            _percent(row[7]),
        )
    console.print(table)


@app.command()
def retag(tagging_plan: PlanOption = None) -> None:
    """Re-read stored tags with the tagging plan (after changing it); lines are untouched."""
    from sentier.finops.retag import retag as run
    from sentier.finops.tags import plan_or_default
    from sentier.tagging import TaggingError

    open_store()
    try:
        plan = plan_or_default(tagging_plan)
    except TaggingError as error:
        fail(str(error))
    result = run(plan)
    console.print(f"{result['slices']} slices, {result['keys']:,} line descriptions re-tagged")
