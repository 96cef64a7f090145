"""GreenOps views shared by the API and the portal: plain JSON-ready dicts, no rendering.

Every portal page of GreenOps shows one of these and links its JSON twin; the logic lives in
``sentier.greenops``, these only open the facts and shape the result for the web.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from sentier import greenops
from sentier.api.problems import Problem

NO_DATA = "no billing data yet: ingest FOCUS billing with `sentier cost ingest PATH`"


def plain_dict(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = plain(value)
    return out


def plain(value: Any) -> Any:
    """JSON-ready: decimals as strings to the cent, floats rounded to 9 places."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return None if value != value else round(value, 9)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


@contextmanager
def carbon_context(
    session: Session, *, method: str = "ccf", periods: list[str] | None = None
) -> Iterator[greenops.CarbonContext | None]:
    """The carbon context of the stored facts, or None when no billing was ingested."""
    from sentier.analytics import duckdb_connection
    from sentier.finops import Facts, FinOpsError, load_rules, load_snapshot

    try:
        rules = load_rules(None)
    except FinOpsError as error:
        raise Problem(409, f"allocation rules: {error}", slug="greenops-rules") from error
    con = duckdb_connection()
    try:
        facts = Facts(con, periods=periods)
        if not facts.available_periods():
            yield None
            return
        unknown = sorted(set(periods or []) - set(facts.available_periods()))
        if unknown:
            raise Problem(404, f"no billing data for {', '.join(unknown)}", slug="greenops-period")
        yield greenops.CarbonContext(
            facts,
            load_snapshot(session),
            rules,
            greenops.load_coefficients(),
            greenops.load_resource_facts(session),
            method,
        )
    except greenops.BoaviztaUnavailable as error:
        raise _unavailable(error) from error
    except greenops.GreenOpsError as error:
        raise Problem(400, str(error), slug="greenops-input") from error
    finally:
        con.disconnect()


def _unavailable(error: Exception) -> Problem:
    """The Boavizta method asked for where boaviztapi is not installed: how to install it."""
    return Problem(
        501, str(error), slug="greenops-boavizta-unavailable", title="Boavizta not installed"
    )


def _empty(kind: str) -> dict[str, Any]:
    return {"available": False, "message": NO_DATA, "kind": kind}


def report(
    session: Session, *, by: str, periods: list[str] | None = None, method: str = "ccf"
) -> dict[str, Any]:
    with carbon_context(session, method=method, periods=periods) as ctx:
        if ctx is None:
            return _empty("report")
        result = greenops.carbon_report(ctx, by=by)
        result["not_estimated_reasons"] = greenops.not_estimated_reasons(ctx, limit=10)
    return {"available": True, **plain(result)}


def overview(session: Session, *, method: str = "ccf", period: str | None = None) -> dict[str, Any]:
    """The GreenOps overview: per group, region and service, coverage, top lines."""
    periods = [period] if period else None
    with carbon_context(session, method=method, periods=periods) as ctx:
        if ctx is None:
            return _empty("overview")
        by_group = greenops.carbon_report(ctx, by="group")
        by_region = greenops.carbon_report(ctx, by="region")
        by_service = greenops.carbon_report(ctx, by="service")
        lines = greenops.top_lines(ctx, limit=10)
        reasons = greenops.not_estimated_reasons(ctx, limit=8)
        available = ctx.facts.available_periods()
    return plain_dict(
        {
            "available": True,
            "method": method,
            "period": period,
            "periods_available": available,
            "coefficients": by_group["coefficients"],
            "periods": by_group["periods"],
            "totals": by_group["totals"],
            "coverage": by_group["coverage"],
            "not_estimated": by_group["not_estimated"],
            "not_estimated_reasons": reasons,
            "groups": by_group["rows"],
            "regions": by_region["rows"][:15],
            "services": by_service["rows"][:15],
            "top_lines": lines,
        }
    )


def summary(session: Session, *, year: int | None, method: str = "ccf") -> dict[str, Any]:
    with carbon_context(session, method=method) as ctx:
        if ctx is None:
            return _empty("summary")
        return {"available": True, **plain(greenops.yearly_summary(ctx, year=year))}


def lines(
    session: Session,
    *,
    top: int,
    owner: str | None,
    entity: str | None,
    period: str | None,
    method: str = "ccf",
) -> dict[str, Any]:
    with carbon_context(session, method=method) as ctx:
        if ctx is None:
            return {**_empty("lines"), "lines": []}
        found = greenops.top_lines(ctx, limit=top, owner=owner, entity=entity, period=period)
    return {"available": True, "lines": plain(found)}


