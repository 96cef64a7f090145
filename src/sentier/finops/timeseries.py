"""Daily cost series per owner (and service): the input of anomalies, forecasts and budgets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sentier.finops.facts import Facts
from sentier.finops.ownership import CatalogSnapshot
from sentier.finops.reports import Scope, allocate
from sentier.finops.rules import AllocationRules

USAGE_BASED = {"Usage-Based", None}


@dataclass
class Daily:
    """Allocated cost per day with owner, system, service and charge frequency."""

    rows: list[dict[str, Any]]
    first_day: date | None
    last_day: date | None

    def series(
        self,
        key: Callable[[dict[str, Any]], Any],
        *,
        usage_only: bool = False,
    ) -> dict[Any, dict[date, Decimal]]:
        """``key(row)`` -> day -> cost; rows whose key is None are left out."""
        out: dict[Any, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for row in self.rows:
            if usage_only and row.get("ChargeFrequency") not in USAGE_BASED:
                continue
            k = key(row)
            if k is None:
                continue
            out[k][row["day"]] += row["effective"]
        return out


def daily_costs(
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    scope: Scope | None = None,
    extra_dims: Iterable[str] = (),
) -> Daily:
    allocation = allocate(
        facts,
        snapshot,
        rules,
        key_dims=["ServiceName", "ChargeFrequency", *extra_dims],
        scope=scope,
        daily=True,
    )
    rows = allocation.rows
    for row in rows:
        day = row["day"]
        if isinstance(day, datetime):
            day = day.date()
        row["day"] = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
    days = [row["day"] for row in rows]
    return Daily(rows, min(days) if days else None, max(days) if days else None)


def dense(values: dict[date, Decimal], first: date, last: date) -> list[float]:
    """The series from ``first`` to ``last`` inclusive, missing days as zero."""
    out = []
    day = first
    while day <= last:
        out.append(float(values.get(day, Decimal(0))))
        day += timedelta(days=1)
    return out


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    first_next = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)
