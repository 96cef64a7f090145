"""``sentier carbon``: the carbon footprint of cloud use, per team and service, apart from cost.

Thin shell over ``sentier.greenops``: parse options, call the domain, render its plain data
as a table, CSV or JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
    help="GreenOps: kgCO2e (scope 2 and 3) per team and service, from the same billing lines.",
    no_args_is_help=True,
)
resources_app = typer.Typer(
    help="Instance types and measured CPU utilisation per cloud resource.", no_args_is_help=True
)
app.add_typer(resources_app, name="resources")


class Method(StrEnum):
    ccf = "ccf"
    boavizta = "boavizta"


MethodOption = Annotated[
    Method, typer.Option("--method", help="ccf (Cloud Carbon Footprint) or boavizta (instances).")
]


def _kg(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 1000:
        return f"{value / 1000:,.2f} t"
    if abs(value) >= 1:
        return f"{value:,.2f} kg"
    return f"{value:.5f} kg"


def _money(values: dict[str, Any]) -> str:
    return ", ".join(
        f"{Decimal(v).quantize(Decimal('0.01')):,} {c}" for c, v in sorted(values.items())
    )


def _share(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


@contextmanager
def _context(
    method: Method = Method.ccf,
    rules_path: Path | None = None,
    plan_path: Path | None = None,
    periods: list[str] | None = None,
) -> Iterator[Any]:
    """FinOps' context (same lines, same owners) with what carbon adds: coefficients and the
    resources' instance types and measured utilisation."""
    from sentier.greenops import (
        CarbonContext,
        GreenOpsError,
        load_coefficients,
        load_resource_facts,
    )
    from sentier.store import session_scope

    with billing_context(rules_path, plan_path, periods) as base:
        with session_scope(base.engine) as session:
            resources = load_resource_facts(session)
        try:
            yield CarbonContext(
                base.facts, base.snapshot, base.rules, load_coefficients(), resources, method.value
            )
        except GreenOpsError as error:
            fail(str(error))


# -- report ---------------------------------------------------------------------------------


@app.command()
def report(
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="group, system, component, region, service, service-category, provider, "
            "sub-account, month, kind, instance-type or status.",
        ),
    ] = "group",
    period: PeriodOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    method: MethodOption = Method.ccf,
    rules: RulesOption = None,
    tagging_plan: PlanOption = None,
    format: FormatOption = Format.table,
) -> None:
    """kgCO2e (scope 2 location-based + scope 3) per owner or dimension, beside cost."""
    from sentier.finops import Scope
    from sentier.greenops import carbon_report, not_estimated_reasons

    scope = Scope(period, parse_day(from_), parse_day(to, end=True))
    with _context(method, rules, tagging_plan, period) as ctx:
        result = carbon_report(ctx, by=by, scope=scope)
        reasons = not_estimated_reasons(ctx, limit=8)
    result["not_estimated_reasons"] = reasons
    if format is Format.json:
        print_json(plain(result))
        return
    periods = result["periods"]
    if format is Format.csv:
        headers = [
            by,
            *periods,
            "total_kg",
            "low_kg",
            "high_kg",
            "scope2_location_kg",
            "scope2_market_kg",
            "scope3_kg",
            "energy_kwh",
            "cost",
            "carbon_share",
            "cost_share",
            "not_estimated_lines",
        ]
        write_csv(
            headers,
            [
                [
                    r["key"],
                    *[r["periods"][p] for p in periods],
                    r["total_kg"],
                    r["total_range"][0],
                    r["total_range"][1],
                    r["scope2_location_kg"],
                    r["scope2_market_kg"],
                    r["scope3_kg"],
                    r["energy_kwh"],
                    _money(r["cost"]),
                    r["carbon_share"],
                    r["cost_share"],
                    r["not_estimated_lines"],
                ]
                for r in result["rows"]
            ],
        )
        return
    span = f"{periods[0]} to {periods[-1]}" if periods else "no period"
    table = Table(title=f"carbon by {by}, {span} ({result['method']})")
    for header in (
        by,
        "kgCO2e",
        "range",
        "scope 2",
        "scope 3",
        "cost",
        "carbon",
        "cost %",
        "not est.",
    ):
        table.add_column(header, justify="left" if header in (by, "cost") else "right")
    for r in result["rows"]:
        table.add_row(
            r["key"],
            _kg(r["total_kg"]),
            f"{_kg(r['total_range'][0])}-{_kg(r['total_range'][1])}",
            _kg(r["scope2_location_kg"]),
            _kg(r["scope3_kg"]),
            _money(r["cost"]),
            _share(r["carbon_share"]),
            _share(r["cost_share"]),
            str(r["not_estimated_lines"]),
        )
    console.print(table)
    totals = result["totals"]
    console.print(
        f"total {_kg(totals['total_kg'])} ({_kg(totals['total_range'][0])} to "
        f"{_kg(totals['total_range'][1])}): scope 2 location-based "
        f"{_kg(totals['scope2_location_kg'])}, market-based {_kg(totals['scope2_market_kg'])}, "
        f"scope 3 {_kg(totals['scope3_kg'])}; {totals['energy_kwh']:,.1f} kWh"
    )
    coverage = result["coverage"]
    shares = ", ".join(f"{_share(v)} of {c}" for c, v in coverage["share_of_usage_cost"].items())
    console.print(
        f"estimated: {coverage['lines']['estimated']:,} lines ({shares} usage cost); "
        f"not estimated: {coverage['lines']['not_estimated']:,} lines; "
        f"not usage (purchases, taxes, credits): {coverage['lines']['not_usage']:,}"
    )
    for reason in reasons:
        err_console.print(
            f"[yellow]{reason['status']}[/] {reason['lines']:,} lines, "
            f"{Decimal(reason['cost']).quantize(Decimal('0.01')):,}: {reason['reason']}",
            highlight=False,
        )


