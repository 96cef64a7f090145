"""Carbon reports: kgCO2e per owner and dimension beside cost, a yearly summary per scope.

Every report is one Ibis expression over the FinOps facts: the lines (summed per month and
description, as written at ingestion) joined to the carbon mapping (``mapping``) and to
FinOps' allocation mapping, so carbon lands on exactly the owners cost lands on. It runs on
DuckDB by default and on any Ibis backend FinOps runs on. Functions return plain rows
(dicts of floats and strings) for the CLI, the API and the portal alike.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from sentier.finops import (
    UNALLOCATED,
    AllocationRules,
    CatalogSnapshot,
    Facts,
    Scope,
)
from sentier.greenops.classify import ESTIMATED, NOT_ESTIMATED, NOT_USAGE
from sentier.greenops.coefficients import Coefficients
from sentier.greenops.errors import GreenOpsError
from sentier.greenops.mapping import (
    FACTOR_COLUMNS,
    LINE_KEY,
    PERIOD,
    carbon_mapping,
    expand,
    mapping_file,
    mapping_schema,
)
from sentier.greenops.resources import ResourceFacts

NONE_LABEL = "(none)"
# Measures summed by every report: name -> factor column of the mapping.
MEASURES = {
    "energy_kwh": "f_kwh",
    "compute_kwh": "f_compute",
    "memory_kwh": "f_memory",
    "gpu_kwh": "f_gpu",
    "storage_kwh": "f_storage",
    "network_kwh": "f_network",
    "scope2_location": "f_s2l",
    "scope2_location_low": "f_s2l_lo",
    "scope2_location_high": "f_s2l_hi",
    "scope2_market": "f_s2m",
    "scope2_market_low": "f_s2m_lo",
    "scope2_market_high": "f_s2m_hi",
    "scope3": "f_s3",
    "scope3_low": "f_s3_lo",
    "scope3_high": "f_s3_hi",
}
DIMENSIONS = {
    "group": "owner_ref",
    "owner": "owner_ref",
    "system": "system_ref",
    "component": "entity_ref",
    "entity": "entity_ref",
    "region": "RegionId",
    "service": "ServiceName",
    "service-category": "ServiceCategory",
    "provider": "ProviderName",
    "sub-account": "SubAccountId",
    "month": PERIOD,
    "kind": "kind",
    "instance-type": "instance_type",
    "status": "status",
}


@dataclass
class CarbonContext:
    """What every carbon report reads: the facts, the owners, the coefficients, the method."""

    facts: Facts
    snapshot: CatalogSnapshot
    rules: AllocationRules
    coefficients: Coefficients
    resources: ResourceFacts
    method: str = "ccf"
    _mapping: pd.DataFrame | None = field(default=None, repr=False)
    _parts: tuple[Any, Any | None] | None = field(default=None, repr=False)

    def mapping(self) -> pd.DataFrame:
        """The whole mapping as a frame (exports, small lookups); reports use ``parts``."""
        if self._mapping is None:
            self._mapping = carbon_mapping(
                self.facts, self.coefficients, self.resources, method=self.method
            )
        return self._mapping

    def parts(self) -> tuple[Any, Any | None]:
        """Both parts of the mapping as tables of the facts' backend, read in place.

        The per-key part, with FinOps' owners of each key, and the per-month part (None
        when it has no rows); see ``mapping.mapping_parts``.
        """
        if self._parts is None:
            from sentier.analytics import read_parquet_files

            schema = mapping_schema(owners=True)
            keyed_schema = schema.remove(schema.get_field_index(PERIOD))
            files = mapping_file(
                self.facts,
                self.coefficients,
                self.resources,
                method=self.method,
                owners=(self.snapshot, self.rules),
            )
            if files is None:
                self._parts = (ibis.memtable(keyed_schema.empty_table()), None)
            else:
                keyed = read_parquet_files(self.facts.con, [files.keyed], keyed_schema)
                monthly = (
                    read_parquet_files(self.facts.con, [files.monthly], mapping_schema())
                    if files.monthly_rows
                    else None
                )
                self._parts = (keyed, monthly)
        return self._parts

    def mapping_expr(self) -> Any:
        """The mapping, one row per billing period and ``line_key``, as an Ibis table."""
        keyed, monthly = self.parts()
        return expand(self.facts.keys(), keyed, monthly)


def _float(value: Any) -> float:
    if value is None:
        return 0.0
    try:
        if pd.isna(value):
            return 0.0
    except (TypeError, ValueError):
        pass
    return float(value)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def carbon_expr(
    ctx: CarbonContext, *, key_dims: Sequence[str] = (), scope: Scope | None = None
) -> Any:
    """Ibis: carbon measures and cost per period, currency, owner, status and ``key_dims``."""
    scope = scope or Scope()
    facts = ctx.facts
    summed = facts.sums(
        {
            "consumed": "ConsumedQuantity",
            "pricing": "PricingQuantity",
            "effective": "EffectiveCost",
        },
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    carbon_dims = [d for d in key_dims if d in ("kind", "instance_type")]
    fact_dims = [d for d in key_dims if d not in carbon_dims and d != PERIOD]
    keys = facts.keys().select([PERIOD, LINE_KEY, "BillingCurrency", *fact_dims])
    keyed, monthly = ctx.parts()
    # The per-key part carries FinOps' owners: one join, as the showback has one.
    carbon = keyed.select(
        LINE_KEY,
        "status",
        "kind",
        "instance_type",
        "use_pricing",
        *FACTOR_COLUMNS,
        "owner_ref",
        "entity_ref",
        "system_ref",
        "pool",
    )
    joined = summed.join(keys, [PERIOD, LINE_KEY]).join(carbon, LINE_KEY)
    factors = {column: joined[column] for column in FACTOR_COLUMNS}
    if monthly is not None:
        # Months with their own measured utilisation: those rows' factors instead.
        own = monthly.select(
            o_period=monthly[PERIOD],
            o_key=monthly[LINE_KEY],
            **{f"o_{c}": monthly[c] for c in FACTOR_COLUMNS},
        )
        joined = joined.left_join(
            own, [joined[PERIOD] == own.o_period, joined[LINE_KEY] == own.o_key]
        )
        factors = {
            column: ibis.ifelse(joined.o_key.notnull(), joined[f"o_{column}"], joined[column])
            for column in FACTOR_COLUMNS
        }
    quantity = ibis.ifelse(joined.use_pricing, joined.pricing, joined.consumed).fill_null(0)
    by = [
        PERIOD,
        "BillingCurrency",
        "owner_ref",
        "entity_ref",
        "system_ref",
        "pool",
        "status",
        *carbon_dims,
        *fact_dims,
    ]
    aggregates = {name: (quantity * factors[column]).sum() for name, column in MEASURES.items()}
    return joined.group_by(by).aggregate(
        effective=joined.effective.sum(), lines=joined.lines.sum(), **aggregates
    )


def carbon_rows(
    ctx: CarbonContext, *, key_dims: Sequence[str] = (), scope: Scope | None = None
) -> list[dict[str, Any]]:
    """Rows of ``carbon_expr`` with shared pools split between owners as FinOps splits them."""
    frame = carbon_expr(ctx, key_dims=key_dims, scope=scope).to_pandas()
    # Missing values as None, missing measures as 0, column by column (not value by value).
    for name in MEASURES:
        frame[name] = frame[name].astype("float64").fillna(0.0)
    frame["lines"] = frame["lines"].astype("float64").fillna(0.0).astype("int64")
    others = [c for c in frame.columns if c not in MEASURES and c != "lines"]
    values = frame[others].astype(object)
    frame[others] = values.where(values.notna(), None)
    rows: list[dict[str, Any]] = []
    for row in frame.rename(columns={PERIOD: "period", "BillingCurrency": "currency"}).to_dict(
        "records"
    ):
        effective = row["effective"]
        row["effective"] = Decimal(str(effective)) if effective is not None else Decimal(0)
        rows.append(row)
    return split_pools(rows, ctx.rules)


def split_pools(rows: list[dict[str, Any]], rules: AllocationRules) -> list[dict[str, Any]]:
    """Rows of shared pools handed to owners with FinOps' split of the same pool.

    Weights per period and currency follow the pool's rule as FinOps applies it (``even``,
    ``fixed`` percentages, ``proportional`` to each owner's direct effective cost, a
    ``metric`` file); a pool nobody can receive stays ``unallocated``. Carbon and cost of a
    pool row are split with the same weights, so both reports agree on who gets what.
    """
    pools = {p.name: p for p in rules.shared}
    direct: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    out, pending = [], []
    for row in rows:
        if row.get("pool"):
            pending.append(row)
            continue
        out.append(row)
        if row["owner_ref"] not in (None, UNALLOCATED):
            direct[(str(row["period"]), str(row["currency"]))][str(row["owner_ref"])] += row[
                "effective"
            ]
    metrics: dict[str, dict[str, dict[str, Decimal]]] = {}
    for row in pending:
        pool = pools.get(str(row["pool"]))
        owners = direct.get((str(row["period"]), str(row["currency"])), {})
        weights = _pool_weights(pool, str(row["period"]), owners, metrics)
        total = sum(weights.values(), Decimal(0))
        if total <= 0:
            out.append({**row, "owner_ref": UNALLOCATED, "pool": None})
            continue
        for owner, weight in weights.items():
            share = float(weight / total)
            part = {**row, "owner_ref": owner, "pool": None, "entity_ref": None, "system_ref": None}
            for name in MEASURES:
                part[name] = row[name] * share
            part["effective"] = row["effective"] * (weight / total)
            out.append(part)
    return out


def _group_ref(value: str) -> str:
    from sentier.catalog import RefError, parse_ref

    try:
        return parse_ref(value.strip(), default_kind="group").key
    except RefError:
        return value.strip().lower()


def _pool_weights(
    pool: Any, period: str, direct: dict[str, Decimal], metrics: dict[str, Any]
) -> dict[str, Decimal]:
    if pool is None:  # unused commitments: their lines carry no carbon; split by direct cost
        return {k: v for k, v in direct.items() if v > 0}
    targets = [_group_ref(t) for t in pool.targets] if pool.targets else None
    if pool.split == "fixed":
        return {_group_ref(k): Decimal(str(v)) for k, v in (pool.weights or {}).items()}
    if pool.split == "metric":
        path = pool.metric_file or ""
        if path not in metrics:
            metrics[path] = _read_metric(path)
        values = metrics[path].get(period, {})
        return {k: v for k, v in values.items() if targets is None or k in targets}
    candidates = targets if targets is not None else sorted(direct)
    if pool.split == "even":
        return dict.fromkeys(candidates, Decimal(1))
    return {k: direct.get(k, Decimal(0)) for k in candidates if direct.get(k, Decimal(0)) > 0}


def _read_metric(path: str) -> dict[str, dict[str, Decimal]]:
    """A FinOps metric split file (``period,owner,value``), read the way FinOps reads it."""
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise GreenOpsError(f"cannot read: {error.strerror}", file=path) from error
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        try:
            value = Decimal(row["value"])
        except (ArithmeticError, KeyError, TypeError) as error:
            raise GreenOpsError(
                "not a number", file=path, line=reader.line_num, field="value"
            ) from error
        owner = _group_ref(row.get("owner") or "")
        out[(row.get("period") or "").strip()][owner] = value
    return out


# -- reports --------------------------------------------------------------------------------


def _label(value: Any) -> str:
    return NONE_LABEL if value is None or value == "" else str(value)


def _empty_measures() -> dict[str, float]:
    return dict.fromkeys(MEASURES, 0.0)


def _dimension(by: str) -> str:
    if by not in DIMENSIONS:
        raise GreenOpsError(
            f"unknown report dimension {by!r}; expected one of {', '.join(DIMENSIONS)}"
        )
    return DIMENSIONS[by]


def carbon_report(
    ctx: CarbonContext, *, by: str = "group", scope: Scope | None = None
) -> dict[str, Any]:
    """kgCO2e per ``by`` value and period, beside cost; lines not estimated with their cost.

    Each row: ``key``, ``periods`` (period -> kgCO2e, scope 2 location-based + scope 3), the
    scopes and their ranges, energy, cost per currency, carbon intensity per unit of cost,
    the row's share of carbon and of cost (their ratio shows where GreenOps and FinOps
    priorities differ). ``by=group`` rolls child groups up (``direct`` and total).
    """
    column = _dimension(by)
    carbon_side = {
        "owner_ref",
        "system_ref",
        "entity_ref",
        "status",
        "kind",
        "instance_type",
        PERIOD,
    }
    dims = [] if column in carbon_side and column not in ("kind", "instance_type") else [column]
    rows = carbon_rows(ctx, key_dims=dims, scope=scope)
    periods = sorted({str(r["period"]) for r in rows})
    cells: dict[str, dict[str, Any]] = {}
    direct: dict[str, float] = defaultdict(float)
    totals = _empty_measures()
    cost_totals: dict[str, Decimal] = defaultdict(Decimal)
    unestimated: dict[str, dict[str, Any]] = {}
    for row in rows:
        for name in MEASURES:
            totals[name] += row[name]
        cost_totals[str(row["currency"])] += row["effective"]
        if row["status"] != ESTIMATED:
            _count_unestimated(unestimated, row)
        value = row.get(column) if column != PERIOD else row["period"]
        keys = [_label(value)]
        if by == "group" and value not in (None, UNALLOCATED):
            keys = ctx.snapshot.ancestors(str(value))
        for position, key in enumerate(keys):
            cell = cells.setdefault(key, _new_cell(key))
            _add(cell, row)
            if position == 0:
                direct[key] += row["scope2_location"] + row["scope3"]
    total_carbon = totals["scope2_location"] + totals["scope3"]
    out_rows = []
    for key, cell in cells.items():
        item = _finish(cell, periods, total_carbon, cost_totals)
        if by == "group":
            item["direct_kg"] = direct.get(key, 0.0)
            item["parent"] = ctx.snapshot.group_parent().get(key)
        out_rows.append(item)
    out_rows.sort(key=lambda r: (-r["total_kg"], r["key"]))
    return {
        "by": by,
        "method": ctx.method,
        "coefficients": ctx.coefficients.version,
        "periods": periods,
        "rows": out_rows,
        "totals": _totals(totals, cost_totals),
        "not_estimated": _unestimated_rows(unestimated),
        "coverage": _coverage(rows),
    }


def _new_cell(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "measures": _empty_measures(),
        "periods": defaultdict(float),
        "cost": defaultdict(Decimal),
        "lines": 0,
        "unestimated_lines": 0,
        "unestimated_cost": defaultdict(Decimal),
    }


def _add(cell: dict[str, Any], row: dict[str, Any]) -> None:
    for name in MEASURES:
        cell["measures"][name] += row[name]
    cell["periods"][str(row["period"])] += row["scope2_location"] + row["scope3"]
    cell["cost"][str(row["currency"])] += row["effective"]
    cell["lines"] += row["lines"]
    if row["status"] == NOT_ESTIMATED:
        cell["unestimated_lines"] += row["lines"]
        cell["unestimated_cost"][str(row["currency"])] += row["effective"]


def _finish(
    cell: dict[str, Any], periods: list[str], total_carbon: float, costs: dict[str, Decimal]
) -> dict[str, Any]:
    m = cell["measures"]
    carbon = m["scope2_location"] + m["scope3"]
    cost = dict(cell["cost"])
    main_currency = max(costs, key=lambda c: costs[c]) if costs else None
    cost_main = cost.get(main_currency, Decimal(0)) if main_currency else Decimal(0)
    carbon_share = carbon / total_carbon if total_carbon else None
    cost_share = (
        float(cost_main / costs[main_currency]) if main_currency and costs[main_currency] else None
    )
    return {
        "key": cell["key"],
        "periods": {p: cell["periods"].get(p, 0.0) for p in periods},
        "total_kg": carbon,
        "total_range": [
            m["scope2_location_low"] + m["scope3_low"],
            m["scope2_location_high"] + m["scope3_high"],
        ],
        "scope2_location_kg": m["scope2_location"],
        "scope2_market_kg": m["scope2_market"],
        "scope3_kg": m["scope3"],
        "energy_kwh": m["energy_kwh"],
        "cost": cost,
        "intensity_kg_per_cost": (carbon / float(cost_main)) if cost_main else None,
        "carbon_share": carbon_share,
        "cost_share": cost_share,
        "carbon_to_cost": (carbon_share / cost_share)
        if carbon_share is not None and cost_share
        else None,
        "lines": cell["lines"],
        "not_estimated_lines": cell["unestimated_lines"],
        "not_estimated_cost": dict(cell["unestimated_cost"]),
    }


def _totals(m: dict[str, float], costs: dict[str, Decimal]) -> dict[str, Any]:
    return {
        "total_kg": m["scope2_location"] + m["scope3"],
        "total_range": [
            m["scope2_location_low"] + m["scope3_low"],
            m["scope2_location_high"] + m["scope3_high"],
        ],
        "scope2_location_kg": m["scope2_location"],
        "scope2_location_range": [m["scope2_location_low"], m["scope2_location_high"]],
        "scope2_market_kg": m["scope2_market"],
        "scope2_market_range": [m["scope2_market_low"], m["scope2_market_high"]],
        "scope3_kg": m["scope3"],
        "scope3_range": [m["scope3_low"], m["scope3_high"]],
        "energy_kwh": m["energy_kwh"],
        "energy_by_component_kwh": {
            c: m[f"{c}_kwh"] for c in ("compute", "memory", "gpu", "storage", "network")
        },
        "cost": dict(costs),
    }


def _count_unestimated(acc: dict[str, dict[str, Any]], row: dict[str, Any]) -> None:
    key = str(row["status"])
    entry = acc.setdefault(key, {"status": key, "lines": 0, "cost": defaultdict(Decimal)})
    entry["lines"] += row["lines"]
    entry["cost"][str(row["currency"])] += row["effective"]


def _unestimated_rows(acc: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"status": v["status"], "lines": v["lines"], "cost": dict(v["cost"])}
        for v in sorted(acc.values(), key=lambda v: v["status"])
    ]


def _coverage(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Share of usage cost (and lines) the model could estimate, per currency."""
    usage: dict[str, Decimal] = defaultdict(Decimal)
    estimated: dict[str, Decimal] = defaultdict(Decimal)
    lines = {"estimated": 0, "not_estimated": 0, "not_usage": 0}
    for row in rows:
        currency = str(row["currency"])
        if row["status"] == NOT_USAGE:
            lines["not_usage"] += row["lines"]
            continue
        usage[currency] += row["effective"]
        if row["status"] == ESTIMATED:
            estimated[currency] += row["effective"]
            lines["estimated"] += row["lines"]
        else:
            lines["not_estimated"] += row["lines"]
    return {
        "lines": lines,
        "usage_cost": dict(usage),
        "estimated_cost": dict(estimated),
        "share_of_usage_cost": {
            c: (float(estimated[c] / usage[c]) if usage[c] else None) for c in usage
        },
    }


