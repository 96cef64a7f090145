"""``/api/v1/finops``: who spends what, whether it is tagged, where it is heading, budgets.

Everyone authenticated reads (showback is meant to be seen). Budgets are written by editors
for their own groups (and the systems those own) and by admins for all; ingesting a billing
path on the server is for admins. Every write is audited in its own transaction.
Amounts are decimal strings to the cent; the allocation behind them is exact.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from sentier.api import finops_jobs
from sentier.api.background import STARTERS
from sentier.api.deps import DB, Admin, Editor, Viewer, audit_write
from sentier.api.problems import Problem
from sentier.api.views import finops as views
from sentier.finops import Scope
from sentier.store.models import Entity

router = APIRouter(prefix="/api/v1/finops", tags=["finops"])
STARTERS.append(finops_jobs.start_warm_up)

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
Period = Annotated[str, StringConstraints(pattern=PERIOD_PATTERN)]
DIMENSION_PATTERN = (
    r"^(group|owner|system|component|entity|service-category|service|region|sub-account|"
    r"provider|charge-category|currency|rule|tag:[A-Za-z0-9_.:/-]{1,64})$"
)
BUDGET_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"
BudgetName = Annotated[str, PathParam(pattern=BUDGET_NAME, description="budget name")]
Periods = Annotated[
    list[Period] | None,
    Query(alias="period", max_length=60, description="billing periods YYYY-MM (default: all)"),
]
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 30)
DateFrom = Annotated[
    date | None, Query(alias="from", ge=FIRST_DAY, le=LAST_DAY, description="first charge day")
]
DateTo = Annotated[
    date | None, Query(alias="to", ge=FIRST_DAY, le=LAST_DAY, description="last charge day")
]
Month = Annotated[
    str | None, Query(pattern=PERIOD_PATTERN, description="YYYY-MM (default: the latest)")
]
Name = Annotated[str, PathParam(pattern=r"^[^/\x00]{1,253}$")]


# -- response models --------------------------------------------------------------------------


class TrendPoint(BaseModel):
    period: str
    amount: Decimal
    change: float | None = Field(description="against the period before (0.1 = +10 %)")


class CurrencySeries(BaseModel):
    currency: str
    total: Decimal
    trend: list[TrendPoint]


class Reconciliation(BaseModel):
    currency: str
    input_effective: Decimal
    allocated: Decimal
    unallocated: Decimal
    difference: Decimal
    input_billed: Decimal
    billed: Decimal
    balanced: bool


class ShowbackRow(BaseModel):
    key: str
    label: str
    ref: str | None
    currency: str
    total: Decimal
    direct: Decimal | None = Field(description="by group: the group's own cost, children apart")
    parent: str | None
    share: float | None
    change: float | None
    trend: list[TrendPoint]
    depth: int = Field(default=0, description="by group: levels below a top-level group")


class ShowbackOut(BaseModel):
    by: str
    periods: list[str]
    available_periods: list[str]
    date_from: date | None
    date_to: date | None
    rows: list[ShowbackRow]
    totals: list[CurrencySeries]
    reconciliation: list[Reconciliation]
    reconciled: bool = Field(description="false for a date range: not whole billing periods")


class CoverageRow(BaseModel):
    key: str
    label: str
    ref: str | None
    currency: str
    tagged: Decimal
    untagged: Decimal
    total: Decimal
    coverage: float | None


class CoverageOverall(BaseModel):
    currency: str
    tagged: Decimal
    total: Decimal
    coverage: float | None


class Offender(BaseModel):
    resource_id: str
    sub_account: str | None
    owner: str | None
    owner_label: str
    currency: str
    violations: list[str]
    cost: Decimal


class CoverageOut(BaseModel):
    by: str
    periods: list[str]
    required_keys: list[str]
    overall: list[CoverageOverall]
    rows: list[CoverageRow]
    offenders: list[Offender]


class RuleAmount(BaseModel):
    rule: str
    currency: str
    amount: Decimal
    share: float | None
    owners: int


class PoolOwner(BaseModel):
    owner: str
    label: str
    amount: Decimal
    share: float | None


class PoolSplit(BaseModel):
    pool: str
    period: str
    currency: str
    split: str
    total: Decimal
    owners: list[PoolOwner]


class Unallocated(BaseModel):
    sub_account: str
    service: str
    currency: str
    amount: Decimal


class AllocationOut(BaseModel):
    periods: list[str]
    rules_file: str | None
    rules: list[RuleAmount]
    commitments_unused: str
    pools: list[PoolSplit]
    unallocated: list[Unallocated]
    reconciliation: list[Reconciliation]


class Breakdown(BaseModel):
    key: str
    label: str
    ref: str | None
    currency: str
    total: Decimal
    share: float | None
    trend: list[TrendPoint]


class Driver(BaseModel):
    resource_id: str
    actual: Decimal
    usual: Decimal
    delta: Decimal


class AnomalyOut(BaseModel):
    owner: str
    owner_label: str
    service: str
    currency: str
    day: date
    actual: Decimal
    expected: Decimal
    excess: Decimal
    score: float
    drivers: list[Driver]


class BudgetIn(BaseModel):
    scope: Annotated[
        str,
        Field(
            min_length=1,
            max_length=255,
            pattern=r"^[^\x00]+$",
            description="a group (with its child groups), e.g. team-data, or system:NAME",
        ),
    ]
    amount: Annotated[Decimal, Field(gt=0, le=Decimal("1e15"), decimal_places=2)]
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    thresholds: Annotated[list[Annotated[int, Field(ge=1, le=1000)]], Field(max_length=10)] = [
        50,
        80,
        100,
    ]
    forecast_alert: bool = True


class BudgetStatus(BaseModel):
    month: str
    spent: Decimal
    forecast: Decimal
    used: float
    forecast_used: float


class Crossing(BaseModel):
    threshold: int
    kind: str


class BudgetOut(BaseModel):
    name: str
    scope: str
    scope_label: str
    amount: Decimal
    currency: str
    thresholds: list[int]
    forecast_alert: bool
    status: BudgetStatus | None = None
    state: str | None = Field(default=None, description="ok, warning, at-risk, over, no-data")
    crossed: list[Crossing] = []


class GroupCostOut(BaseModel):
    ref: str
    label: str
    periods: list[str]
    available_periods: list[str]
    groups: list[str]
    children: list[str]
    totals: list[CurrencySeries]
    shared: list[CurrencySeries]
    by_group: list[Breakdown]
    by_system: list[Breakdown]
    by_entity: list[Breakdown]
    by_service: list[Breakdown]
    budgets: list[BudgetOut]
    anomalies: list[AnomalyOut]


class EntityCostOut(BaseModel):
    ref: str
    label: str
    kind: str
    periods: list[str]
    available_periods: list[str]
    totals: list[CurrencySeries]
    by_service: list[Breakdown]
    by_entity: list[Breakdown]
    by_owner: list[Breakdown]


class ForecastRow(BaseModel):
    owner: str
    label: str
    currency: str
    month: str
    actual_to_date: Decimal | None
    forecast: Decimal
    low: Decimal
    high: Decimal


class ForecastOut(BaseModel):
    as_of: date | None
    level: float
    months: int
    rows: list[ForecastRow]


class TopRow(ShowbackRow):
    latest: Decimal
    latest_change: float | None


class OverviewOut(BaseModel):
    periods: list[str]
    latest: str | None
    totals: list[CurrencySeries]
    top_owners: list[TopRow]
    top_services: list[TopRow]
    coverage: CoverageOut | None
    anomalies: list[AnomalyOut]
    budgets: list[BudgetOut]
    forecast: ForecastOut | None
    reconciliation: list[Reconciliation]


class Commitment(BaseModel):
    commitment: str
    name: str | None
    period: str
    currency: str
    purchase: Decimal
    used: Decimal
    unused: Decimal
    savings: Decimal
    utilisation: float | None


class SavingsTotal(BaseModel):
    currency: str
    billed: Decimal
    usage_list_cost: Decimal
    usage_effective_cost: Decimal
    savings: Decimal
    savings_rate: float | None


class CommitmentsOut(BaseModel):
    periods: list[str]
    commitments: list[Commitment]
    totals: list[SavingsTotal]


class UnitCost(BaseModel):
    product: str
    label: str
    metric: str
    month: str
    currency: str
    cost: Decimal
    units: Decimal
    unit_cost: Decimal | None
    change: float | None


class UnitCostsOut(BaseModel):
    kpi_file: str | None = Field(description="SENTIER_HOME/kpis.csv (date,product,metric,value)")
    rows: list[UnitCost]


class IngestedFile(BaseModel):
    path: str
    status: str
    focus_version: str | None
    rows: int
    periods: list[str]
    problems: list[dict[str, Any]]


class IngestionRun(BaseModel):
    id: int
    started_at: str | None
    status: str
    provider_format: str
    rows: int
    files: list[IngestedFile]


class StoredSlice(BaseModel):
    period: str
    provider: str | None
    billing_account: str | None
    rows: int
    totals: dict[str, dict[str, Decimal]]
    ingestion_id: int | None
    updated_at: str | None


class IngestionsOut(BaseModel):
    runs: list[IngestionRun]
    slices: list[StoredSlice]


class IngestIn(BaseModel):
    paths: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=4096, pattern=r"^[^\x00]+$")]],
        Field(min_length=1, max_length=50, description="files or directories on the server"),
    ]
    provider_format: Literal["focus", "aws-cur2", "azure", "gcp"] = "focus"
    currency: Annotated[
        str | None, Field(pattern=r"^[A-Z]{3}$", description="for files that name none")
    ] = None


class IngestAccepted(BaseModel):
    job: str
    files: list[str]


class DetectOut(BaseModel):
    new: int
    known: int


# -- dependencies -----------------------------------------------------------------------------


def report_scope(periods: list[str] | None, date_from: date | None, date_to: date | None) -> Scope:
    if date_from and date_to and date_from > date_to:
        raise Problem(400, "from: must not be after to", slug="bad-range")
    end = date_to + timedelta(days=1) if date_to else None
    return Scope(periods or None, date_from, end)


def inputs(session: DB, period: Periods = None) -> Iterator[views.Inputs]:
    """The facts (of the periods asked), catalog snapshot and rules of this request."""
    with views.open_inputs(session, period) as opened:
        yield opened


def all_inputs(session: DB) -> Iterator[views.Inputs]:
    """Every stored period: what steering (forecasts, budgets, anomalies) reads."""
    with views.open_inputs(session) as opened:
        yield opened


Inputs = Annotated[views.Inputs, Depends(inputs)]
AllInputs = Annotated[views.Inputs, Depends(all_inputs)]


# -- reports ----------------------------------------------------------------------------------


@router.get("/overview", response_model=OverviewOut, summary="The FinOps front page")
def overview(principal: Viewer, session: DB, inputs: AllInputs) -> dict[str, Any]:
    """Spend per month, top owners and services of the latest month, tag coverage, recent
    anomalies, budgets and the forecast of the coming months."""
    return views.overview(session, inputs)


@router.get("/showback", response_model=ShowbackOut, summary="Showback")
def showback(
    principal: Viewer,
    inputs: Inputs,
    by: Annotated[
        str,
        Query(
            pattern=DIMENSION_PATTERN,
            description="group (child groups rolled up), owner, system, component, "
            "service-category, service, region, sub-account, provider, charge-category, rule, "
            "currency or tag:KEY",
        ),
    ] = "group",
    period: Periods = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> dict[str, Any]:
    """Effective cost per ``by`` and billing period, month-over-month change, reconciliation."""
    return views.showback_view(inputs, by, report_scope(period, date_from, date_to))


@router.get("/tags", response_model=CoverageOut, summary="Tag coverage")
def tags(
    principal: Viewer,
    inputs: Inputs,
    by: Annotated[str, Query(pattern=DIMENSION_PATTERN)] = "sub-account",
    worst: Annotated[int, Query(ge=1, le=100, description="offending resources listed")] = 10,
    period: Periods = None,
) -> dict[str, Any]:
    """Share of effective cost fully tagged per the tagging plan, and the worst offenders."""
    return views.coverage_view(inputs, by, report_scope(period, None, None), worst)


@router.get("/allocation", response_model=AllocationOut, summary="How cost was allocated")
def allocation(principal: Viewer, inputs: Inputs, period: Periods = None) -> dict[str, Any]:
    """Cost per allocation rule, the split of each shared pool, the largest unallocated."""
    return views.allocation_view(inputs, report_scope(period, None, None))


def _entity_kind(session: Session, ref: str) -> str:
    kind = session.scalar(select(Entity.kind).where(Entity.ref == ref))
    if kind is None:
        raise Problem(404, f"no entity {ref}", slug="entity-not-found")
    return str(kind)


@router.get("/groups/{namespace}/{name}", response_model=GroupCostOut, summary="A group's cost")
def group_cost(
    namespace: Name,
    name: Name,
    principal: Viewer,
    session: DB,
    inputs: Inputs,
    period: Periods = None,
) -> dict[str, Any]:
    """A group's cost with its child groups: per month, per child group, system, entity and
    service, with its budgets and anomalies."""
    ref = f"group:{namespace}/{name}".lower()
    _entity_kind(session, ref)
    return views.group_costs(session, inputs, ref, report_scope(period, None, None))


@router.get(
    "/entities/{kind}/{namespace}/{name}",
    response_model=EntityCostOut,
    summary="An entity's cost",
)
def entity_cost(
    kind: Name,
    namespace: Name,
    name: Name,
    principal: Viewer,
    session: DB,
    inputs: Inputs,
    period: Periods = None,
) -> dict[str, Any]:
    """The direct cost of a system (through its parts) or of a component or resource."""
    ref = f"{kind}:{namespace}/{name}".lower()
    found = _entity_kind(session, ref)
    return views.entity_costs(inputs, ref, found, report_scope(period, None, None))


@router.get("/forecast", response_model=ForecastOut, summary="Forecasts")
def forecast(
    principal: Viewer,
    inputs: AllInputs,
    months: Annotated[int, Query(ge=0, le=12, description="months after the current one")] = 3,
    level: Annotated[float, Query(ge=0.5, le=0.99, description="interval level")] = 0.8,
    owner: Annotated[
        str | None,
        Query(max_length=255, description="one owner (group ref), or * for the whole bill"),
    ] = None,
    group: Annotated[
        str | None, Query(max_length=255, description="a group with its child groups")
    ] = None,
) -> dict[str, Any]:
    """Month-end and the next months' cost per owner, with an interval."""
    return views.forecast_view(inputs, months=months, level=level, owner=owner, group=group)


