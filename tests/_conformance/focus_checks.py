"""sentier's own checks of a FOCUS export, from the FOCUS column catalogue (the specification's
column pages parsed into ``focus/focus_v1.2_columns.csv`` of the shared corpora), for what the
FinOps Foundation's ``focus-validator`` 1.0.0 does not know: the columns of FOCUS 1.1 and 1.2,
and 1.3's (which the catalogue predates: their nullability and types come from sentier's own
column list, itself taken from the 1.3 specification)."""

from __future__ import annotations

import csv
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sentier.finops.columns import focus_columns

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
EXACT_DECIMAL = re.compile(r"^-?\d+(\.\d+)?$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


def catalogue(corpora: Path) -> dict[str, dict[str, str]]:
    path = corpora / "focus" / "focus_v1.2_columns.csv"
    with path.open(encoding="utf-8") as handle:
        return {row["column"]: row for row in csv.DictReader(handle)}


def _spec(catalogued: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Per column: version, nullability, data type and value format; the catalogue's where it
    has the column, sentier's list for 1.3's."""
    types = {"cost": "Decimal", "number": "Decimal", "datetime": "Date/Time", "json": "JSON"}
    spec: dict[str, dict[str, Any]] = {}
    for name, row in catalogued.items():
        spec[name] = {
            "since": row["introduced"],
            "nullable": row["allows_nulls"] == "True",
            "data_type": row["data_type"],
            "format": row["value_format"],
        }
    for column in focus_columns():
        if column.name not in spec and column.since == "1.3":
            spec[column.name] = {
                "since": "1.3",
                "nullable": column.nullable,
                "data_type": types.get(column.type, "String"),
                "format": "",
            }
    return spec


def _cell_problem(value: str, rule: dict[str, Any]) -> str | None:
    if rule["data_type"] == "Decimal" and not EXACT_DECIMAL.match(value):
        return "not an exact decimal"
    if rule["data_type"] == "Date/Time" and not ISO_UTC.match(value):
        return "not ISO 8601 UTC with Z"
    if rule["data_type"] == "JSON":
        try:
            parsed = json.loads(value)
        except ValueError:
            return "not JSON"
        if not isinstance(parsed, dict):
            return "not a JSON object"
    if "Currency" in rule["format"] and not CURRENCY.match(value):
        return "not an ISO 4217 currency code"
    if rule["data_type"] == "Decimal":
        try:
            Decimal(value)
        except InvalidOperation:
            return "not a decimal"
    return None


NEWER = ("1.1", "1.2", "1.3")


def check_export(
    path: Path, catalogued: dict[str, dict[str, str]], versions: tuple[str, ...] = NEWER
) -> list[tuple[str, list[str]]]:
    """Each check (one per column of ``versions`` present, and one on the custom columns) with
    the problems found; an empty list is a pass. Problems name the first lines they occur on."""
    spec = _spec(catalogued)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    checks: list[tuple[str, list[str]]] = []
    custom = [c for c in header if c not in spec and not c.startswith("x_")]
    checks.append(("custom columns carry the x_ prefix", custom))
    for index, column in enumerate(header):
        rule = spec.get(column)
        if rule is None or rule["since"] not in versions:
            continue
        problems: list[str] = []
        for line, row in enumerate(rows, start=2):
            value = row[index]
            if value == "":
                if not rule["nullable"]:
                    problems.append(f"line {line}: null, FOCUS does not allow it")
                continue
            problem = _cell_problem(value, rule)
            if problem is not None:
                problems.append(f"line {line}: {value[:40]!r} {problem}")
            if len(problems) >= 5:
                break
        label = "nullable" if rule["nullable"] else "not null"
        checks.append((f"{column} ({rule['since']}): {rule['data_type']}, {label}", problems))
    return checks


def stale_rule(check: dict[str, Any], catalogued: dict[str, dict[str, str]]) -> str | None:
    """Why a ``focus-validator`` check is out of date with FOCUS 1.0 (it reads a column that
    the released specification does not have, by its preview name), or None."""
    unknown = sorted(c for c in check["columns"] if c not in catalogued)
    if unknown:
        return f"reads {', '.join(unknown)}: not a FOCUS column (renamed before 1.0)"
    return None
