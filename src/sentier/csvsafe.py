"""CSV that spreadsheets open as data, never as formulas (OWASP's advice on CSV injection).

Every CSV sentier writes for people goes through here: the chargeback export (CLI and API),
``sentier cost ... --format csv`` and ``sentier carbon ... --format csv``, the log parser's
structured and template files. A spreadsheet runs a cell as a formula when it starts with
``=``, ``+``, ``-`` or ``@``, and some also after a leading tab or carriage return they
strip; resource names, tags, descriptions and log lines are written by whoever runs the
resource or emits the log, so ``=HYPERLINK(...)``, ``+cmd|' /C calc'!A0`` or ``@SUM(...)``
in a tag would run on the computer of the person opening the export. The full-width forms
(``＝``...) are included, as some spreadsheets fold them to ASCII.

As OWASP recommends, such a text cell is written with a leading single quote, which a
spreadsheet shows as text and does not display, and every text cell is quoted.

The rule is by type, not by look: numbers (``int``, ``float``, ``Decimal``, Arrow numeric
columns) are never touched, so a credit written as the number -12.50 stays a number a
spreadsheet can sum. Text is always text: "-1" arriving as a tag value is neutralised, since
nothing says it is a quantity. Numbers are written bare and text quoted, which is also how a
reader of the file tells them apart.

Files written for programs, not people, are not covered: the demo's generated billing and
resource files are inputs to sentier's own ingestion and must round-trip byte for byte.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

#: What a text cell must not start with.
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: The same rule as a regular expression (RE2, as DuckDB runs it): one class of ``TRIGGERS``.
_PATTERN = "^[" + "".join("\\" + c if c in "-\\]^" else c for c in TRIGGERS) + "]"
_NEUTRAL = "'"


def neutralise(value: Any) -> Any:
    """The one rule: a text cell a spreadsheet would run gets a leading single quote."""
    if isinstance(value, str) and value.startswith(TRIGGERS):
        return _NEUTRAL + value
    return value


def write_rows(handle: TextIO, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Rows of Python values as CSV: numbers bare, text quoted and neutralised, None empty."""
    writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
    writer.writerow([neutralise(h) for h in headers])
    for row in rows:
        writer.writerow(["" if v is None else neutralise(v) for v in row])


def neutralise_table(table: Any) -> tuple[Any, list[str]]:
    """``neutralise`` over every text column of an Ibis table expression, computed by the
    engine (no row passes through Python); also the names of those columns, for the writer
    to quote."""
    import ibis

    text = [name for name, kind in table.schema().items() if kind.is_string()]
    quote = ibis.literal(_NEUTRAL)
    safe = {
        name: table[name].re_search(_PATTERN).ifelse(quote + table[name], table[name])
        for name in text
    }
    return (table.mutate(**safe) if safe else table), text


def write_table(table: Any, target: Path) -> None:
    """An Ibis table expression as CSV at ``target``, written by its engine (DuckDB's ``COPY``,
    streamed): numbers bare, text quoted and neutralised."""
    safe, text = neutralise_table(table)
    options = {"force_quote": tuple(text)} if text else {}
    safe.to_csv(str(target), **options)
