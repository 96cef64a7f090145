"""From a billing file's columns to typed FOCUS columns, with every row checked, in one query.

The query this module writes repairs what real exports get wrong and flags what cannot be
repaired: each row carries a bit mask of failed checks (``__err``, quarantines the file) and
of doubtful ones (``__warn``, reported only), so a 10-million-row file is read once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sentier.finops.columns import (
    COST_SQL,
    LINE_KEY,
    PERIOD,
    FocusColumn,
    allowed_values,
    columns_by_lower_name,
    detect_version,
    focus_columns,
    key_columns,
)
from sentier.finops.errors import Problem
from sentier.finops.sources import sql_literal

# Forms of "no value" real exports write as text.
NULL_WORDS = ("", "null", "none", "nan", "n/a")

# Datetime formats seen in real exports besides ISO 8601 (which the cast reads directly):
# spreadsheets re-saving a FOCUS CSV write US dates, as the FOCUS 1.2 SaaS examples do.
DATETIME_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%y %H:%M",
    "%m/%d/%y",
)

SLICE = "__slice"
ERRORS = "__err"
WARNINGS = "__warn"


@dataclass(frozen=True)
class Check:
    bit: int
    severity: str  # "error" or "warning"
    column: str
    message: str
    condition: str  # SQL over the typed layer; true when the row fails
    raw: str | None = None  # SQL of the offending value, for the message


@dataclass
class Plan:
    """The query reading one file into FOCUS columns, and what it checks."""

    select_sql: str
    diagnostic_sql: str
    checks: list[Check]
    problems: list[Problem] = field(default_factory=list)
    version: str = "1.0"
    present: set[str] = field(default_factory=set)

    @property
    def errors(self) -> list[Check]:
        return [c for c in self.checks if c.severity == "error"]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _clean_text(expr: str) -> str:
    # Equalities, not IN (...): DuckDB plans IN lists as joins, far slower on every row; and
    # only short values can be a "no value" word.
    words = " OR ".join(f"lower(trim({expr})) = {sql_literal(w)}" for w in NULL_WORDS)
    return f"CASE WHEN length({expr}) <= 6 AND ({words}) THEN NULL ELSE trim({expr}) END"


def _number_text(expr: str) -> str:
    """Strip currency symbols and thousands separators: ``$10,000.00`` -> ``10000.00``."""
    stripped = f"trim(regexp_replace({expr}, '^[$€£¥]|[$€£¥]$', '', 'g'))"
    return (
        f"CASE WHEN regexp_full_match({stripped}, '[-+]?[0-9]{{1,3}}(,[0-9]{{3}})+(\\.[0-9]*)?') "
        f"THEN replace({stripped}, ',', '') ELSE {stripped} END"
    )


def _typed(column: FocusColumn, expr: str, source_type: str, text: bool) -> str:
    """SQL turning the (cleaned) source value into the column's stored type."""
    kind = column.type
    if kind == "cost":
        value = _number_text(expr) if text else expr
        return f"TRY_CAST({value} AS {COST_SQL})"
    if kind == "number":
        value = _number_text(expr) if text else expr
        return f"TRY_CAST({value} AS DOUBLE)"
    if kind == "datetime":
        if text:
            formats = "[" + ", ".join(sql_literal(f) for f in DATETIME_FORMATS) + "]"
            # The ISO cast also reads odd forms ("4/1/26" as year 4): only ISO-looking text.
            return (
                f"CASE WHEN substr({expr}, 5, 1) = '-' "
                f"THEN TRY_CAST(TRY_CAST({expr} AS TIMESTAMPTZ) AS TIMESTAMP) "
                f"ELSE try_strptime({expr}, {formats}) END"
            )
        if "TIME ZONE" in source_type.upper() or source_type.upper() == "TIMESTAMPTZ":
            return f"CAST(timezone('UTC', {expr}) AS TIMESTAMP)"
        return f"TRY_CAST({expr} AS TIMESTAMP)"
    if kind == "json":
        if text:
            return expr
        return f"CAST(to_json({expr}) AS VARCHAR)"
    # string
    value = expr if text else f"CAST({expr} AS VARCHAR)"
    enum = allowed_values().get(column.name)
    if enum:
        cases = {v.lower().replace(" ", "").replace("-", ""): v for v in enum["values"]}
        cases.update({k.lower(): v for k, v in (enum.get("aliases") or {}).items()})
        arms = " ".join(f"WHEN {sql_literal(k)} THEN {sql_literal(v)}" for k, v in cases.items())
        folded = f"replace(replace(lower({value}), ' ', ''), '-', '')"
        return f"CASE {folded} {arms} ELSE {value} END"
    if column.name == "BillingCurrency" or column.name == "PricingCurrency":
        return f"upper({value})" if column.name == "BillingCurrency" else value
    return value