def not_estimated_reasons(ctx: CarbonContext, *, limit: int = 20) -> list[dict[str, Any]]:
    """Why lines are not estimated, with how many descriptions and their cost, biggest first."""
    keyed, _ = ctx.parts()
    # A key's status and reason are the same in every month (only factors vary by month).
    table = keyed.filter(keyed.status != ESTIMATED).select(
        LINE_KEY, "status", reason=keyed.reason.fill_null("")
    )
    monthly = ctx.facts.monthly()
    joined = monthly.join(table, LINE_KEY)
    grouped = joined.group_by(["status", "reason"]).aggregate(
        lines=joined.lines.sum(), cost=joined.EffectiveCost.sum(), descriptions=joined.count()
    )
    frame = grouped.order_by(ibis.desc("cost")).limit(limit).to_pandas()
    return [
        {
            "status": r["status"],
            "reason": r["reason"],
            "lines": int(r["lines"]),
            "descriptions": int(r["descriptions"]),
            "cost": Decimal(str(r["cost"])),
        }
        for r in frame.to_dict("records")
    ]


def yearly_summary(ctx: CarbonContext, *, year: int | None = None) -> dict[str, Any]:
    """Scopes 2 and 3 of cloud use for one calendar year, as a company's carbon report needs.

    Scope 2 is given both ways (GHG Protocol dual reporting): location-based, and
    market-based where the provider's carbon-free matching is known, the location-based
    factor standing in elsewhere (the share of energy with a known market factor is given).
    Scope 3 is category 1/2 upstream: the manufacturing of the servers, amortised.
    """
    periods = ctx.facts.available_periods()
    years = sorted({p[:4] for p in periods})
    if not years:
        raise GreenOpsError("no billing data yet: run `sentier cost ingest PATH` first")
    chosen = str(year) if year is not None else years[-1]
    if chosen not in years:
        raise GreenOpsError(f"no billing data for {chosen}; years: {', '.join(years)}")
    wanted = [p for p in periods if p.startswith(chosen)]
    facts = Facts(ctx.facts.con, store=ctx.facts.store, periods=wanted, plan=ctx.facts.plan)
    yearly = CarbonContext(
        facts, ctx.snapshot, ctx.rules, ctx.coefficients, ctx.resources, ctx.method
    )
    rows = carbon_rows(yearly, key_dims=["ProviderName"])
    totals = _empty_measures()
    by_provider: dict[str, dict[str, float]] = defaultdict(_empty_measures)
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        for name in MEASURES:
            totals[name] += row[name]
            by_provider[_label(row.get("ProviderName"))][name] += row[name]
        costs[str(row["currency"])] += row["effective"]
    keyed, _ = yearly.parts()
    estimated = keyed.filter(keyed.status == ESTIMATED).select(LINE_KEY)
    descriptions = facts.keys().select(PERIOD, LINE_KEY).join(estimated, LINE_KEY).count()
    known_market = _market_energy_share(yearly)
    return {
        "year": int(chosen),
        "periods": wanted,
        "complete_year": len(wanted) == 12,
        "method": ctx.method,
        "coefficients": ctx.coefficients.version,
        "sources": ctx.coefficients.sources,
        "scopes": {
            "scope2_location_based": {
                "kgCO2e": totals["scope2_location"],
                "range": [totals["scope2_location_low"], totals["scope2_location_high"]],
            },
            "scope2_market_based": {
                "kgCO2e": totals["scope2_market"],
                "range": [totals["scope2_market_low"], totals["scope2_market_high"]],
                "energy_share_with_known_market_factor": known_market,
            },
            "scope3_embodied": {
                "kgCO2e": totals["scope3"],
                "range": [totals["scope3_low"], totals["scope3_high"]],
            },
        },
        "energy_kwh": totals["energy_kwh"],
        "by_provider": {
            provider: {
                "scope2_location_kg": m["scope2_location"],
                "scope2_market_kg": m["scope2_market"],
                "scope3_kg": m["scope3"],
                "energy_kwh": m["energy_kwh"],
            }
            for provider, m in sorted(by_provider.items())
        },
        "cost": dict(costs),
        "coverage": _coverage(rows),
        "not_estimated": not_estimated_reasons(yearly, limit=10),
        "estimated_descriptions": int(descriptions.execute()),
    }


def _market_energy_share(ctx: CarbonContext) -> float | None:
    mapping = ctx.mapping_expr()
    table = mapping.select(PERIOD, LINE_KEY, "use_pricing", "f_kwh", "market_known")
    monthly = ctx.facts.monthly()
    joined = monthly.join(table, [PERIOD, LINE_KEY])
    quantity = ibis.ifelse(
        joined.use_pricing, joined.PricingQuantity, joined.ConsumedQuantity
    ).fill_null(0)
    energy = quantity * joined.f_kwh
    result = joined.aggregate(
        total=energy.sum(), known=ibis.ifelse(joined.market_known, energy, 0).sum()
    ).to_pandas()
    total = _float(result["total"].iloc[0])
    return _float(result["known"].iloc[0]) / total if total else None