# -- one workload ---------------------------------------------------------------------------


@app.command()
def estimate(
    provider: Annotated[str, typer.Option(help="aws, gcp or azure.")],
    instance_type: Annotated[str, typer.Option("--instance-type", help="e.g. m5.large")],
    region: Annotated[str, typer.Option(help="e.g. eu-west-3")],
    hours: Annotated[float, typer.Option(min=0, help="Hours of use.")] = 1.0,
    utilization: Annotated[
        float | None,
        typer.Option(min=0, max=1, help="Average CPU utilisation 0-1 (default: 0.5, CCF's)."),
    ] = None,
    method: MethodOption = Method.ccf,
    compare_regions: Annotated[
        bool, typer.Option("--compare-regions", help="The same hours in every known region.")
    ] = False,
    compare_types: Annotated[
        bool, typer.Option("--compare-types", help="Other families with as many vCPUs (AWS).")
    ] = False,
    what_if_region: Annotated[
        list[str] | None, typer.Option("--what-if-region", help="Compare with these regions.")
    ] = None,
    format: FormatOption = Format.table,
) -> None:
    """One workload's footprint (CCF), with Boavizta's beside it when asked (what-ifs too)."""
    from sentier import greenops

    coefficients = greenops.load_coefficients()
    key = greenops.provider_key(provider)
    if key is None:
        fail(f"unknown provider {provider!r}; expected aws, gcp or azure")
    try:
        result = greenops.estimate_instance(
            coefficients, key, instance_type, region, hours=hours, utilization=utilization
        )
        out: dict[str, Any] = {"ccf": result.as_dict()}
        if method is Method.boavizta:
            figure = greenops.boavizta_instance_hours(
                key, instance_type, region, utilization if utilization is not None else 0.5, hours
            )
            out["boavizta"] = figure.as_dict()
        if compare_regions or what_if_region:
            out["regions"] = greenops.compare_regions(
                coefficients,
                key,
                instance_type,
                hours=hours,
                utilization=utilization,
                regions=what_if_region or None,
                base_region=region,
            )
        if compare_types:
            out["instance_types"] = greenops.compare_instance_types(
                coefficients, key, instance_type, region, hours=hours, utilization=utilization
            )
    except greenops.GreenOpsError as error:
        fail(str(error))
    if format is Format.json:
        print_json(plain(out))
        return
    table = Table(title=f"{hours:g} h of {key} {instance_type} in {region}")
    for column in ("method", "use phase (scope 2)", "manufacturing (scope 3)", "total", "range"):
        table.add_column(column, justify="left" if column == "method" else "right")
    table.add_row(
        "CCF",
        _kg(result.scope2_location),
        _kg(result.scope3),
        _kg(result.total),
        f"{_kg(result.total_range[0])} - {_kg(result.total_range[1])}",
    )
    if "boavizta" in out:
        b = out["boavizta"]
        table.add_row(
            f"Boavizta ({b['library']})",
            _kg(b["use_kg"]),
            _kg(b["manufacturing_kg"]),
            _kg(b["total_kg"]),
            f"{_kg(b['use_range'][0] + b['manufacturing_range'][0])} - "
            f"{_kg(b['use_range'][1] + b['manufacturing_range'][1])}",
        )
    console.print(table)
    console.print(
        f"energy {result.energy_kwh:.6g} kWh (PUE {result.pue}), grid "
        f"{result.grid_location} kgCO2e/kWh, utilisation {result.utilization:.0%} "
        f"({result.utilization_source})"
    )
    for name in ("regions", "instance_types"):
        if name in out:
            what = Table(title="same workload elsewhere" if name == "regions" else "other families")
            for column in ("region" if name == "regions" else "instance type", "total", "change"):
                what.add_column(column)
            for row in out[name]:
                what.add_row(
                    row["region"] if name == "regions" else row["instance_type"],
                    _kg(row["total_kg"]),
                    "" if row["change"] is None else f"{row['change'] * 100:+.0f}%",
                )
            console.print(what)


