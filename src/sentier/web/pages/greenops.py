"""Portal pages of GreenOps: the overview, a line explained, an estimate, the yearly scopes.

Each renders what ``sentier.api.views.greenops`` returns (its JSON twin is linked on the
page), and a carbon section is added to entity and group pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sentier.api.deps import DB
from sentier.api.problems import Problem
from sentier.api.views import greenops as views
from sentier.web.app import WebUser, render
from sentier.web.sections import ENTITY_SECTIONS, Section

router = APIRouter(include_in_schema=False)
Method = Annotated[str, Query(pattern="^(ccf|boavizta)$")]
Period = Annotated[str | None, Query(pattern=r"^(\d{4}-(0[1-9]|1[0-2]))?$")]


@router.get("/greenops", response_class=HTMLResponse)
def overview(
    request: Request, principal: WebUser, session: DB, method: Method = "ccf", period: Period = None
) -> HTMLResponse:
    period = period or None
    data = views.overview(session, method=method, period=period)
    query = "&".join(f"{k}={v}" for k, v in (("method", method), ("period", period)) if v)
    return render(
        request,
        "greenops.html",
        {"data": data, "method": method, "period": period,
         "json_url": "/api/v1/greenops/overview" + (f"?{query}" if query else "")},
    )  # fmt: skip


@router.get("/greenops/lines/{line_id}", response_class=HTMLResponse)
def line(request: Request, principal: WebUser, session: DB, line_id: str) -> HTMLResponse:
    try:
        data = views.explain(session, line_id)
    except Problem as problem:
        return render(
            request, "error.html", {"status": problem.status, "message": problem.detail},
            status_code=problem.status,
        )  # fmt: skip
    return render(
        request, "greenops_line.html",
        {"line": data, "json_url": f"/api/v1/greenops/lines/{line_id}"},
    )  # fmt: skip


@router.get("/greenops/estimate", response_class=HTMLResponse)
def estimate(
    request: Request,
    principal: WebUser,
    provider: Annotated[str, Query(pattern="^(aws|gcp|azure)$")] = "aws",
    instance_type: Annotated[str, Query(max_length=64)] = "m5.large",
    region: Annotated[str, Query(max_length=64)] = "eu-west-3",
    hours: Annotated[float, Query(ge=0, le=1_000_000)] = 1.0,
    utilization: Annotated[str, Query(max_length=8)] = "",
    method: Method = "boavizta",
) -> HTMLResponse:
    """A GET form: what one workload emits, CCF and Boavizta side by side, every region."""
    error, result = None, None
    try:
        value = float(utilization) if utilization.strip() else None
        if value is not None and not 0 <= value <= 1:
            raise ValueError
    except ValueError:
        error, value = "Utilisation is a number between 0 and 1.", None
    if error is None:
        try:
            result = views.estimate(
                provider=provider, instance_type=instance_type, region=region, hours=hours,
                utilization=value, method=method, compare_regions=True,
            )  # fmt: skip
        except Problem as problem:
            error = problem.detail
            if problem.slug == "greenops-boavizta-unavailable":
                # Boavizta is optional: say how to install it, and show CCF's figure anyway.
                result = views.estimate(
                    provider=provider, instance_type=instance_type, region=region, hours=hours,
                    utilization=value, method="ccf", compare_regions=True,
                )  # fmt: skip
    params = {"provider": provider, "instance_type": instance_type, "region": region,
              "hours": hours, "utilization": utilization, "method": method}  # fmt: skip
    query = "&".join(f"{k}={v}" for k, v in params.items() if v not in ("", None))
    return render(
        request,
        "greenops_estimate.html",
        {"params": params, "result": result, "error": error,
         "json_url": f"/api/v1/greenops/estimate?{query}&compare_regions=true"},
    )  # fmt: skip


@router.get("/greenops/summary", response_class=HTMLResponse)
def summary(
    request: Request,
    principal: WebUser,
    session: DB,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> HTMLResponse:
    try:
        data = views.summary(session, year=year)
    except Problem as problem:
        return render(
            request, "error.html", {"status": problem.status, "message": problem.detail},
            status_code=problem.status,
        )  # fmt: skip
    return render(
        request, "greenops_summary.html",
        {"data": data, "json_url": "/api/v1/greenops/summary" + (f"?year={year}" if year else "")},
    )  # fmt: skip


def carbon_section(session: Session, ref: str, kind: str) -> Section | None:
    """The carbon of an entity or group, on its catalog page."""
    try:
        data: dict[str, Any] | None = views.entity_carbon(session, ref, kind)
    except Problem:
        return None
    if data is None:
        return None
    kind_part, rest = ref.split(":", 1)
    return Section(
        title="Carbon footprint",
        template="_greenops_section.html",
        context={"carbon": data},
        json_url=f"/api/v1/greenops/entities/{kind_part}/{rest}",
    )


ENTITY_SECTIONS.append(carbon_section)