def build_plan(
    columns: Mapping[str, tuple[str, str]],
    *,
    source_sql: str,
    file: str,
    default_currency: str | None = None,
    unknown: list[str] | None = None,
) -> Plan:
    """The normalising query over ``source_sql``.

    ``columns`` maps a FOCUS column name (lower case) to the SQL expression reading it from the
    source and that expression's DuckDB type; adapters pass computed expressions, FOCUS files
    their own columns.
    """
    known = columns_by_lower_name()
    present = {name for name in columns if name in known}
    version = detect_version(present)
    problems: list[Problem] = []
    if unknown:
        problems.append(
            Problem(
                "warning",
                f"columns not in FOCUS 1.0-1.3 are not kept: {', '.join(sorted(unknown))}",
                file=file,
            )
        )

    clean: list[str] = []
    typed: list[str] = []
    checks: list[Check] = []

    def add_check(
        severity: str, column: str, message: str, condition: str, raw: str | None = None
    ) -> None:
        checks.append(Check(len(checks), severity, column, message, condition, raw))

    missing_mandatory = []
    for column in focus_columns():
        name = column.name
        source = columns.get(name.lower())
        raw_name = _q("__c_" + name)
        if source is None:
            if column.level == "essential" and not (name == "BillingCurrency" and default_currency):
                extra = (
                    " (give the currency with --currency when the file does not say it)"
                    if name == "BillingCurrency"
                    else ""
                )
                problems.append(
                    Problem(
                        "error",
                        f"required column is missing{extra}",
                        file=file,
                        column=name,
                    )
                )
            elif column.level in {"essential", "mandatory"} and column.since <= version:
                missing_mandatory.append(name)
            constant = (
                sql_literal(default_currency.upper())
                if name == "BillingCurrency" and default_currency
                else "NULL"
            )
            cast = {
                "cost": COST_SQL,
                "number": "DOUBLE",
                "datetime": "TIMESTAMP",
            }.get(column.type, "VARCHAR")
            clean.append(f"CAST({constant} AS VARCHAR) AS {raw_name}")
            typed.append(f"CAST({constant} AS {cast}) AS {_q(name)}")
            continue
        expr, source_type = source
        text = source_type.upper() in {"VARCHAR", "TEXT", "STRING"}
        clean.append(f"{_clean_text(expr) if text else expr} AS {raw_name}")
        typed.append(f"{_typed(column, raw_name, source_type, text)} AS {_q(name)}")
        if column.type in {"cost", "number", "datetime"} and text:
            what = {
                "cost": "is not a decimal number (or exceeds 99,999,999.9999999999)",
                "number": "is not a number",
                "datetime": "is not a date-time (ISO 8601 expected, e.g. 2024-09-01T00:00:00Z)",
            }[column.type]
            add_check(
                "error",
                name,
                what,
                f"{raw_name} IS NOT NULL AND {_q(name)} IS NULL",
                raw_name,
            )
        if name in {"Tags", "AllocatedTags"} and text:
            add_check(
                "error",
                name,
                "is not a JSON object of key/value tags",
                f"{raw_name} IS NOT NULL AND NOT (CASE WHEN json_valid({raw_name}) "
                f"THEN json_type({raw_name}) = 'OBJECT' ELSE false END)",
                raw_name,
            )
        enum = allowed_values().get(name)
        if enum and enum.get("strict"):
            accepted = " OR ".join(f"{_q(name)} = {sql_literal(v)}" for v in enum["values"])
            add_check(
                "error",
                name,
                f"is not one of: {', '.join(enum['values'])}",
                f"{_q(name)} IS NOT NULL AND NOT ({accepted})",
                raw_name,
            )

    if missing_mandatory:
        problems.append(
            Problem(
                "warning",
                f"FOCUS {version} mandatory columns absent, kept empty: "
                + ", ".join(missing_mandatory),
                file=file,
            )
        )

    # Row checks over the typed layer.
    for name in (
        "BilledCost",
        "EffectiveCost",
        "BillingPeriodStart",
        "BillingPeriodEnd",
        "ChargePeriodStart",
        "ChargePeriodEnd",
        "BillingCurrency",
    ):
        if name.lower() in columns:
            add_check("error", name, "must have a value", f"{_q('__c_' + name)} IS NULL")
    add_check(
        "error",
        "BillingCurrency",
        "is not a three-letter ISO 4217 currency code",
        '"BillingCurrency" IS NOT NULL AND NOT regexp_full_match("BillingCurrency", \'[A-Z]{3}\')',
        '"BillingCurrency"',
    )
    add_check(
        "error",
        "BillingPeriodEnd",
        "is not after BillingPeriodStart",
        '"BillingPeriodEnd" <= "BillingPeriodStart"',
        'CAST("BillingPeriodEnd" AS VARCHAR)',
    )
    add_check(
        "error",
        "ChargePeriodEnd",
        "is before ChargePeriodStart",
        '"ChargePeriodEnd" < "ChargePeriodStart"',
        'CAST("ChargePeriodEnd" AS VARCHAR)',
    )
    # A usage charge outside its billing period by less than a day is a time-zone slip seen in
    # real exports (the FOCUS sample has one): warned. Further out, it is an error.
    outside = (
        '("ChargePeriodStart" < "BillingPeriodStart" OR "ChargePeriodStart" >= "BillingPeriodEnd" '
        'OR "ChargePeriodEnd" > "BillingPeriodEnd")'
    )
    far_outside = (
        '("ChargePeriodStart" < "BillingPeriodStart" - INTERVAL 1 DAY '
        'OR "ChargePeriodStart" >= "BillingPeriodEnd" + INTERVAL 1 DAY '
        'OR "ChargePeriodEnd" > "BillingPeriodEnd" + INTERVAL 1 DAY)'
    )
    usage_based = "coalesce(\"ChargeFrequency\", 'Usage-Based') = 'Usage-Based'"
    start = 'CAST("ChargePeriodStart" AS VARCHAR)'
    add_check(
        "error",
        "ChargePeriodStart",
        "usage charge period lies more than a day outside its billing period",
        f"{usage_based} AND {far_outside}",
        start,
    )
    add_check(
        "warning",
        "ChargePeriodStart",
        "usage charge period lies outside its billing period by less than a day "
        "(time zone?); kept in its billing period",
        f"{usage_based} AND {outside} AND NOT {far_outside}",
        start,
    )
    add_check(
        "warning",
        "ChargePeriodStart",
        "one-time or recurring charge period extends beyond its billing period",
        f"NOT ({usage_based}) AND {outside}",
        start,
    )

    def mask(severity: str) -> str:
        arms = [
            f"(CASE WHEN coalesce({c.condition}, false) THEN {1 << c.bit} ELSE 0 END)"
            for c in checks
            if c.severity == severity
        ]
        return " | ".join(arms) if arms else "0"

    period = "strftime(\"BillingPeriodStart\", '%Y-%m')"
    # A slice is what one ingestion replaces: a billing account's period; a file that names
    # no billing account is its own slice.
    slice_text = (
        'CASE WHEN "BillingAccountId" IS NULL THEN ' + sql_literal("file|" + file) + " ELSE "
        "coalesce(\"ProviderName\", '') || '|' || \"BillingAccountId\" END"
    )
    # The key hashes the slice too: two accounts (or two account-less files) describing a
    # charge alike must not share a key, or joining lines to keys would count it twice.
    key_names = [c.name for c in key_columns()]
    line_key = f"(hash({', '.join(_q(n) for n in key_names)}, {slice_text}) >> 1)::BIGINT"
    # ProviderName was deprecated by FOCUS 1.3 for ServiceProviderName: fill one from the other.
    raw_columns = ", ".join(_q("__c_" + c.name) for c in focus_columns())
    typed_sql = ",\n  ".join(typed)
    clean_sql = ",\n  ".join(clean)
    inner = f"""(
  SELECT * REPLACE (coalesce("ProviderName", "ServiceProviderName") AS "ProviderName")
  FROM (SELECT {typed_sql}, {raw_columns}
        FROM (SELECT {clean_sql} FROM {source_sql}))
)"""
    masks = f"({mask('error')}) AS {ERRORS}, ({mask('warning')}) AS {WARNINGS}"
    output = ", ".join(_q(c.name) for c in focus_columns())
    stream_sql = (
        f"SELECT {period} AS {PERIOD}, {line_key} AS {LINE_KEY}, {slice_text} AS {SLICE}, "
        f"{masks}, {output} FROM {inner}"
    )
    diagnostic_sql = f"SELECT row_number() OVER () AS __row, {masks}, * FROM {inner}"
    return Plan(stream_sql, diagnostic_sql, checks, problems, version, present)
