"""Chargeback export: every cost line in FOCUS columns, with who it was allocated to.

Allocation goes into FOCUS 1.3's own columns, ``AllocatedMethodId`` (the rule, or
``shared:<pool>``) and ``AllocatedMethodDetails`` (for a shared line, how its period's pool
was split: owner -> fraction), plus ``x_AllocatedOwner``, ``x_AllocatedEntity`` and
``x_AllocatedSystem``. Line costs are never altered, so the export sums to the invoice.

Conformance (checked in the test suite by the FinOps Foundation's ``focus-validator`` and by
sentier's own checks from the FOCUS column catalogue): date-times are ISO 8601 in UTC with a
``Z`` (``2026-05-01T00:00:00Z``) in CSV, and UTC timestamps in Parquet; money stays exact
decimals; a column FOCUS forbids to be null is left out when the data never carried it (a
FOCUS 1.0 bill has no ``BillingAccountType``) rather than written empty; ``ServiceProviderName``
(FOCUS 1.3) is ``ProviderName`` where the bill predates it, as the 1.3 specification renames it.
As CSV, text cells that a spreadsheet would run as a formula (a tag ``=HYPERLINK(...)``) get
a leading single quote; numbers are written as numbers, untouched (``sentier.csvsafe``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pandas as pd

from sentier.csvsafe import write_table
from sentier.finops.allocation import mapping_table
from sentier.finops.columns import LINE_KEY, PERIOD, FocusColumn, focus_columns
from sentier.finops.facts import Facts
from sentier.finops.ownership import CatalogSnapshot
from sentier.finops.reports import Scope, allocate
from sentier.finops.rules import AllocationRules


def export_focus(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    target: Path,
    *,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Write the allocated lines to ``target`` (``.parquet`` or ``.csv``); returns a summary."""
    allocation = allocate(facts, snapshot, rules, scope=scope)
    shares: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for row in allocation.rows:
        rule = row.get("rule") or ""
        if rule.startswith("shared:"):
            shares[(rule[7:], str(row["period"]), str(row["currency"]))][str(row["owner_ref"])] += (
                row["effective"]
            )
    details = []
    for (pool, period, currency), owners in shares.items():
        total = sum(owners.values(), Decimal(0))
        split = {k: float(v / total) if total else 0.0 for k, v in sorted(owners.items())}
        details.append(
            {
                "pool": pool,
                PERIOD: period,
                "currency": currency,
                "details": json.dumps({"split": split}),
            }
        )
    detail_table = ibis.memtable(
        pd.DataFrame(details, columns=["pool", PERIOD, "currency", "details"]),
        schema=ibis.schema(
            {"pool": "string", PERIOD: "string", "currency": "string", "details": "string"}
        ),
    )
    mapping = mapping_table(allocation.mapping)
    lines = facts.cost_lines()
    if scope is not None and scope.date_from is not None:
        lines = lines.filter(lines.ChargePeriodStart >= scope.date_from)
    if scope is not None and scope.date_to is not None:
        lines = lines.filter(lines.ChargePeriodStart < scope.date_to)
    first = lines.join(mapping, LINE_KEY)
    first = first.select(*first.columns)
    joined = first.left_join(
        detail_table,
        [
            first.pool == detail_table.pool,
            first[PERIOD] == detail_table[PERIOD],
            first.BillingCurrency == detail_table.currency,
        ],
    )
    csv = target.suffix.lower() == ".csv"
    carried = _carried(joined)
    columns: dict[str, Any] = {}
    for column in focus_columns():
        if column.name in {"AllocatedMethodId", "AllocatedMethodDetails"}:
            continue
        if column.name not in carried:
            continue
        value = joined[column.name]
        if column.name == "ServiceProviderName":
            value = value.fill_null(joined.ProviderName)
        columns[column.name] = _datetime(value, csv=csv) if column.type == "datetime" else value
    columns["AllocatedMethodId"] = joined.rule.fill_null("unallocated")
    columns["AllocatedMethodDetails"] = joined.details
    columns["x_AllocatedOwner"] = joined.owner_ref.fill_null(ibis.literal("shared:") + joined.pool)
    columns["x_AllocatedEntity"] = joined.entity_ref
    columns["x_AllocatedSystem"] = joined.system_ref
    result = joined.select(**columns).order_by(["ChargePeriodStart", "ResourceId"])
    target.parent.mkdir(parents=True, exist_ok=True)
    if csv:
        # Names, tags and descriptions come from whoever tags a resource: written so that no
        # spreadsheet runs them as formulas (``sentier.csvsafe``).
        write_table(result, target)
    else:
        result.to_parquet(str(target))
    counted = result.aggregate(
        rows=result.count(), effective=result.EffectiveCost.sum()
    ).to_pandas()
    return {
        "path": str(target),
        "rows": int(counted["rows"].iloc[0]),
        "effective": Decimal(str(counted["effective"].iloc[0] or 0)),
    }


def _datetime(value: Any, *, csv: bool) -> Any:
    """FOCUS date-times: ISO 8601 in UTC with ``Z`` in CSV; UTC timestamps in Parquet. Facts
    hold UTC wall-clock times (ingestion converts), and the connection's zone is UTC."""
    if csv:
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.cast(dt.Timestamp(timezone="UTC", scale=6))


def _carried(table: Any) -> set[str]:
    """The FOCUS columns to write: all, except those FOCUS says may not be null that are null
    on every line (the bill never had them: writing them empty would break the spec)."""
    strict: list[FocusColumn] = [
        c
        for c in focus_columns()
        if not c.nullable and c.name in table.columns and c.name != "ServiceProviderName"
    ]
    names = {c.name for c in focus_columns()}
    if not strict:
        return names
    counts = table.aggregate(
        **{c.name: table[c.name].count() for c in strict}  # count() skips nulls
    ).to_pandas()
    return names - {c.name for c in strict if int(counts[c.name].iloc[0]) == 0}
