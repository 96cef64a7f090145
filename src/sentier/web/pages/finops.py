"""Portal pages of FinOps: the overview, showback, tags, allocation, a group's cost, budgets,
commitments and unit economics, ingestions; and a cost section on entity pages.

Each page renders what its JSON twin under ``/api/v1/finops`` returns (the same view
functions); this module only turns those numbers into charts and tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.api import finops_jobs
from sentier.api.deps import DB, audit_write, deny
from sentier.api.problems import Problem
from sentier.api.routers.finops import (
    DIMENSION_PATTERN,
    DateFrom,
    DateTo,
    Name,
    Periods,
    report_scope,
)
from sentier.api.views import finops as views
from sentier.finops import Scope
from sentier.web import charts
from sentier.web.app import WebUser, check_csrf, href_of, render
from sentier.web.sections import ENTITY_SECTIONS, Section

router = APIRouter(include_in_schema=False)
TOP_SERIES = 5
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DIMENSIONS = [
    ("group", "Group (with child groups)"),
    ("owner", "Owner (own cost only)"),
    ("system", "System"),
    ("component", "Component or resource"),
    ("service-category", "Service category"),
    ("service", "Service"),
    ("region", "Region"),
    ("sub-account", "Sub-account"),
    ("provider", "Provider"),
    ("charge-category", "Charge category"),
    ("rule", "Allocation rule"),
]


# -- what the charts are drawn from -----------------------------------------------------------


def main_currency(series: Sequence[dict[str, Any]]) -> str | None:
    """The currency most of the money is in: charts draw it, tables show every currency."""
    if not series:
        return None
    return str(max(series, key=lambda s: s["total"])["currency"])


def month_label(period: str) -> str:
    year, month = period.split("-")
    return f"{MONTHS[int(month) - 1]} {year[2:]}"


def trend_chart(
    periods: list[str],
    rows: Sequence[dict[str, Any]],
    currency: str | None,
    *,
    ident: str,
    title: str,
    top: int = TOP_SERIES,
) -> Markup:
    """Monthly bars stacked by the ``top`` biggest rows of ``currency``, the rest as others."""
    if not periods or currency is None:
        return Markup("")
    mine = [r for r in rows if r["currency"] == currency]
    kept, rest = mine[:top], mine[top:]
    series: list[tuple[str, list[Decimal]]] = [
        (r["label"], [t["amount"] for t in r["trend"]]) for r in kept
    ]
    if rest:
        others = [
            sum((r["trend"][i]["amount"] for r in rest), Decimal(0)) for i in range(len(periods))
        ]
        series.append((f"{len(rest)} others", others))
    totals = [sum((s[1][i] for s in series), Decimal(0)) for i in range(len(periods))]
    description = "; ".join(
        f"{month_label(p)}: {charts.money(t, currency)}"
        for p, t in zip(periods, totals, strict=True)
    )
    return charts.stacked_bars(
        [month_label(p) for p in periods],
        series,
        ident=ident,
        title=f"{title} ({currency})",
        description=description,
        unit=currency,
    )


def series_chart(
    periods: list[str], series: Sequence[dict[str, Any]], *, ident: str, title: str
) -> Markup:
    """Monthly bars of one total (the main currency of ``series``)."""
    currency = main_currency(series)
    if currency is None:
        return Markup("")
    item = next(s for s in series if s["currency"] == currency)
    return trend_chart(
        periods,
        [{"label": title, "currency": currency, "trend": item["trend"]}],
        currency,
        ident=ident,
        title=title,
    )


def top_chart(
    rows: Sequence[dict[str, Any]], currency: str | None, *, ident: str, title: str, key: str
) -> Markup:
    """Horizontal bars of the biggest rows (``key``: the amount to draw), linked when known."""
    if currency is None:
        return Markup("")
    mine = [r for r in rows if r["currency"] == currency][:10]
    items = [(r["label"], r[key], _cost_href(r.get("ref"))) for r in mine]
    description = "; ".join(f"{label}: {charts.money(v, currency)}" for label, v, _ in items)
    return charts.hbars(
        items, ident=ident, title=f"{title} ({currency})", description=description, unit=currency
    )


def forecast_chart(
    totals: Sequence[dict[str, Any]], forecast: dict[str, Any] | None, *, ident: str, title: str
) -> Markup:
    """Past months (actual) then the forecast months with their interval, one currency."""
    if not forecast or not forecast["rows"]:
        return Markup("")
    currency = main_currency(totals)
    if currency is None:
        return Markup("")
    history = next(s for s in totals if s["currency"] == currency)["trend"]
    actual = {t["period"]: t["amount"] for t in history}
    predicted = {
        r["month"]: (r["forecast"], r["low"], r["high"])
        for r in forecast["rows"]
        if r["currency"] == currency and r["actual_to_date"] is None
    }
    months = sorted(set(actual) | set(predicted))
    description = "; ".join(
        f"{month_label(m)}: {charts.money(actual[m], currency)}"
        if m in actual
        else (
            f"{month_label(m)}: forecast {charts.money(predicted[m][0], currency)} "
            f"({charts.money(predicted[m][1])} to {charts.money(predicted[m][2])})"
        )
        for m in months
    )
    return charts.forecast_lines(
        [month_label(m) for m in months],
        [actual.get(m) for m in months],
        [predicted.get(m) for m in months],
        ident=ident,
        title=f"{title} ({currency})",
        description=description,
        unit=currency,
    )


def _cost_href(ref: str | None) -> str | None:
    """Where a cost row links: a group's cost page, or the entity's page (its cost section)."""
    if not ref or ":" not in ref or "/" not in ref:
        return None
    if ref.startswith("group:"):
        namespace, name = ref.split(":", 1)[1].split("/", 1)
        return f"/finops/groups/{namespace}/{name}"
    return href_of(ref) + "#cost"


def _meters(budgets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for budget in budgets:
        status = budget.get("status")
        meter = (
            charts.meter(
                status["used"],
                status["forecast_used"] if budget["forecast_alert"] else None,
                budget["thresholds"],
                budget["state"],
            )
            if status
            else Markup("")
        )
        out.append({**budget, "meter": meter})
    return out


def _query(**params: Any) -> str:
    pairs = [(k, v) for k, value in params.items() for v in _values(value)]
    return ("?" + urlencode(pairs)) if pairs else ""


def _values(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _common(section: str) -> dict[str, Any]:
    return {"finops_section": section, "cost_href": _cost_href, "month_label": month_label}


# -- pages ------------------------------------------------------------------------------------


@router.get("/finops", response_class=HTMLResponse)
def overview(request: Request, principal: WebUser, session: DB) -> HTMLResponse:
    with views.open_inputs(session) as inputs:
        data = views.overview(session, inputs)
        owners = views.showback_view(inputs, "owner", Scope()) if data["periods"] else None
    currency = main_currency(data["totals"])
    context = {
        **_common("overview"),
        "data": data,
        "currency": currency,
        "spend_chart": trend_chart(
            data["periods"],
            owners["rows"] if owners else [],
            currency,
            ident="spend",
            title="Spend per month by owner",
        ),
        "owners_chart": top_chart(
            data["top_owners"],
            currency,
            ident="owners",
            title=f"Top owners in {data['latest']}",
            key="latest",
        ),
        "services_chart": top_chart(
            data["top_services"],
            currency,
            ident="services",
            title=f"Top services in {data['latest']}",
            key="latest",
        ),
        "forecast_chart": forecast_chart(
            data["totals"], data["forecast"], ident="forecast", title="Spend and forecast"
        ),
        "budgets": _meters(data["budgets"]),
        "json_url": "/api/v1/finops/overview",
    }
    return render(request, "finops_overview.html", context)


@router.get("/finops/showback", response_class=HTMLResponse)
def showback(
    request: Request,
    principal: WebUser,
    session: DB,
    by: Annotated[str, Query(pattern=DIMENSION_PATTERN)] = "group",
    period: Periods = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> HTMLResponse:
    scope = report_scope(period, date_from, date_to)
    with views.open_inputs(session, period) as inputs:
        data = views.showback_view(inputs, by, scope)
        plan_keys = list(inputs.facts.plan.keys)
    currency = main_currency(data["totals"])
    rows = data["rows"]
    if by == "group":  # stacked bars of nested groups would count children twice
        rows = [r for r in rows if r["parent"] is None]
    query = _query(by=by, period=period, **{"from": date_from, "to": date_to})
    context = {
        **_common("showback"),
        "data": data,
        "currency": currency,
        "dimensions": [*DIMENSIONS, *[(f"tag:{k}", f"Tag {k}") for k in plan_keys]],
        "selected_periods": period or [],
        "date_from": date_from,
        "date_to": date_to,
        "chart": trend_chart(
            data["periods"], rows, currency, ident="showback", title=f"Cost per month by {by}"
        ),
        "json_url": "/api/v1/finops/showback" + query,
        "csv_note": f"sentier cost report --by {by} --format csv",
    }
    return render(request, "finops_showback.html", context)


@router.get("/finops/tags", response_class=HTMLResponse)
def tags(
    request: Request,
    principal: WebUser,
    session: DB,
    by: Annotated[str, Query(pattern=DIMENSION_PATTERN)] = "sub-account",
    period: Periods = None,
) -> HTMLResponse:
    with views.open_inputs(session, period) as inputs:
        data = views.coverage_view(inputs, by, Scope(period), worst=25)
    return render(
        request,
        "finops_tags.html",
        {
            **_common("tags"),
            "data": data,
            "dimensions": DIMENSIONS,
            "json_url": "/api/v1/finops/tags" + _query(by=by, period=period, worst=25),
        },
    )


@router.get("/finops/allocation", response_class=HTMLResponse)
def allocation(
    request: Request, principal: WebUser, session: DB, period: Periods = None
) -> HTMLResponse:
    with views.open_inputs(session, period) as inputs:
        data = views.allocation_view(inputs, Scope(period))
    return render(
        request,
        "finops_allocation.html",
        {
            **_common("allocation"),
            "data": data,
            "json_url": "/api/v1/finops/allocation" + _query(period=period),
        },
    )


@router.get("/finops/groups/{namespace}/{name}", response_class=HTMLResponse)
def group_page(
    namespace: Name,
    name: Name,
    request: Request,
    principal: WebUser,
    session: DB,
    period: Periods = None,
) -> HTMLResponse:
    ref = f"group:{namespace}/{name}".lower()
    from sentier.store.models import Entity

    if session.scalar(select(Entity.ref).where(Entity.ref == ref)) is None:
        return render(
            request, "error.html", {"status": 404, "message": f"No group {ref}."}, status_code=404
        )
    with views.open_inputs(session, period) as inputs:
        data = views.group_costs(session, inputs, ref, Scope(period))
        # A forecast reads the whole history: none for a page narrowed to some months.
        forecast = (
            views.forecast_view(inputs, group=ref) if data["periods"] and not period else None
        )
    context = {
        **_common("groups"),
        **group_charts(data, forecast, "group"),
        "data": data,
        "forecast": forecast,
        "budgets": _meters(data["budgets"]),
        "entity_href": href_of(ref),
        "json_url": f"/api/v1/finops/groups/{namespace}/{name}" + _query(period=period),
    }
    return render(request, "finops_group.html", context)


def group_charts(
    data: dict[str, Any], forecast: dict[str, Any] | None, ident: str
) -> dict[str, Any]:
    currency = main_currency(data["totals"])
    return {
        "currency": currency,
        "trend_chart": trend_chart(
            data["periods"],
            data["by_group"],
            currency,
            ident=f"{ident}-trend",
            title=f"Cost of {data['label']} per month by group",
        ),
        "forecast_chart": forecast_chart(
            data["totals"], forecast, ident=f"{ident}-forecast", title=f"{data['label']}: forecast"
        ),
        "services_chart": top_chart(
            data["by_service"],
            currency,
            ident=f"{ident}-services",
            title=f"Services of {data['label']}",
            key="total",
        ),
    }


@router.get("/finops/budgets", response_class=HTMLResponse)
def budgets(
    request: Request,
    principal: WebUser,
    session: DB,
    error: str | None = None,
    checked: int | None = None,
) -> HTMLResponse:
    return _budgets_page(request, principal, session, error=error, checked=checked)


def _budgets_page(
    request: Request,
    principal: Any,
    session: Session,
    *,
    error: str | None = None,
    checked: int | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with views.open_inputs(session) as inputs:
        items = _meters(views.budget_statuses(session, inputs))
    for item in items:
        item["manageable"] = views.may_manage(session, principal, item["scope"])
    return render(
        request,
        "finops_budgets.html",
        {
            **_common("budgets"),
            "budgets": items,
            "error": error,
            "checked": checked,
            "form": form or {"currency": "EUR", "thresholds": "50,80,100"},
            "can_edit": principal.has_role("editor"),
            "json_url": "/api/v1/finops/budgets",
        },
        status_code=status_code,
    )


@router.post("/finops/budgets", response_model=None)
def save_budget(
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
    name: Annotated[str, Form(max_length=100)] = "",
    scope: Annotated[str, Form(max_length=255)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    currency: Annotated[str, Form(max_length=3)] = "",
    thresholds: Annotated[str, Form(max_length=100)] = "50,80,100",
    forecast_alert: Annotated[bool, Form()] = False,
) -> Response:
    """The form twin of ``PUT /api/v1/finops/budgets/{name}``."""
    check_csrf(request, principal, csrf)
    if not principal.has_role("editor"):
        deny(request, principal, "requires the editor role")
    form = {
        "name": name,
        "scope": scope,
        "amount": amount,
        "currency": currency,
        "thresholds": thresholds,
    }
    try:
        levels, value = _parse_budget_form(name, amount, currency, thresholds)
        views.save_budget(
            request,
            session,
            principal,
            name,
            scope=scope,
            amount=value,
            currency=currency.upper(),
            thresholds=levels,
            forecast_alert=forecast_alert,
        )
    except Problem as problem:
        if problem.status == 403:
            raise
        session.rollback()
        return _budgets_page(
            request, principal, session, error=problem.detail, form=form, status_code=400
        )
    return RedirectResponse("/finops/budgets", status_code=303)


def _parse_budget_form(
    name: str, amount: str, currency: str, thresholds: str
) -> tuple[list[int], Decimal]:
    import re

    from sentier.api.routers.finops import BUDGET_NAME

    if not re.fullmatch(BUDGET_NAME, name):
        raise Problem(400, "name: letters, digits, '.', '_' and '-' only (up to 100)")
    try:
        value = Decimal(amount.replace(",", "").strip())
    except InvalidOperation as error:
        raise Problem(400, f"amount: {amount!r} is not a number") from error
    if not value.is_finite() or value <= 0 or value > Decimal("1e15"):
        raise Problem(400, "amount: a positive monthly amount is needed")
    if not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise Problem(400, "currency: a three-letter code such as EUR")
    try:
        levels = [int(t) for t in thresholds.split(",") if t.strip()]
    except ValueError as error:
        raise Problem(400, "thresholds: percentages separated by commas, e.g. 50,80,100") from error
    if not levels or len(levels) > 10 or any(not 1 <= t <= 1000 for t in levels):
        raise Problem(400, "thresholds: between one and ten percentages from 1 to 1000")
    return levels, value.quantize(Decimal("0.01"))


@router.post("/finops/budgets/{name}/delete", response_model=None)
def remove_budget(
    name: Name,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf)
    if not principal.has_role("editor"):
        deny(request, principal, "requires the editor role")
    try:
        views.delete_budget(request, session, principal, name)
    except Problem as problem:
        if problem.status != 404:
            raise
    return RedirectResponse("/finops/budgets", status_code=303)


@router.post("/finops/budgets/check", response_model=None)
def check_budgets(
    request: Request, principal: WebUser, session: DB, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The form twin of ``POST /api/v1/finops/budgets/check``: records new crossings."""
    from sentier.finops.budgets import check_budgets as run

    check_csrf(request, principal, csrf)
    if not principal.has_role("editor"):
        deny(request, principal, "requires the editor role")
    with views.open_inputs(session) as inputs, views.finops_errors():
        items = run(session, inputs.facts, inputs.snapshot, inputs.rules)
    audit_write(request, session, principal, "finops.budgets.check", None, {"budgets": len(items)})
    session.commit()
    return RedirectResponse(f"/finops/budgets?checked={len(items)}", status_code=303)


