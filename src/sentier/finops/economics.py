"""Commitments, savings and unit economics: what discounts bring, what a business unit costs.

Savings are computed on usage lines only (list cost minus effective cost): commitment
purchases have no effective cost in FOCUS (their amount is amortised into the usage they
cover), so counting them again would double count.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sentier.finops.columns import LINE_KEY, PERIOD
from sentier.finops.errors import FinOpsError
from sentier.finops.facts import Facts
from sentier.finops.ownership import CatalogSnapshot
from sentier.finops.reports import Scope, allocate
from sentier.finops.rules import AllocationRules


def commitments(facts: Facts) -> dict[str, Any]:
    """Per commitment and period: purchase, used, unused, utilisation, savings; and totals."""
    monthly = facts.monthly()
    keys = facts.keys().select(
        PERIOD,
        LINE_KEY,
        "BillingCurrency",
        "CommitmentDiscountId",
        "CommitmentDiscountName",
        "CommitmentDiscountStatus",
        "ChargeCategory",
    )
    joined = monthly.join(keys, [PERIOD, LINE_KEY])
    summed = joined.group_by(
        [
            PERIOD,
            "BillingCurrency",
            "CommitmentDiscountId",
            "CommitmentDiscountName",
            "CommitmentDiscountStatus",
            "ChargeCategory",
        ]
    ).aggregate(
        billed=joined.BilledCost.sum(),
        effective=joined.EffectiveCost.sum(),
        list_cost=joined.ListCost.sum(),
    )
    rows = summed.to_pandas().to_dict("records")
    per: dict[tuple[str, str, str], dict[str, Any]] = {}
    savings: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"list": Decimal(0), "effective": Decimal(0), "billed": Decimal(0)}
    )

    def dec(value: Any) -> Decimal:
        return Decimal(str(value)) if value is not None and value == value else Decimal(0)

    for row in rows:
        currency = str(row["BillingCurrency"])
        category = row["ChargeCategory"]
        total = savings[currency]
        total["billed"] += dec(row["billed"])
        if category == "Usage":
            total["list"] += dec(row["list_cost"])
            total["effective"] += dec(row["effective"])
        commitment = row["CommitmentDiscountId"]
        if not isinstance(commitment, str):
            continue
        entry = per.setdefault(
            (commitment, str(row[PERIOD]), currency),
            {
                "commitment": commitment,
                "name": row["CommitmentDiscountName"]
                if isinstance(row["CommitmentDiscountName"], str)
                else None,
                "period": str(row[PERIOD]),
                "currency": currency,
                "purchase": Decimal(0),
                "used": Decimal(0),
                "unused": Decimal(0),
                "savings": Decimal(0),
            },
        )
        if category == "Purchase":
            entry["purchase"] += dec(row["billed"])
        elif row["CommitmentDiscountStatus"] == "Unused":
            entry["unused"] += dec(row["effective"])
        elif category == "Usage":
            entry["used"] += dec(row["effective"])
            entry["savings"] += dec(row["list_cost"]) - dec(row["effective"])
    items = sorted(per.values(), key=lambda e: (e["commitment"], e["period"]))
    for entry in items:
        covered = entry["used"] + entry["unused"]
        entry["utilisation"] = float(entry["used"] / covered) if covered else None
    return {
        "commitments": items,
        "totals": [
            {
                "currency": currency,
                "billed": v["billed"],
                "usage_list_cost": v["list"],
                "usage_effective_cost": v["effective"],
                "savings": v["list"] - v["effective"],
                "savings_rate": float((v["list"] - v["effective"]) / v["list"])
                if v["list"]
                else None,
            }
            for currency, v in sorted(savings.items())
        ],
    }


def read_kpis(path: Path) -> list[dict[str, Any]]:
    """A KPI file: CSV ``date,product,metric,value`` (product: a catalog entity reference)."""
    from sentier.catalog import RefError, parse_ref

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FinOpsError(f"cannot read: {error.strerror}", file=str(path)) from error
    reader = csv.DictReader(text.splitlines())
    missing = {"date", "product", "metric", "value"} - set(reader.fieldnames or [])
    if missing:
        raise FinOpsError(f"missing column(s) {', '.join(sorted(missing))}", file=str(path), row=1)
    out = []
    for row in reader:
        line = reader.line_num
        try:
            value = Decimal(row["value"])
        except InvalidOperation as error:
            raise FinOpsError(
                f"{row['value']!r} is not a number", file=str(path), row=line, column="value"
            ) from error
        day = row["date"].strip()
        if len(day) < 7 or day[4] != "-":
            raise FinOpsError(
                f"{day!r} is not a date (YYYY-MM-DD)", file=str(path), row=line, column="date"
            )
        try:
            product = parse_ref(row["product"], default_kind="system").key
        except RefError as error:
            raise FinOpsError(str(error), file=str(path), row=line, column="product") from error
        out.append({"month": day[:7], "product": product, "metric": row["metric"], "value": value})
    return out


def unit_costs(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    kpis: list[dict[str, Any]],
    *,
    scope: Scope | None = None,
) -> list[dict[str, Any]]:
    """Cost per unit of each KPI, per month: the product's allocated cost / the KPI's total.

    A product is a system (its components and resources), a group (with its child groups) or
    any entity; shared costs split to its owners are included for groups.
    """
    allocation = allocate(facts, snapshot, rules, scope=scope)
    cost: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    products = {k["product"] for k in kpis}
    for row in allocation.rows:
        for product in products:
            if _belongs(product, row, snapshot):
                cost[(product, str(row["period"]), str(row["currency"]))] += row["effective"]
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for kpi in kpis:
        totals[(kpi["product"], kpi["metric"], kpi["month"])] += kpi["value"]
    out = []
    previous: dict[tuple[str, str, str], Decimal] = {}
    for (product, metric, month), value in sorted(totals.items()):
        for currency in sorted({c for p, m, c in cost if p == product and m == month}):
            amount = cost[(product, month, currency)]
            unit = amount / value if value else None
            key = (product, metric, currency)
            change = (
                float((unit - previous[key]) / previous[key])
                if unit is not None and previous.get(key)
                else None
            )
            if unit is not None:
                previous[key] = unit
            out.append(
                {
                    "product": product,
                    "metric": metric,
                    "month": month,
                    "currency": currency,
                    "cost": amount,
                    "units": value,
                    "unit_cost": unit.quantize(Decimal("0.000001")) if unit is not None else None,
                    "change": change,
                }
            )
    return out


def _belongs(product: str, row: dict[str, Any], snapshot: CatalogSnapshot) -> bool:
    if product.startswith("system:"):
        return row.get("system_ref") == product
    if product.startswith("group:"):
        owner = row.get("owner_ref")
        return bool(owner) and product in snapshot.ancestors(str(owner))
    return row.get("entity_ref") == product
