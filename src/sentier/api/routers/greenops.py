"""``/api/v1/greenops``: carbon per owner and dimension, yearly scopes, lines, what-ifs.

Read-only: carbon is computed from the billing facts on demand; the JSON twins of the
portal's GreenOps pages and of the carbon section of entity and group pages.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from sentier.api.deps import DB, Viewer
from sentier.api.problems import Problem
from sentier.api.views import greenops as views

router = APIRouter(prefix="/api/v1/greenops", tags=["greenops"])

Method = Annotated[str, Query(pattern="^(ccf|boavizta)$", description="ccf or boavizta")]
Period = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]
Periods = Annotated[
    list[str] | None, Query(description="billing periods YYYY-MM (repeatable; default: all)")
]
By = Annotated[
    str,
    Query(
        pattern="^(group|owner|system|component|entity|region|service|service-category|"
        "provider|sub-account|month|kind|instance-type|status)$"
    ),
]
Ref = Annotated[str | None, Query(max_length=512, pattern=r"^[a-z]+:[^/\s]+/[^/\s]+$")]
LineId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{16}(-\d{12})?$", max_length=29)]


def _periods(values: list[str] | None) -> list[str] | None:
    import re

    for value in values or []:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise Problem(400, f"{value!r} is not a billing period (YYYY-MM)")
    return values or None


@router.get("/overview", summary="GreenOps overview (the portal's /greenops page)")
def overview(
    principal: Viewer, session: DB, method: Method = "ccf", period: Period = None
) -> dict[str, Any]:
    return views.overview(session, method=method, period=period)


@router.get("/report", summary="kgCO2e per owner or dimension, beside cost")
def report(
    principal: Viewer, session: DB, by: By = "group", period: Periods = None, method: Method = "ccf"
) -> dict[str, Any]:
    return views.report(session, by=by, periods=_periods(period), method=method)


@router.get("/summary", summary="One year's scope 2 (location, market) and scope 3")
def summary(
    principal: Viewer,
    session: DB,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    method: Method = "ccf",
) -> dict[str, Any]:
    return views.summary(session, year=year, method=method)


@router.get("/lines", summary="The lines emitting most, with their line ids")
def lines(
    principal: Viewer,
    session: DB,
    top: Annotated[int, Query(ge=1, le=500)] = 20,
    owner: Ref = None,
    entity: Ref = None,
    period: Period = None,
    method: Method = "ccf",
) -> dict[str, Any]:
    return views.lines(session, top=top, owner=owner, entity=entity, period=period, method=method)


@router.get("/lines/{line_id}", summary="One line explained: reading, factors, sources")
def explain(
    principal: Viewer, session: DB, line_id: LineId, method: Method = "ccf"
) -> dict[str, Any]:
    return views.explain(session, line_id, method=method)


@router.get("/estimate", summary="One workload's footprint (CCF; Boavizta beside it)")
def estimate(
    principal: Viewer,
    provider: Annotated[str, Query(pattern="^(aws|gcp|azure)$")],
    instance_type: Annotated[str, Query(min_length=1, max_length=64)],
    region: Annotated[str, Query(min_length=1, max_length=64)],
    hours: Annotated[float, Query(ge=0, le=1_000_000)] = 1.0,
    utilization: Annotated[float | None, Query(ge=0, le=1)] = None,
    method: Method = "ccf",
    compare_regions: bool = False,
) -> dict[str, Any]:
    return views.estimate(
        provider=provider,
        instance_type=instance_type,
        region=region,
        hours=hours,
        utilization=utilization,
        method=method,
        compare_regions=compare_regions,
    )


@router.get(
    "/entities/{kind}/{namespace}/{name}",
    summary="Carbon of an entity or group (the entity page's carbon section)",
)
def entity(
    principal: Viewer,
    session: DB,
    kind: Annotated[str, PathParam(pattern="^(?i:group|system|component|resource)$")],
    namespace: Annotated[str, PathParam(max_length=63)],
    name: Annotated[str, PathParam(max_length=253)],
) -> dict[str, Any]:
    ref = f"{kind}:{namespace}/{name}".lower()
    found = views.entity_carbon(session, ref, kind)
    if found is None:
        return {"ref": ref, "available": False, "message": "no carbon attributed to this entity"}
    return {"available": True, **found}


@router.get("/resources", summary="Imported instance types and CPU utilisation, per source")
def resources(principal: Viewer, session: DB) -> list[dict[str, Any]]:
    return views.resource_sources(session)