@router.post("/finops/anomalies/detect", response_model=None)
def detect(
    request: Request, principal: WebUser, session: DB, csrf: Annotated[str, Form()] = ""
) -> Response:
    """The form twin of ``POST /api/v1/finops/anomalies/detect``."""
    check_csrf(request, principal, csrf)
    if not principal.has_role("editor"):
        deny(request, principal, "requires the editor role")
    with views.open_inputs(session) as inputs:
        result = views.detect_anomalies(session, inputs)
    audit_write(request, session, principal, "finops.anomalies.detect", None, result)
    session.commit()
    return RedirectResponse("/finops#anomalies-h", status_code=303)


@router.get("/finops/economics", response_class=HTMLResponse)
def economics(
    request: Request, principal: WebUser, session: DB, period: Periods = None
) -> HTMLResponse:
    with views.open_inputs(session, period) as inputs:
        commitments = views.commitments_view(inputs)
        units = views.unit_costs_view(inputs, Scope(period))
    return render(
        request,
        "finops_economics.html",
        {
            **_common("economics"),
            "commitments": commitments,
            "units": units,
            "kpi_path": str(views.kpi_file()),
            "json_url": "/api/v1/finops/commitments" + _query(period=period),
        },
    )


@router.get("/finops/ingestions", response_class=HTMLResponse)
def ingestions(
    request: Request, principal: WebUser, session: DB, job: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "finops_ingestions.html",
        {
            **_common("ingestions"),
            "data": views.ingestions_view(session, 20),
            "job": job,
            "json_url": "/api/v1/finops/ingestions",
        },
    )