@app.command()
def explain(
    line_id: Annotated[str, typer.Argument(help="A line id from `sentier carbon lines`.")],
    method: MethodOption = Method.ccf,
    rules: RulesOption = None,
    format: FormatOption = Format.table,
) -> None:
    """How one billing line's carbon was computed: reading, factors, sources, formula."""
    from sentier.greenops import explain as run

    with _context(method, rules) as ctx:
        result = run(ctx, line_id)
    if format is Format.json:
        print_json(plain(result))
        return
    d = result["description"]
    quantity = result["quantity"]
    console.print(
        f"[bold]{result['line_id']}[/] {result['charges']} charge(s), "
        f"{result['charge_period'][0]} .. {result['charge_period'][1]}"
    )
    console.print(
        f"  {d['ProviderName']} {d['ServiceName']} in {d['RegionId']}: {d['ChargeDescription']}"
    )
    console.print(
        f"  resource {d['ResourceId']}; {quantity['value']:g} {quantity['unit']} "
        f"({quantity['column']}); cost {result['cost']['effective']} {result['cost']['currency']}"
    )
    owner = result["owner"]
    console.print(
        f"  owner {owner['owner'] or owner['shared_pool']} (rule {owner['rule']}), "
        f"entity {owner['entity']}"
    )
    console.print(
        f"  status [bold]{result['status']}[/]"
        + (f": {result['reason']}" if result.get("reason") else "")
    )
    if "estimate" not in result:
        return
    console.print(
        f"  read as {result['kind']}"
        + (
            f" {result['instance_type']} (from {result['instance_type_source']})"
            if result.get("instance_type")
            else ""
        )
        + f"; method {result['method']}"
    )
    for step in result["formula"]:
        console.print(f"    {step}", highlight=False)
    console.print("  coefficients:")
    for key, value in result["estimate"]["coefficients"].items():
        console.print(f"    {key}: {value}", highlight=False)
    for note in result["estimate"]["notes"]:
        console.print(f"  note: {note}", highlight=False)


@app.command()
def summary(
    year: Annotated[int | None, typer.Option(min=2000, max=2100, help="Default: latest.")] = None,
    method: MethodOption = Method.ccf,
    rules: RulesOption = None,
    format: FormatOption = Format.table,
) -> None:
    """One year's scope 2 (location and market-based) and scope 3 of cloud use."""
    from sentier.greenops import yearly_summary

    with _context(method, rules) as ctx:
        result = yearly_summary(ctx, year=year)
    if format is Format.json:
        print_json(plain(result))
        return
    scopes = result["scopes"]
    table = Table(
        title=f"cloud carbon {result['year']}"
        + ("" if result["complete_year"] else f" ({len(result['periods'])} months of data)")
    )
    for column in ("scope", "kgCO2e", "low", "high"):
        table.add_column(column, justify="left" if column == "scope" else "right")
    for name, label in (
        ("scope2_location_based", "Scope 2, location-based"),
        ("scope2_market_based", "Scope 2, market-based"),
        ("scope3_embodied", "Scope 3, embodied (hardware)"),
    ):
        s = scopes[name]
        table.add_row(label, _kg(s["kgCO2e"]), _kg(s["range"][0]), _kg(s["range"][1]))
    console.print(table)
    share = scopes["scope2_market_based"]["energy_share_with_known_market_factor"]
    console.print(
        f"energy {result['energy_kwh']:,.1f} kWh; market-based factor known for "
        f"{_share(share) or '0%'} of it (location-based elsewhere)"
    )
    coverage = result["coverage"]
    console.print(
        "usage cost estimated: "
        + ", ".join(f"{_share(v)} of {c}" for c, v in coverage["share_of_usage_cost"].items())
    )
    console.print(f"method {result['method']}, coefficients {result['coefficients']}")


