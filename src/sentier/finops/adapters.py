"""Native billing exports read as FOCUS: AWS CUR 2.0, Azure cost exports, GCP billing export.

Each adapter is a data file (``data/adapters/<format>.yaml``) giving, for every FOCUS column it
can fill, a DuckDB SQL expression over the native columns. Column references are written
``{name}`` (required: a file without it is quarantined) or ``{name?}`` (NULL when absent),
and alternatives ``{a|b}`` take the first that exists; names match case-insensitively and
``.``/``_`` alike, as exports differ in both. The expressions feed the same normalising query
as FOCUS files, so every check and repair applies to native exports too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sentier.finops.columns import columns_by_lower_name
from sentier.finops.errors import FinOpsError
from sentier.finops.sources import SourceColumn

PROVIDER_FORMATS = ("focus", "aws-cur2", "azure", "gcp")
_REFERENCE = re.compile(r"\{([A-Za-z_][\w.|?]*)\}")


def _norm(name: str) -> str:
    return re.sub(r"[\s._/-]+", "_", name.strip().lstrip("\ufeff").lower())


@cache
def adapter_spec(provider_format: str) -> dict[str, Any]:
    path = resources.files("sentier.finops").joinpath(f"data/adapters/{provider_format}.yaml")
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    return data


def source_columns(
    provider_format: str, columns: Sequence[SourceColumn], *, file: str
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """FOCUS column (lower case) -> (SQL expression, type) for a file, and its unused columns."""
    if provider_format == "focus":
        known = columns_by_lower_name()
        mapping: dict[str, tuple[str, str]] = {}
        unknown = []
        for column in columns:
            name = column.name.strip().lstrip("\ufeff").lower()
            if name in known and name not in mapping:
                mapping[name] = (column.quoted, column.type)
            else:
                unknown.append(column.name)
        return mapping, unknown
    spec = adapter_spec(provider_format)
    by_name = {_norm(c.name): c for c in columns}
    missing: list[str] = []

    def resolve(match: re.Match[str]) -> str:
        text = match.group(1)
        alternatives = [a.strip() for a in text.split("|")]
        optional = any(a.endswith("?") for a in alternatives)
        for alternative in alternatives:
            column = by_name.get(_norm(alternative.rstrip("?")))
            if column is not None:
                return column.quoted
        if not optional:
            missing.append(alternatives[0])
        return "NULL"

    mapping = {}
    maps: dict[str, dict[str, str]] = spec.get("maps") or {}
    for focus_name, expression in spec["columns"].items():
        if isinstance(expression, dict):
            expression = _case(expression, maps)
        sql = _REFERENCE.sub(resolve, str(expression))
        mapping[focus_name.lower()] = (f"CAST(({sql}) AS VARCHAR)", "VARCHAR")
    if missing:
        raise FinOpsError(
            f"not a {spec['title']}: missing column(s) {', '.join(sorted(set(missing)))}",
            file=file,
        )
    return mapping, []


def _case(spec: dict[str, Any], maps: dict[str, dict[str, str]]) -> str:
    """``{map: NAME, from: EXPR, default: VALUE}`` as a SQL CASE over the named mapping."""
    from sentier.finops.sources import sql_literal

    table = maps[spec["map"]]
    arms = " ".join(
        f"WHEN {sql_literal(str(k))} THEN {sql_literal(str(v))}" for k, v in table.items()
    )
    default = spec.get("default")
    otherwise = sql_literal(str(default)) if default is not None else "NULL"
    return f"CASE {spec['from']} {arms} ELSE {otherwise} END"
