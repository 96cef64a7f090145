"""Showback, reconciliation and tag coverage: plain rows for the CLI, the API and the portal.

Every function returns lists of dicts (amounts as ``Decimal``), never rendered text, so JSON
routes and pages can be added on top without logic of their own.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import ibis

from sentier.finops.allocation import (
    UNUSED_COMMITMENTS_POOL,
    allocated,
    allocation_inputs,
    evaluate,
    mapping_table,
)
from sentier.finops.columns import PERIOD, TAG_VIOLATIONS, tag_column
from sentier.finops.errors import FinOpsError
from sentier.finops.facts import Facts
from sentier.finops.ownership import UNALLOCATED, CatalogSnapshot
from sentier.finops.rules import AllocationRules, SharedPool
from sentier.finops.shared import round_cents, split_pools

NONE_LABEL = "(none)"

# Report dimension -> column of the allocated rows.
DIMENSIONS = {
    "group": "owner_ref",
    "owner": "owner_ref",
    "system": "system_ref",
    "component": "entity_ref",
    "entity": "entity_ref",
    "service-category": "ServiceCategory",
    "service": "ServiceName",
    "region": "RegionId",
    "sub-account": "SubAccountId",
    "provider": "ProviderName",
    "charge-category": "ChargeCategory",
    "currency": "currency",
    "rule": "rule",
}
# Dimensions every allocated row carries already (attribution and currency), not fact columns
# to group the cost lines by.
ALLOCATED_DIMENSIONS = frozenset({"owner_ref", "system_ref", "entity_ref", "rule", "currency"})


@dataclass
class Scope:
    """Which costs a report covers: billing periods and/or a range of charge dates."""

    periods: list[str] | None = None
    date_from: date | None = None
    date_to: date | None = None  # exclusive

    def period_filter(self) -> list[str] | None:
        if self.periods:
            return self.periods
        if self.date_from is None and self.date_to is None:
            return None
        return None


def dimension_column(by: str, facts: Facts) -> str:
    if by.startswith("tag:"):
        key = by[4:]
        canonical = facts.plan.canonical_key(key)
        if canonical is None:
            raise FinOpsError(
                f"tag {key!r} is not a key of the tagging plan; keys: {', '.join(facts.plan.keys)}"
            )
        return tag_column(canonical)
    if by not in DIMENSIONS:
        raise FinOpsError(
            f"unknown report dimension {by!r}; expected one of "
            f"{', '.join([*DIMENSIONS, 'tag:KEY'])}"
        )
    return DIMENSIONS[by]


@dataclass
class Allocation:
    """Allocated cost rows of a scope (shared pools already split), with their inputs."""

    rows: list[dict[str, Any]]
    mapping: Any
    key_dims: list[str]
    facts: Facts
    rules: AllocationRules
    snapshot: CatalogSnapshot
    unused_commitments: list[dict[str, Any]] = field(default_factory=list)


def allocate(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    key_dims: Sequence[str] = (),
    scope: Scope | None = None,
    daily: bool = False,
) -> Allocation:
    """Every cost line of the scope attributed (the core of every report)."""
    scope = scope or Scope()
    dims = list(dict.fromkeys(key_dims))
    redistribute = rules.commitments.unused == "redistribute"
    if redistribute and "CommitmentDiscountStatus" not in dims:
        dims.append("CommitmentDiscountStatus")
    mapping = mapping_for(facts, snapshot, rules)
    expr = allocated(
        facts,
        mapping_table(mapping),
        key_dims=[d for d in dims if d not in {"currency"}],
        daily=daily,
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    # Arrow, not pandas: decimals come back as Decimal and missing values as None directly
    # (through pandas, each of millions of cells was boxed, normalised and NaN-tested).
    rows: list[dict[str, Any]] = []
    for record in expr.to_pyarrow().to_pylist():
        row = {str(k): (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        row["period"] = row.pop(PERIOD)
        row["currency"] = row.pop("BillingCurrency")
        for name in ("effective", "billed", "list_cost"):
            value = row[name]
            if value is None:
                row[name] = Decimal(0)
            elif not isinstance(value, Decimal):
                row[name] = Decimal(str(value))
        if redistribute and row.get("CommitmentDiscountStatus") == "Used":
            row["commitment_used"] = row["effective"]
        rows.append(row)
    pools: dict[str, SharedPool | None] = {p.name: p for p in rules.shared}
    pools[UNUSED_COMMITMENTS_POOL] = None
    rows = split_pools(rows, pools, dims=dims)
    return Allocation(rows, mapping, dims, facts, rules, snapshot)


def inputs_fingerprint(facts: Facts, snapshot: CatalogSnapshot, rules: AllocationRules) -> str:
    """What every allocated figure depends on: the stored facts (manifest version and the
    periods read), the catalog snapshot, the rules and the tagging plan.

    Two calls with the same fingerprint give the same allocation, so results derived from it
    (the mapping below, the API's cached reports) can be reused safely.
    """
    import hashlib
    import json

    # The slices read, with their files, rows and totals: a manifest version alone repeats
    # when a fact store is recreated (or in another SENTIER_HOME of the same process).
    slices = json.dumps(
        [(p, s, item.as_dict()) for p, s, item in facts.manifest.slices(facts.periods)],
        sort_keys=True,
    )
    return hashlib.sha1(
        "|".join(
            [
                str(facts.dataset.root),
                str(facts.manifest.version),
                slices,
                ",".join(facts.periods),
                snapshot.fingerprint(),
                rules.fingerprint(),
                facts.plan.model.model_dump_json(),
            ]
        ).encode("utf-8")
    ).hexdigest()[:20]


def mapping_for(facts: Facts, snapshot: CatalogSnapshot, rules: AllocationRules) -> Any:
    """The allocation mapping of the facts' keys, cached until facts, catalog or rules change.

    The cache key covers everything the mapping depends on (``inputs_fingerprint``), so a
    stale mapping is never used.
    """
    import uuid

    import pandas as pd

    fingerprint = inputs_fingerprint(facts, snapshot, rules)
    cache = facts.dataset.root / "_cache"
    path = cache / f"mapping-{fingerprint}.parquet"
    if path.is_file():
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    mapping = evaluate(allocation_inputs(facts), snapshot, rules, facts.plan)
    if facts.periods:
        cache.mkdir(parents=True, exist_ok=True)
        # A name of its own: two server threads may compute the same mapping at once.
        temporary = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:8]}.tmp")
        mapping.to_parquet(temporary, index=False)
        temporary.replace(path)
        _keep_recent(cache, 16)
    return mapping


def _keep_recent(cache: Any, keep: int) -> None:
    """Drop all but the ``keep`` most recent mappings (another process may be doing the same)."""
    dated = []
    for candidate in cache.glob("mapping-*.parquet"):
        try:
            dated.append((candidate.stat().st_mtime, candidate))
        except FileNotFoundError:
            continue
    for _, old in sorted(dated)[:-keep]:
        old.unlink(missing_ok=True)


def _is_missing(value: Any) -> bool:
    """None, NaN, NaT and pandas' NA alike: engines hand back missing values differently."""
    import pandas as pd

    if value is None:
        return True
    if isinstance(value, list | tuple | dict):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _label(value: Any) -> str:
    return NONE_LABEL if value is None or value == "" else str(value)


def showback(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    by: str = "group",
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Cost per ``by`` value and billing period, with month-over-month change and totals.

    ``by=group`` rolls child groups up into their parents: ``direct`` is what the group owns
    itself, ``total`` includes its descendants. Returns ``{"by", "periods", "rows", "totals",
    "period_totals", "reconciliation"}``; each row has ``key``, ``currency``, ``periods``
    (period -> amount), ``total``, ``share`` and ``change`` (last period against the one
    before).
    """
    column = dimension_column(by, facts)
    dims = [] if column in ALLOCATED_DIMENSIONS else [column]
    allocation = allocate(facts, snapshot, rules, key_dims=dims, scope=scope)
    periods = sorted({str(r["period"]) for r in allocation.rows})
    cells: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    direct_cells: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for row in allocation.rows:
        value = row.get(column) if column != "currency" else row["currency"]
        keys = [_label(value)]
        if by == "group" and value not in (None, UNALLOCATED):
            keys = snapshot.ancestors(str(value))
        for position, key in enumerate(keys):
            cells[(key, str(row["currency"]))][str(row["period"])] += row["effective"]
            if position == 0:
                direct_cells[(key, str(row["currency"]))][str(row["period"])] += row["effective"]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    period_totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in allocation.rows:
        totals[str(row["currency"])] += row["effective"]
        period_totals[str(row["currency"])][str(row["period"])] += row["effective"]
    out_rows = []
    for (key, currency), values in cells.items():
        total = sum(values.values(), Decimal(0))
        direct = sum(direct_cells.get((key, currency), {}).values(), Decimal(0))
        last, before = (periods[-1], periods[-2]) if len(periods) >= 2 else (None, None)
        change = None
        if last and before and values.get(before):
            change = float((values.get(last, Decimal(0)) - values[before]) / values[before])
        item: dict[str, Any] = {
            "key": key,
            "currency": currency,
            "periods": {p: values.get(p, Decimal(0)) for p in periods},
            "total": total,
            "share": float(total / totals[currency]) if totals[currency] else None,
            "change": change,
        }
        if by == "group":
            item["direct"] = direct
            item["parent"] = snapshot.group_parent().get(key)
        out_rows.append(item)
    out_rows.sort(key=lambda r: (r["currency"], -r["total"], r["key"]))
    return {
        "by": by,
        "periods": periods,
        "rows": out_rows,
        "totals": dict(totals),
        "period_totals": {
            c: {p: v.get(p, Decimal(0)) for p in periods} for c, v in period_totals.items()
        },
        "reconciliation": reconcile(allocation),
    }


def reconcile(allocation: Allocation) -> list[dict[str, Any]]:
    """Per currency: input EffectiveCost (as ingested) = allocated to owners + unallocated.

    The input side is the total recorded per slice at ingestion, not recomputed from the
    allocation, so a line lost or counted twice by a join would show as a difference.
    Only meaningful on whole billing periods (no date range).
    """
    expected = allocation.facts.slice_totals()
    owners: dict[str, Decimal] = defaultdict(Decimal)
    unallocated: dict[str, Decimal] = defaultdict(Decimal)
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for row in allocation.rows:
        currency = str(row["currency"])
        billed[currency] += row["billed"]
        if row["owner_ref"] == UNALLOCATED:
            unallocated[currency] += row["effective"]
        else:
            owners[currency] += row["effective"]
    out = []
    for currency in sorted(set(expected) | set(owners) | set(unallocated)):
        input_total = Decimal(expected.get(currency, {}).get("effective", Decimal(0)))
        allocated_total = owners[currency] + unallocated[currency]
        out.append(
            {
                "currency": currency,
                "input_effective": input_total,
                "allocated": owners[currency],
                "unallocated": unallocated[currency],
                "difference": input_total - allocated_total,
                "input_billed": Decimal(expected.get(currency, {}).get("billed", Decimal(0))),
                "billed": billed[currency],
                "balanced": input_total == allocated_total,
            }
        )
    return out


def tag_coverage(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    by: str = "sub-account",
    scope: Scope | None = None,
    worst: int = 10,
) -> dict[str, Any]:
    """Share of EffectiveCost fully tagged (per the tagging plan), per ``by``, worst first.

    Also lists the resources with the most untagged or mis-tagged cost (``offenders``) with
    what is wrong with their tags.
    """
    column = dimension_column(by, facts)
    dims = [TAG_VIOLATIONS]
    if column not in ALLOCATED_DIMENSIONS and column not in dims:
        dims.append(column)
    allocation = allocate(facts, snapshot, rules, key_dims=dims, scope=scope)
    groups: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(
        lambda: {"tagged": Decimal(0), "total": Decimal(0)}
    )
    overall: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"tagged": Decimal(0), "total": Decimal(0)}
    )
    for row in allocation.rows:
        currency = str(row["currency"])
        cost = row["effective"]
        compliant = row.get(TAG_VIOLATIONS) == ""
        key = (_label(row.get(column)), currency)
        groups[key]["total"] += cost
        overall[currency]["total"] += cost
        if compliant:
            groups[key]["tagged"] += cost
            overall[currency]["tagged"] += cost
    rows: list[dict[str, Any]] = [
        {
            "key": key,
            "currency": currency,
            "tagged": values["tagged"],
            "total": values["total"],
            "untagged": values["total"] - values["tagged"],
            "coverage": float(values["tagged"] / values["total"]) if values["total"] else None,
        }
        for (key, currency), values in groups.items()
    ]
    rows.sort(key=lambda r: (r["coverage"] if r["coverage"] is not None else 2, -r["untagged"]))
    worst_rows = offenders(facts, allocation.mapping, scope or Scope(), worst)
    return {
        "by": by,
        "rows": rows,
        "overall": [
            {
                "currency": currency,
                "tagged": v["tagged"],
                "total": v["total"],
                "coverage": float(v["tagged"] / v["total"]) if v["total"] else None,
            }
            for currency, v in sorted(overall.items())
        ],
        "offenders": worst_rows,
        "required_keys": facts.plan.required_keys,
    }


def offenders(facts: Facts, mapping: Any, scope: Scope, worst: int) -> list[dict[str, Any]]:
    """The resources with the most untagged or mis-tagged cost, and what is wrong with them.

    Summed and ranked by the engine, not in Python: there is one row per resource here (a
    hundred thousand on a large bill) where coverage itself needs a few hundred. Lines of
    shared pools (support plans...) are matched by rule, not by tags: they are not offenders.
    """
    expr = allocated(
        facts,
        mapping_table(mapping),
        key_dims=[TAG_VIOLATIONS, "ResourceId", "SubAccountId"],
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    wrong = expr.filter(expr.pool.isnull() & (expr[TAG_VIOLATIONS].fill_null("-") != ""))
    summed = wrong.group_by(["ResourceId", "SubAccountId", TAG_VIOLATIONS, "BillingCurrency"])
    ranked = (
        summed.aggregate(cost=wrong.effective.sum(), owner=wrong.owner_ref.max())
        .filter(lambda t: t.cost != 0)
        .order_by([ibis.desc("cost"), "ResourceId"])
        .limit(worst)
    )
    out = []
    for record in ranked.to_pandas().to_dict("records"):
        row = {str(k): (None if _is_missing(v) else v) for k, v in record.items()}
        out.append(
            {
                "resource_id": _label(row["ResourceId"]),
                "sub_account": row["SubAccountId"],
                "currency": str(row["BillingCurrency"]),
                "violations": str(row[TAG_VIOLATIONS] or "no tags").split(";"),
                "owner": row["owner"],
                "cost": Decimal(str(row["cost"])),
            }
        )
    return out


def rounded(values: dict[str, Decimal]) -> dict[str, Decimal]:
    """Amounts to the cent, adding up to the rounded total (for display)."""
    return round_cents(values)


__all__ = ["Scope", "allocate", "inputs_fingerprint", "reconcile", "showback", "tag_coverage"]