def explain(session: Session, line_id: str, *, method: str = "ccf") -> dict[str, Any]:
    try:
        greenops.parse_line_id(line_id)
    except greenops.GreenOpsError as error:
        raise Problem(400, str(error), slug="greenops-line-id") from error
    with carbon_context(session, method=method) as ctx:
        if ctx is None:
            raise Problem(404, NO_DATA, slug="greenops-no-data")
        try:
            return plain_dict(greenops.explain(ctx, line_id))
        except greenops.GreenOpsError as error:
            raise Problem(404, str(error), slug="greenops-line") from error


def estimate(
    *,
    provider: str,
    instance_type: str,
    region: str,
    hours: float,
    utilization: float | None,
    method: str,
    compare_regions: bool = False,
) -> dict[str, Any]:
    coefficients = greenops.load_coefficients()
    key = greenops.provider_key(provider)
    if key is None:
        raise Problem(400, f"unknown provider {provider!r}; expected aws, gcp or azure")
    try:
        result: dict[str, Any] = {
            "ccf": greenops.estimate_instance(
                coefficients, key, instance_type, region, hours=hours, utilization=utilization
            ).as_dict()
        }
        if method == "boavizta":
            result["boavizta"] = greenops.boavizta_instance_hours(
                key, instance_type, region, 0.5 if utilization is None else utilization, hours
            ).as_dict()
        if compare_regions:
            result["regions"] = greenops.compare_regions(
                coefficients,
                key,
                instance_type,
                hours=hours,
                utilization=utilization,
                base_region=region,
            )
    except greenops.BoaviztaUnavailable as error:
        raise _unavailable(error) from error
    except greenops.GreenOpsError as error:
        raise Problem(400, str(error), slug="greenops-input") from error
    return plain_dict(result)


def entity_carbon(session: Session, ref: str, kind: str) -> dict[str, Any] | None:
    """Carbon of one entity (components, resources, systems) or group (with its children)."""
    kind = kind.lower()
    if kind not in ("group", "system", "component", "resource"):
        return None
    with carbon_context(session) as ctx:
        if ctx is None:
            return None
        rows = greenops.carbon_rows(ctx, key_dims=["ServiceName", "RegionId"])
        if kind == "group":
            mine = [
                r
                for r in rows
                if r.get("owner_ref") and ref in ctx.snapshot.ancestors(str(r["owner_ref"]))
            ]
        elif kind == "system":
            mine = [r for r in rows if r.get("system_ref") == ref or r.get("entity_ref") == ref]
        else:
            mine = [r for r in rows if r.get("entity_ref") == ref]
        if not mine:
            return None
        top = greenops.top_lines(
            ctx,
            limit=5,
            owner=ref if kind == "group" else None,
            entity=ref if kind != "group" else None,
        )
    periods: dict[str, float] = {}
    services: dict[str, float] = {}
    totals = {"scope2_location": 0.0, "scope2_market": 0.0, "scope3": 0.0, "energy_kwh": 0.0}
    costs: dict[str, Decimal] = {}
    unestimated = 0
    for row in mine:
        kg = row["scope2_location"] + row["scope3"]
        periods[str(row["period"])] = periods.get(str(row["period"]), 0.0) + kg
        service = str(row.get("ServiceName") or "(none)")
        services[service] = services.get(service, 0.0) + kg
        for name in totals:
            totals[name] += row[name]
        costs[str(row["currency"])] = costs.get(str(row["currency"]), Decimal(0)) + row["effective"]
        if row["status"] == greenops.NOT_ESTIMATED:
            unestimated += row["lines"]
    return plain_dict(
        {
            "ref": ref,
            "total_kg": totals["scope2_location"] + totals["scope3"],
            "scope2_location_kg": totals["scope2_location"],
            "scope2_market_kg": totals["scope2_market"],
            "scope3_kg": totals["scope3"],
            "energy_kwh": totals["energy_kwh"],
            "cost": costs,
            "periods": dict(sorted(periods.items())),
            "services": dict(sorted(services.items(), key=lambda kv: -kv[1])[:8]),
            "not_estimated_lines": unestimated,
            "top_lines": top,
        }
    )


def resource_sources(session: Session) -> list[dict[str, Any]]:
    return greenops.resource_sources(session)