@router.get("/anomalies", response_model=list[AnomalyOut], summary="Cost anomalies")
def anomalies(
    principal: Viewer,
    session: DB,
    since: Annotated[date | None, Query(ge=FIRST_DAY, le=LAST_DAY)] = None,
    owner: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict[str, Any]]:
    """Days whose cost for an owner and service broke its weekly pattern, with the resources
    that drove each one."""
    return views.anomalies_view(session, since=since, owner=owner, limit=limit)


@router.post("/anomalies/detect", response_model=DetectOut, summary="Detect anomalies now")
def detect(request: Request, principal: Editor, session: DB, inputs: AllInputs) -> dict[str, Any]:
    """Run detection over the stored billing; new anomalies are stored and announced once."""
    result = views.detect_anomalies(session, inputs)
    audit_write(request, session, principal, "finops.anomalies.detect", None, result)
    session.commit()
    return result


@router.get("/commitments", response_model=CommitmentsOut, summary="Commitments and savings")
def commitments(principal: Viewer, inputs: Inputs) -> dict[str, Any]:
    """Per commitment discount and period: purchase, used, unused, utilisation, savings."""
    return views.commitments_view(inputs)


@router.get("/unit-costs", response_model=UnitCostsOut, summary="Unit economics")
def unit_costs(principal: Viewer, inputs: Inputs, period: Periods = None) -> dict[str, Any]:
    """Cost per business KPI unit (from ``SENTIER_HOME/kpis.csv``) per month, trended."""
    return views.unit_costs_view(inputs, report_scope(period, None, None))


