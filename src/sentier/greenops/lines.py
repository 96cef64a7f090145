"""Single lines: the biggest emitters with their ids, and one line explained step by step.

A *line id* names one FOCUS charge in the facts: the 16 hex digits of its ``line_key`` (the
stable hash FinOps gives each distinct line description at ingestion) and the start of its
charge period, ``<line_key>-<YYYYMMDDHHMM>`` (e.g. ``0c3f6e2a9b1d4e57-202609160000``). The
key alone (16 hex digits) names the description: every charge of it in the periods read.
Reports, the API and the portal show line ids; ``sentier carbon explain`` takes one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ibis
import pandas as pd

from sentier.finops import UNALLOCATED, mapping_for, mapping_table
from sentier.greenops.classify import ESTIMATED, SIGNATURE, classify
from sentier.greenops.errors import GreenOpsError
from sentier.greenops.mapping import FACTOR_COLUMNS, LINE_KEY, PERIOD, factors_for
from sentier.greenops.model import utilization_bounds
from sentier.greenops.reports import CarbonContext

LINE_ID = re.compile(r"^(?P<key>[0-9a-f]{16})(?:-(?P<start>\d{12}))?$")


def line_id(line_key: int, start: datetime | None) -> str:
    key = f"{int(line_key):016x}"
    return key if start is None else f"{key}-{start:%Y%m%d%H%M}"


def parse_line_id(text: str) -> tuple[int, datetime | None]:
    match = LINE_ID.match(text.strip().lower())
    if match is None:
        raise GreenOpsError(
            f"{text!r} is not a line id: 16 hex digits, optionally '-YYYYMMDDHHMM' "
            "(see `sentier carbon lines`)",
            field="line-id",
        )
    start = match.group("start")
    try:
        when = datetime.strptime(start, "%Y%m%d%H%M") if start else None
    except ValueError as error:
        raise GreenOpsError(
            f"{start!r} is not a date and time (YYYYMMDDHHMM)", field="line-id"
        ) from error
    return int(match.group("key"), 16), when


def _quantity(table: Any, mapping: Any) -> Any:
    return ibis.ifelse(
        mapping.use_pricing, table.PricingQuantity, table.ConsumedQuantity
    ).fill_null(0)


def top_lines(
    ctx: CarbonContext,
    *,
    limit: int = 20,
    owner: str | None = None,
    entity: str | None = None,
    period: str | None = None,
) -> list[dict[str, Any]]:
    """The lines that emit most (scope 2 location-based + scope 3), with their line ids."""
    facts = ctx.facts
    lines = facts.lines()
    if period:
        lines = lines.filter(lines[PERIOD] == period)
    mapping = ctx.mapping_expr()
    allocation = mapping_table(mapping_for(facts, ctx.snapshot, ctx.rules))
    joined = lines.join(mapping, [PERIOD, LINE_KEY]).join(allocation, LINE_KEY)
    if owner:
        groups = _group_and_children(ctx, owner)
        joined = joined.filter(joined.owner_ref.isin(groups))
    if entity:
        joined = joined.filter((joined.entity_ref == entity) | (joined.system_ref == entity))
    quantity = _quantity(joined, joined)
    kg = quantity * (joined.f_s2l + joined.f_s3)
    ranked = (
        joined.select(
            joined[PERIOD],
            joined[LINE_KEY],
            joined.ChargePeriodStart,
            joined.EffectiveCost,
            joined.status,
            joined.kind,
            joined.instance_type,
            joined.owner_ref,
            joined.entity_ref,
            kg=kg,
            energy=quantity * joined.f_kwh,
            quantity=quantity,
        )
        .order_by([ibis.desc("kg"), LINE_KEY, "ChargePeriodStart"])
        .limit(limit)
    )
    frame = ranked.to_pandas()
    if frame.empty:
        return []
    keys = facts.keys()
    wanted = [int(k) for k in frame[LINE_KEY].unique()]
    described = (
        keys.filter(keys[LINE_KEY].isin(wanted))
        .select(LINE_KEY, "ServiceName", "ResourceId", "RegionId", "BillingCurrency")
        .to_pandas()
        .drop_duplicates(LINE_KEY)
        .set_index(LINE_KEY)
    )
    out = []
    for raw in frame.to_dict("records"):
        record: dict[str, Any] = {k: (None if _missing(v) else v) for k, v in raw.items()}
        key = int(record[LINE_KEY])
        description = described.loc[key].to_dict() if key in described.index else {}
        start = record["ChargePeriodStart"]
        out.append(
            {
                "line_id": line_id(key, start),
                "period": record[PERIOD],
                "start": start.isoformat() if start is not None else None,
                "service": description.get("ServiceName"),
                "resource_id": description.get("ResourceId"),
                "region": description.get("RegionId"),
                "kind": record["kind"],
                "instance_type": record["instance_type"],
                "status": record["status"],
                "kg": float(record["kg"]),
                "energy_kwh": float(record["energy"]),
                "cost": Decimal(str(record["EffectiveCost"])),
                "currency": description.get("BillingCurrency"),
                "owner": record["owner_ref"],
                "entity": record["entity_ref"],
            }
        )
    return out


def _group_and_children(ctx: CarbonContext, ref: str) -> list[str]:
    parents = ctx.snapshot.group_parent()
    return [g for g in parents if ref in ctx.snapshot.ancestors(g)] or [ref]


def explain(ctx: CarbonContext, text: str) -> dict[str, Any]:
    """One line (or description) explained: what it is, how it was read, every factor used."""
    key, start = parse_line_id(text)
    facts = ctx.facts
    lines = facts.lines()
    selected = lines.filter(lines[LINE_KEY] == key)
    if start is not None:
        stamp = start.replace(tzinfo=UTC) if start.tzinfo is None else start
        selected = selected.filter(
            selected.ChargePeriodStart.truncate("m") == ibis.literal(stamp.replace(tzinfo=None))
        )
    frame = selected.to_pandas()
    if not frame.empty:
        # A description spans one billing period's slice; explain the latest one it is in.
        frame = frame[frame[PERIOD] == frame[PERIOD].max()]
    if frame.empty:
        raise GreenOpsError(
            f"no line {text} in the facts (periods: {', '.join(facts.periods)})", field="line-id"
        )
    keys = facts.keys()
    period = str(frame[PERIOD].iloc[0])
    description_frame = (
        keys.filter((keys[LINE_KEY] == key) & (keys[PERIOD] == period)).limit(1).to_pandas()
    )
    description = {
        k: (None if _missing(v) else v) for k, v in description_frame.iloc[0].to_dict().items()
    }
    mapping = ctx.mapping_expr()
    row = mapping.filter((mapping[LINE_KEY] == key) & (mapping[PERIOD] == period)).to_pandas()
    if row.empty:
        raise GreenOpsError(f"line {text} has no carbon mapping", field="line-id")
    mapped: dict[str, Any] = {
        str(k): (None if _missing(v) else v) for k, v in row.iloc[0].to_dict().items()
    }
    usage = classify(ctx.coefficients, {c: description.get(c) for c in SIGNATURE})
    column = "PricingQuantity" if mapped["use_pricing"] else "ConsumedQuantity"
    quantity = float(frame[column].fillna(0).sum())
    cost = sum((Decimal(str(v)) for v in frame["EffectiveCost"].fillna(0)), Decimal(0))
    allocation = mapping_for(facts, ctx.snapshot, ctx.rules)
    owner_row = allocation.loc[allocation[LINE_KEY] == key]
    # Missing parts of an allocation (an entity without an owner) come back as NaN: say None.
    owner = {
        k: (None if pd.api.types.is_scalar(v) and pd.isna(v) else v)
        for k, v in (owner_row.iloc[0].to_dict() if not owner_row.empty else {}).items()
    }
    report_figures = {name: float(mapped[name]) * quantity for name in FACTOR_COLUMNS}
    out: dict[str, Any] = {
        "line_id": text.strip().lower(),
        "charges": len(frame),
        "period": description.get(PERIOD),
        "charge_period": [
            _iso(frame["ChargePeriodStart"].min()),
            _iso(frame["ChargePeriodEnd"].max()),
        ],
        "description": {
            k: description.get(k)
            for k in (
                "ProviderName",
                "ServiceName",
                "ServiceCategory",
                "ChargeCategory",
                "ChargeDescription",
                "SkuId",
                "SkuMeter",
                "SkuPriceDetails",
                "ResourceId",
                "ResourceType",
                "RegionId",
                "SubAccountId",
                "ConsumedUnit",
                "PricingUnit",
                "BillingCurrency",
            )
        },
        "quantity": {
            "value": quantity,
            "column": column,
            "unit": usage.unit,
            "base_units_per_unit": float(mapped["per_unit"]),
        },
        "cost": {"effective": cost, "currency": description.get("BillingCurrency")},
        "owner": {
            "owner": owner.get("owner_ref") if owner.get("pool") is None else None,
            "entity": owner.get("entity_ref"),
            "system": owner.get("system_ref"),
            "rule": owner.get("rule"),
            "shared_pool": owner.get("pool"),
        },
        "status": mapped["status"],
        "reason": mapped["reason"],
        "kind": mapped["kind"],
        "method": mapped["method"],
        "instance_type": mapped["instance_type"],
        "instance_type_source": mapped["type_source"],
        "report_figures": {
            "scope2_location_kg": report_figures["f_s2l"],
            "scope2_market_kg": report_figures["f_s2m"],
            "scope3_kg": report_figures["f_s3"],
            "energy_kwh": report_figures["f_kwh"],
        },
    }
    if out["owner"]["owner"] is None and owner.get("pool") is None:
        out["owner"]["owner"] = UNALLOCATED
    if mapped["status"] != ESTIMATED:
        return out
    factors = factors_for(
        ctx.coefficients,
        str(mapped["kind"]),
        str(usage.provider),
        usage.region,
        instance_type=mapped["instance_type"],
        medium=usage.medium,
        replication=usage.replication,
    )
    measured = mapped["utilization_source"] == "measured"
    u = float(mapped["utilization"]) if mapped["utilization"] is not None else 0.5
    estimate = factors.at(
        quantity * float(mapped["per_unit"]),
        u,
        utilization_bounds(ctx.coefficients, u, measured=measured),
        utilization_source=str(mapped["utilization_source"] or "default"),
    )
    out["estimate"] = estimate.as_dict()
    out["formula"] = _formula(estimate, factors.kind)
    if str(mapped["method"]).startswith("boavizta"):
        out["estimate"]["note"] = "report figures use Boavizta; the CCF estimate is shown beside"
    return out


def _formula(estimate: Any, kind: str) -> list[str]:
    c = estimate.coefficients
    q = estimate.quantity
    steps: list[str] = []
    if kind == "instance":
        steps.append(
            f"compute = {q:g} h x {c['vcpus']:g} vCPU x ({c['min_watts_per_vcpu']:.4g} W + "
            f"{estimate.utilization:.2f} x ({c['max_watts_per_vcpu']:.4g} - "
            f"{c['min_watts_per_vcpu']:.4g}) W) / 1000 = "
            f"{estimate.energy_components['compute']:.6g} kWh"
        )
        steps.append(
            f"memory = {q:g} h x {c['extra_memory_gb']:.4g} GB beyond the SPECpower baseline x "
            f"{c['memory_kwh_per_gb_hour']} kWh/GB-h = "
            f"{estimate.energy_components['memory']:.6g} kWh"
        )
        if c.get("gpus"):
            steps.append(
                f"gpu = {q:g} h x {c['gpus']:g} x ({c['gpu_min_watts']:g} W + "
                f"{estimate.utilization:.2f} x ({c['gpu_max_watts']:g} - {c['gpu_min_watts']:g}) W)"
                f" / 1000 = {estimate.energy_components['gpu']:.6g} kWh"
            )
    else:
        for name, value in estimate.energy_components.items():
            steps.append(f"{name} = {q:g} {estimate.unit} -> {value:.6g} kWh")
    steps.append(
        f"energy = {estimate.it_kwh:.6g} kWh x PUE {estimate.pue} = {estimate.energy_kwh:.6g} kWh"
    )
    steps.append(
        f"scope 2 (location) = {estimate.energy_kwh:.6g} kWh x {estimate.grid_location} "
        f"kgCO2e/kWh = {estimate.scope2_location:.6g} kgCO2e"
    )
    if "embodied_kg_per_server" in c:
        steps.append(
            f"scope 3 = {c['embodied_kg_per_server']:g} kgCO2e x {q:g} h / "
            f"{c['server_lifespan_hours']:g} h x {c['instance_share_of_server']:.4g} = "
            f"{estimate.scope3:.6g} kgCO2e"
        )
    steps.append(
        f"total = {estimate.total:.6g} kgCO2e (range {estimate.total_range[0]:.6g} "
        f"to {estimate.total_range[1]:.6g})"
    )
    return steps


def _iso(value: Any) -> str | None:
    if _missing(value):
        return None
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def _missing(value: Any) -> bool:
    import pandas as pd

    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