@app.command()
def lines(
    top: Annotated[int, typer.Option("--top", min=1, max=1000, help="How many lines.")] = 20,
    owner: Annotated[str | None, typer.Option(help="A group ref (its child groups too).")] = None,
    entity: Annotated[str | None, typer.Option(help="A component, resource or system ref.")] = None,
    period: Annotated[str | None, typer.Option(help="One billing period YYYY-MM.")] = None,
    method: MethodOption = Method.ccf,
    rules: RulesOption = None,
    format: FormatOption = Format.table,
) -> None:
    """The billing lines that emit most, with the line ids `explain` takes."""
    from sentier.greenops import top_lines

    with _context(method, rules) as ctx:
        result = top_lines(
            ctx,
            limit=top,
            owner=_ref(owner, "group"),
            entity=_ref(entity, "component"),
            period=period,
        )
    if format is Format.json:
        print_json(plain(result))
        return
    headers = ["line id", "service", "resource", "region", "kind", "kgCO2e", "cost", "owner"]
    rows = [
        [
            r["line_id"],
            r["service"],
            r["resource_id"],
            r["region"],
            r["instance_type"] or r["kind"] or r["status"],
            r["kg"],
            f"{Decimal(r['cost']).quantize(Decimal('0.01'))} {r['currency']}",
            r["owner"],
        ]
        for r in result
    ]
    if format is Format.csv:
        write_csv(headers, rows)
        return
    table = Table(title="lines emitting most")
    for header in headers:
        table.add_column(header)
    for values in rows:
        table.add_row(*[_kg(v) if isinstance(v, float) else str(v or "") for v in values])
    console.print(table)


def _ref(value: str | None, kind: str) -> str | None:
    if value is None:
        return None
    from sentier.catalog import RefError, parse_ref

    try:
        return parse_ref(value, default_kind=kind).key
    except RefError as error:
        fail(str(error))


@app.command()
def whatif(
    region: Annotated[str, typer.Option(help="Target region, e.g. eu-north-1.")],
    owner: Annotated[str | None, typer.Option(help="A group ref (default: everyone).")] = None,
    provider: Annotated[str | None, typer.Option(help="Only this provider's lines.")] = None,
    period: PeriodOption = None,
    rules: RulesOption = None,
    format: FormatOption = Format.table,
) -> None:
    """Scope 2 if an owner's usage ran in another region (same energy, that grid and PUE)."""
    from sentier.greenops import region_what_if

    with _context(Method.ccf, rules, None, period) as ctx:
        result = region_what_if(ctx, region, provider=provider, owner=_ref(owner, "group"))
    if format is Format.json:
        print_json(plain(result))
        return
    table = Table(title=f"usage of {owner or 'everyone'} moved to {region}")
    for column in ("provider", "scope 2 now", "scope 2 moved", "change", "scope 3 (same)"):
        table.add_column(column)
    for row in result["rows"]:
        change = "" if row["change"] is None else f"{row['change'] * 100:+.0f}%"
        table.add_row(
            row["provider"],
            _kg(row["scope2_location_now_kg"]),
            _kg(row["scope2_location_moved_kg"]),
            change,
            _kg(row["scope3_kg"]),
        )
    console.print(table)