@router.get(
    "/export",
    summary="Chargeback export",
    response_class=FileResponse,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
def export(
    principal: Viewer,
    inputs: Inputs,
    period: Periods = None,
    format: Literal["csv", "parquet"] = "csv",
) -> FileResponse:
    """Every cost line in FOCUS columns with its allocation (FOCUS 1.3's ``AllocatedMethodId``
    and ``AllocatedMethodDetails``, plus ``x_AllocatedOwner``/``Entity``/``System``)."""
    from sentier.finops.export import export_focus

    if not inputs.facts.periods:
        raise Problem(404, "no billing data for these periods", slug="no-billing-data")
    directory = Path(tempfile.mkdtemp(prefix="sentier-export-"))
    name = f"chargeback-{inputs.facts.periods[0]}-{inputs.facts.periods[-1]}.{format}"
    try:
        with views.finops_errors():
            export_focus(
                inputs.facts, inputs.snapshot, inputs.rules, directory / name, scope=Scope(period)
            )
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return FileResponse(
        directory / name,
        filename=name,
        media_type="text/csv" if format == "csv" else "application/vnd.apache.parquet",
        background=BackgroundTask(shutil.rmtree, directory, ignore_errors=True),
    )


# -- budgets ----------------------------------------------------------------------------------


@router.get("/budgets", response_model=list[BudgetOut], summary="Budgets and their status")
def list_budgets(
    principal: Viewer, session: DB, inputs: AllInputs, month: Month = None
) -> list[dict[str, Any]]:
    """Every budget with the month's spend and forecast month-end (reported, not recorded)."""
    return views.budget_statuses(session, inputs, month)


@router.get("/budgets/{name}", response_model=BudgetOut, summary="One budget")
def get_budget(
    name: BudgetName, principal: Viewer, session: DB, inputs: AllInputs, month: Month = None
) -> dict[str, Any]:
    for item in views.budget_statuses(session, inputs, month):
        if item["name"] == name:
            return item
    raise Problem(404, f"no budget {name}", slug="budget-not-found")


@router.put(
    "/budgets/{name}",
    response_model=BudgetOut,
    responses={201: {"model": BudgetOut, "description": "created"}},
    summary="Create or replace a budget",
)
def put_budget(
    name: BudgetName,
    body: BudgetIn,
    request: Request,
    response: Response,
    principal: Editor,
    session: DB,
) -> dict[str, Any]:
    """A monthly budget of a group (with its child groups) or a system, with its thresholds.

    Editors set the budgets of their groups (and of the systems these own), admins any."""
    budget, created = views.save_budget(
        request,
        session,
        principal,
        name,
        scope=body.scope,
        amount=body.amount,
        currency=body.currency,
        thresholds=body.thresholds,
        forecast_alert=body.forecast_alert,
    )
    if created:
        response.status_code = status.HTTP_201_CREATED
    return views.budget_out(budget)


@router.delete("/budgets/{name}", status_code=status.HTTP_204_NO_CONTENT, summary="Remove")
def delete_budget(name: BudgetName, request: Request, principal: Editor, session: DB) -> Response:
    """Remove a budget and the record of its crossings."""
    views.delete_budget(request, session, principal, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/budgets/check", response_model=list[BudgetOut], summary="Check budgets now")
def check_budgets(
    request: Request, principal: Editor, session: DB, inputs: AllInputs, month: Month = None
) -> list[dict[str, Any]]:
    """Compare every budget with spend and forecast; new crossings are recorded and announced."""
    from sentier.finops.budgets import check_budgets as run

    with views.finops_errors():
        items = run(session, inputs.facts, inputs.snapshot, inputs.rules, month=month)
    audit_write(request, session, principal, "finops.budgets.check", month, {"budgets": len(items)})
    session.commit()
    return [views.status_out(item) for item in items]


# -- ingestion --------------------------------------------------------------------------------


@router.get("/ingestions", response_model=IngestionsOut, summary="Ingestion history")
def ingestions(
    principal: Viewer, session: DB, limit: Annotated[int, Query(ge=1, le=200)] = 20
) -> dict[str, Any]:
    """Past ingestions with their files (quarantined ones with their errors) and what is
    stored now, per billing period and account."""
    return views.ingestions_view(session, limit)


@router.post(
    "/ingestions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=IngestAccepted,
    summary="Ingest billing files on the server",
)
def ingest(body: IngestIn, request: Request, principal: Admin, session: DB) -> dict[str, Any]:
    """Ingest billing files or directories on the server in the background; follow the job at
    ``/api/v1/jobs/{job}``. Anomalies and budgets are checked once the billing has landed."""
    files = finops_jobs.billing_files(body.paths)
    audit_write(
        request,
        session,
        principal,
        "finops.ingest",
        ", ".join(body.paths)[:500],
        {"files": len(files), "provider_format": body.provider_format},
    )
    session.commit()
    job = finops_jobs.enqueue(
        files,
        provider_format=body.provider_format,
        currency=body.currency,
        requested_by=principal.label,
    )
    return {"job": job, "files": [str(f) for f in files]}
