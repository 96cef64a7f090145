"""What the billing commands (`sentier cost`, `sentier carbon`) share: their options, the
FinOps context they open (facts, catalog snapshot, allocation rules) and their output helpers.

Carbon is computed over the same billing lines and owners as cost, so both commands open the
store the same way and refuse the same bad input with the same words.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from sentier.cli._common import fail, open_store
from sentier.csvsafe import write_rows


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Allocation rules (default: SENTIER_HOME/allocation.yaml)."),
]
PlanOption = Annotated[
    Path | None,
    typer.Option("--tagging-plan", help="Tagging plan (default: SENTIER_HOME/tagging-plan.yaml)."),
]
PeriodOption = Annotated[
    list[str] | None,
    typer.Option("--period", "-p", help="Billing period YYYY-MM (repeatable; default: all)."),
]
FromOption = Annotated[
    str | None, typer.Option("--from", help="First charge date (YYYY-MM-DD or YYYY-MM).")
]
ToOption = Annotated[
    str | None, typer.Option("--to", help="Last charge date, inclusive (YYYY-MM-DD or YYYY-MM).")
]
FormatOption = Annotated[Format, typer.Option("--format", "-f")]


def plain(value: Any) -> Any:
    """JSON- and CSV-ready: money to the cent, floats to 9 digits, dates in ISO form."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("0.01")))
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def write_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Rows as CSV on stdout, safe to open in a spreadsheet (``sentier.csvsafe``): amounts
    stay numbers (money to the cent), names and tags are text that never runs as a formula."""
    write_rows(sys.stdout, headers, ([_csv_value(v) for v in row] for row in rows))


def _csv_value(value: Any) -> Any:
    """``plain`` for one CSV cell, keeping numbers numbers (``plain`` makes money text)."""
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return plain(value)


def parse_day(text: str | None, *, end: bool = False) -> date | None:
    """A day or a month; with ``end``, the day after it (the scopes' ranges are half-open)."""
    if text is None:
        return None
    try:
        if len(text) == 7:
            year, month = (int(x) for x in text.split("-"))
            if end:
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return date(year, month, 1)
        day = date.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not a date (YYYY-MM-DD) or a month (YYYY-MM)")
    return day + timedelta(days=1) if end else day


@dataclass
class BillingContext:
    engine: Any
    facts: Any
    snapshot: Any
    rules: Any


@contextmanager
def billing_context(
    rules_path: Path | None = None,
    plan_path: Path | None = None,
    periods: list[str] | None = None,
) -> Iterator[BillingContext]:
    """The stored billing facts with the catalog and rules that allocate them; FinOps errors
    raised inside the block end the command with their message."""
    from sentier.analytics import duckdb_connection
    from sentier.finops import Facts, FinOpsError, load_rules, load_snapshot
    from sentier.finops.tags import plan_or_default
    from sentier.store import session_scope
    from sentier.tagging import TaggingError

    engine = open_store()
    try:
        rules = load_rules(rules_path)
        plan = plan_or_default(plan_path)
    except (FinOpsError, TaggingError) as error:
        fail(str(error))
    with session_scope(engine) as session:
        snapshot = load_snapshot(session)
    facts = Facts(duckdb_connection(), periods=periods, plan=plan)
    available = facts.available_periods()
    if not available:
        fail("no billing data yet: run `sentier cost ingest PATH` first")
    unknown = sorted(set(periods or []) - set(available))
    if unknown:
        fail(f"no billing data for {', '.join(unknown)}; available: {', '.join(available)}")
    try:
        yield BillingContext(engine, facts, snapshot, rules)
    except FinOpsError as error:
        fail(str(error))