@router.post("/finops/ingestions", response_model=None)
def ingest(
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
    path: Annotated[str, Form(max_length=4096)] = "",
    provider_format: Annotated[str, Form(max_length=16)] = "focus",
) -> Response:
    """The form twin of ``POST /api/v1/finops/ingestions`` (admins)."""
    check_csrf(request, principal, csrf)
    if not principal.has_role("admin"):
        deny(request, principal, "requires the admin role")
    if provider_format not in {"focus", "aws-cur2", "azure", "gcp"}:
        provider_format = "focus"
    try:
        files = finops_jobs.billing_files([path.strip()]) if path.strip() else []
    except Problem as problem:
        return render(
            request,
            "finops_ingestions.html",
            {
                **_common("ingestions"),
                "data": views.ingestions_view(session, 20),
                "error": problem.detail,
                "json_url": "/api/v1/finops/ingestions",
            },
            status_code=400,
        )
    if not files:
        return RedirectResponse("/finops/ingestions", status_code=303)
    audit_write(
        request,
        session,
        principal,
        "finops.ingest",
        path[:500],
        {"files": len(files), "provider_format": provider_format},
    )
    session.commit()
    job = finops_jobs.enqueue(
        files, provider_format=provider_format, currency=None, requested_by=principal.label
    )
    return RedirectResponse(f"/finops/ingestions?job={job}", status_code=303)


