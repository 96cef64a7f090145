"""The cost facts as Ibis tables: narrow ``lines``, descriptive ``keys``, and their join.

``cost_lines`` is the reusable view for other domains (GreenOps reads the same usage lines:
ConsumedQuantity/Unit, SkuId, ResourceType, RegionId, ServiceName...). Reports should rather
aggregate ``lines`` by ``line_key`` first and join ``keys`` after (see ``reports``), which is
what keeps them fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis

from sentier.analytics import FactStore, read_parquet_files
from sentier.finops.columns import LINE_KEY, PERIOD, keys_schema, lines_schema, monthly_schema
from sentier.finops.ingest import DATASET
from sentier.finops.tags import plan_or_default
from sentier.tagging import TaggingPlan


class Facts:
    """The FinOps fact tables of a store, read on one Ibis backend, for some periods."""

    def __init__(
        self,
        con: Any,
        *,
        store: FactStore | None = None,
        periods: Sequence[str] | None = None,
        plan: TaggingPlan | None = None,
    ) -> None:
        self.con = con
        self.store = store or FactStore.default()
        self.dataset = self.store.dataset(DATASET)
        self.manifest = self.dataset.manifest()
        available = self.manifest.periods()
        self.periods = [p for p in available if periods is None or p in set(periods)]
        self.plan = plan or plan_or_default()

    def available_periods(self) -> list[str]:
        return self.manifest.periods()

    def _files(self, table: str) -> list[Any]:
        return [
            self.dataset.root / relative
            for _, _, item in self.manifest.slices(self.periods)
            for relative in item.tables.get(table, [])
        ]

    def lines(self) -> Any:
        return read_parquet_files(self.con, self._files("lines"), lines_schema())

    def monthly(self) -> Any:
        """Lines summed per ``line_key`` and billing period, written at ingestion."""
        return read_parquet_files(self.con, self._files("monthly"), monthly_schema())

    def sums(
        self,
        measures: dict[str, str],
        *,
        date_from: Any = None,
        date_to: Any = None,
        daily: bool = False,
    ) -> Any:
        """Per billing period and ``line_key`` (and ``day`` when ``daily``): each measure
        (output name -> fact column) summed, and ``lines`` counted, over the charge dates
        ``[date_from, date_to)``.

        Whole periods come from the sums written at ingestion; only a date range that cuts
        a month, or days, need the lines themselves.
        """
        if not daily and date_from is None and date_to is None:
            monthly = self.monthly()
            return monthly.select(
                monthly[PERIOD],
                monthly[LINE_KEY],
                lines=monthly.lines,
                **{name: monthly[column] for name, column in measures.items()},
            )
        lines = self.lines()
        if date_from is not None:
            lines = lines.filter(lines.ChargePeriodStart >= date_from)
        if date_to is not None:
            lines = lines.filter(lines.ChargePeriodStart < date_to)
        groups: list[Any] = [lines[PERIOD], lines[LINE_KEY]]
        if daily:
            groups.append(lines.ChargePeriodStart.date().name("day"))
        return lines.group_by(groups).aggregate(
            lines=lines.count(), **{name: lines[column].sum() for name, column in measures.items()}
        )

    def keys(self) -> Any:
        return read_parquet_files(self.con, self._files("keys"), keys_schema(list(self.plan.keys)))

    def cost_lines(self) -> Any:
        """Every cost line with its description: one row per charge, all FOCUS columns."""
        keys = self.keys()
        lines = self.lines()
        return lines.join(keys, [PERIOD, LINE_KEY])

    def slice_totals(self) -> dict[str, dict[str, Any]]:
        """Per currency, the totals recorded at ingestion (the reconciliation reference)."""
        from decimal import Decimal

        out: dict[str, dict[str, Any]] = {}
        for _, _, item in self.manifest.slices(self.periods):
            for currency, values in (item.meta.get("totals") or {}).items():
                entry = out.setdefault(currency, {"billed": Decimal(0), "effective": Decimal(0)})
                entry["billed"] += Decimal(values["billed"])
                entry["effective"] += Decimal(values["effective"])
        return out


def empty_like(table: Any) -> Any:
    return table.limit(0)


__all__ = ["Facts", "ibis"]
