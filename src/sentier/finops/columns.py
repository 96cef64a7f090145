"""The FOCUS columns sentier knows (1.0 to 1.3), their types and where they are stored.

Read from ``data/focus_columns.csv`` (facts taken from the FOCUS specification): each column
has a type (cost, number, datetime, string, json), a table (``lines`` holds what changes per
charge, ``keys`` what describes it) and a level (``essential`` columns must be present for
sentier to account for a line; ``mandatory`` ones are required by FOCUS and only warned about)
and whether FOCUS allows it to be null (the spec's "Allows Nulls"; 1.3's columns from the 1.3
specification).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import pyarrow as pa
import yaml

ColumnType = Literal["cost", "number", "datetime", "string", "json"]

# Costs are exact decimals so totals reconcile to the cent on every engine; 10 decimal places
# keep the sub-micro amounts real exports carry (a request at $0.0000004).
COST_PRECISION, COST_SCALE = 18, 10
COST_SQL = f"DECIMAL({COST_PRECISION},{COST_SCALE})"

LINE_KEY = "line_key"
PERIOD = "billing_period"
TAG_PREFIX = "tag_"
TAG_VIOLATIONS = "tag_violations"


@dataclass(frozen=True, slots=True)
class FocusColumn:
    name: str
    type: ColumnType
    table: Literal["lines", "keys"]
    level: Literal["essential", "mandatory", "conditional", "recommended"]
    since: str
    nullable: bool = True

    @property
    def arrow_type(self) -> pa.DataType:
        return {
            "cost": pa.decimal128(COST_PRECISION, COST_SCALE),
            "number": pa.float64(),
            "datetime": pa.timestamp("us"),
            "string": pa.string(),
            "json": pa.string(),
        }[self.type]


@cache
def focus_columns() -> tuple[FocusColumn, ...]:
    text = resources.files("sentier.finops").joinpath("data/focus_columns.csv").read_text("utf-8")
    return tuple(
        FocusColumn(
            r["column"],
            r["type"],  # type: ignore[arg-type]
            r["table"],  # type: ignore[arg-type]
            r["level"],  # type: ignore[arg-type]
            r["since"],
            r["nullable"] == "true",
        )
        for r in csv.DictReader(text.splitlines())
    )


@cache
def columns_by_lower_name() -> dict[str, FocusColumn]:
    return {c.name.lower(): c for c in focus_columns()}


def line_columns() -> list[FocusColumn]:
    return [c for c in focus_columns() if c.table == "lines"]


def key_columns() -> list[FocusColumn]:
    return [c for c in focus_columns() if c.table == "keys"]


@cache
def allowed_values() -> dict[str, dict[str, Any]]:
    text = resources.files("sentier.finops").joinpath("data/focus_values.yaml").read_text("utf-8")
    data: dict[str, dict[str, Any]] = yaml.safe_load(text)
    return data


def tag_column(key: str) -> str:
    """Column holding a tagging-plan key's value: ``cost-center`` -> ``tag_cost_center``."""
    return TAG_PREFIX + "".join(ch if ch.isalnum() else "_" for ch in key.lower())


def lines_schema() -> pa.Schema:
    """Schema of the ``lines`` table: one row per charge, what varies from charge to charge."""
    fields = [pa.field(PERIOD, pa.string()), pa.field(LINE_KEY, pa.int64())]
    fields += [pa.field(c.name, c.arrow_type) for c in line_columns()]
    return pa.schema(fields)


def keys_schema(tag_keys: list[str]) -> pa.Schema:
    """Schema of the ``keys`` table: what a line is (account, resource, service, tags)."""
    fields = [pa.field(PERIOD, pa.string()), pa.field(LINE_KEY, pa.int64())]
    fields += [pa.field(c.name, c.arrow_type) for c in key_columns()]
    fields += [pa.field(tag_column(k), pa.string()) for k in tag_keys]
    fields.append(pa.field(TAG_VIOLATIONS, pa.string()))
    return pa.schema(fields)


def detect_version(present: set[str]) -> str:
    """The oldest FOCUS version whose columns cover the ones present (1.0 at least)."""
    version = "1.0"
    for column in focus_columns():
        if column.name.lower() in present and column.since > version:
            version = column.since
    return version


def monthly_schema() -> pa.Schema:
    """Schema of the ``monthly`` table: lines summed per ``line_key`` and billing period."""
    total = pa.decimal128(38, COST_SCALE)
    return pa.schema(
        [
            pa.field(PERIOD, pa.string()),
            pa.field(LINE_KEY, pa.int64()),
            pa.field("BilledCost", total),
            pa.field("EffectiveCost", total),
            pa.field("ListCost", total),
            pa.field("ContractedCost", total),
            pa.field("ConsumedQuantity", pa.float64()),
            pa.field("PricingQuantity", pa.float64()),
            pa.field("lines", pa.int64()),
        ]
    )