# -- the cost section of entity pages ---------------------------------------------------------

SECTION_KINDS = {"group", "system", "component", "resource"}


def cost_section(session: Session, ref: str, kind: str) -> Section | None:
    """Cost of a group (through its child groups), a system (through its parts), a component
    or a resource, on its catalog page; nothing where no billing has been ingested."""
    from sentier.analytics import FactStore
    from sentier.finops.ingest import DATASET

    if kind.lower() not in SECTION_KINDS:
        return None
    if not FactStore.default().dataset(DATASET).manifest().periods():
        return None
    namespace, name = ref.split(":", 1)[1].split("/", 1)
    try:
        with views.open_inputs(session) as inputs:
            if kind.lower() == "group":
                data = views.group_costs(session, inputs, ref, Scope())
                json_url = f"/api/v1/finops/groups/{namespace}/{name}"
            else:
                data = views.entity_costs(inputs, ref, kind, Scope())
                json_url = f"/api/v1/finops/entities/{kind.lower()}/{namespace}/{name}"
                if not data["totals"]:
                    return None
    except Problem as problem:  # e.g. rules the server cannot read: say so, keep the page
        return Section("Cost", "_finops_section.html", {"error": problem.detail})
    currency = main_currency(data["totals"])
    chart = series_chart(
        data["periods"], data["totals"], ident=f"cost-{ref}", title=f"Cost of {data['label']}"
    )
    return Section(
        "Cost",
        "_finops_section.html",
        {
            "data": data,
            "kind": kind.lower(),
            "currency": currency,
            "chart": chart,
            "group_page": f"/finops/groups/{namespace}/{name}" if kind.lower() == "group" else None,
            "cost_href": _cost_href,
            "month_label": month_label,
        },
        json_url,
    )


ENTITY_SECTIONS.append(cost_section)