@app.command()
def coefficients(format: FormatOption = Format.table) -> None:
    """The coefficient set in use: version, sources, what it covers."""
    from sentier import greenops

    c = greenops.load_coefficients()
    info: dict[str, Any] = {
        "version": c.version,
        "fingerprint": c.fingerprint,
        "sources": c.sources,
        "providers": {
            name: {
                "regions_with_grid_factor": len(c.known_regions(name)),
                "processors": len(c.processors.get(name, {})),
                "instance_types_with_embodied": len(c.embodied.get(name, {})),
                "pue": p.pue,
                "default_utilization": p.default_utilization,
            }
            for name, p in c.providers.items()
        },
        "boavizta": greenops.boavizta_available(),
    }
    if format is Format.json:
        print_json(plain(info))
        return
    console.print(f"coefficients {c.version} ({c.fingerprint})")
    for name, source in c.sources.items():
        console.print(
            f"  {name}: {source['repository']} @ {source['commit'][:12]} ({source['licence']})"
        )
    for name, values in info["providers"].items():
        console.print(f"  {name}: {values}")
    console.print(f"  boaviztapi available: {info['boavizta']}")


# -- resources ------------------------------------------------------------------------------


@resources_app.command("import")
def resources_import(
    path: Annotated[
        Path,
        typer.Argument(
            help="CSV: resource_id and instance_type, cpu_utilization or cpu_percent; "
            "period optional."
        ),
    ],
    source: Annotated[
        str | None, typer.Option(help="Name of this source (default: file name).")
    ] = None,
    format: FormatOption = Format.table,
) -> None:
    """Import instance types and average CPU utilisation per resource (replaces the source)."""
    from sentier.greenops import GreenOpsError, read_resource_csv, store_resource_facts
    from sentier.store import session_scope

    try:
        facts = read_resource_csv(path)
    except GreenOpsError as error:
        fail(str(error))
    with session_scope(open_store()) as session:
        result = store_resource_facts(session, source or path.name, facts)
    _print_import(result, format)


@resources_app.command("import-metrics")
def resources_import_metrics(
    paths: Annotated[
        list[Path], typer.Argument(help="Prometheus text or labelled CSV metric files.")
    ],
    metric: Annotated[
        str, typer.Option(help="Metric holding CPU utilisation, e.g. cpu_utilization.")
    ],
    label: Annotated[str, typer.Option(help="Label naming the cloud resource id.")] = "resource_id",
    percent: Annotated[bool, typer.Option("--percent", help="Values are 0-100, not 0-1.")] = False,
    source: Annotated[str, typer.Option(help="Name of this source.")] = "metrics",
    format: FormatOption = Format.table,
) -> None:
    """Average CPU utilisation per resource and month from metric files (AIOps formats)."""
    from sentier.greenops import GreenOpsError, read_metric_files, store_resource_facts
    from sentier.store import session_scope

    try:
        facts, problems = read_metric_files(paths, metric=metric, label=label, percent=percent)
    except GreenOpsError as error:
        fail(str(error))
    for problem in problems[:20]:
        err_console.print(f"[yellow]warning[/] {problem}", highlight=False)
    if not facts:
        fail(
            f"no sample of metric {metric!r} with a {label!r} label in {', '.join(map(str, paths))}"
        )
    with session_scope(open_store()) as session:
        result = store_resource_facts(session, source, facts)
    _print_import(result, format)


def _print_import(result: dict[str, Any], format: Format) -> None:
    if format is Format.json:
        print_json(result)
        return
    console.print(
        f"source [bold]{result['source']}[/]: {result['rows']:,} rows, {result['resources']:,} "
        f"resources, {result['with_instance_type']:,} with an instance type, "
        f"{result['with_utilization']:,} with a utilisation"
        + (f", periods {', '.join(result['periods'])}" if result["periods"] else "")
    )


@resources_app.command("list")
def resources_list(format: FormatOption = Format.table) -> None:
    """What was imported, per source."""
    from sentier.greenops import resource_sources
    from sentier.store import session_scope

    with session_scope(open_store()) as session:
        sources = resource_sources(session)
    if format is Format.json:
        print_json(sources)
        return
    table = Table(title="resource facts")
    for column in ("source", "rows", "with instance type", "with utilisation", "updated"):
        table.add_column(column)
    for s in sources:
        table.add_row(
            s["source"],
            f"{s['rows']:,}",
            f"{s['with_instance_type']:,}",
            f"{s['with_utilization']:,}",
            str(s["updated_at"])[:19],
        )
    console.print(table)
