"""Where billing files come from: which files a path holds, and how DuckDB reads each one.

Every file is read with all text columns kept as text, so that what real exports get wrong
(``NULL`` written as a word, dates without ``T``/``Z``, ``$1,000.00``) is repaired by the
normalisation step rather than rejected by a reader's type guess.

CSV files are read by DuckDB's parallel reader first, which is what keeps large files fast
on many cores. That reader refuses some ordinary files: short rows padded with nulls (which
real exports need) together with a quoted field spanning lines (a description with a line
break). It says so, possibly after many rows, and the file is then read again with the
sequential reader (``parallel=false``); on two cores both readers ingest at the same speed.
Whatever a reader refuses becomes a ``FinOpsError`` naming the file and, when DuckDB says
it, the row, never a traceback (see ``reading_error``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentier.finops.errors import FinOpsError

SUFFIXES = (".csv", ".csv.gz", ".parquet", ".pq")


def is_billing_file(path: Path) -> bool:
    name = path.name.lower()
    return not name.startswith(".") and name.endswith(SUFFIXES)


def discover(paths: list[Path]) -> list[Path]:
    """The billing files named or found (recursively, in name order) under ``paths``."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and is_billing_file(p))
        elif path.is_file():
            if not is_billing_file(path):
                raise FinOpsError(
                    "not a billing file (expected .csv, .csv.gz or .parquet)", file=str(path)
                )
            found.append(path)
        else:
            raise FinOpsError("no such file or directory", file=str(path))
    return found


@dataclass(frozen=True)
class SourceColumn:
    name: str  # as written in the file
    type: str  # DuckDB type of the column as read

    @property
    def quoted(self) -> str:
        return '"' + self.name.replace('"', '""') + '"'

    @property
    def is_text(self) -> bool:
        return self.type.upper() in {"VARCHAR", "TEXT", "STRING"}


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_parquet(path: Path) -> bool:
    return path.name.lower().endswith((".parquet", ".pq"))


def reader_sql(path: Path, *, parallel: bool = True) -> str:
    """The DuckDB table function reading ``path`` (CSV, gzipped CSV or Parquet)."""
    literal = sql_literal(str(path))
    if is_parquet(path):
        return f"read_parquet({literal})"
    return (
        f"read_csv({literal}, all_varchar=true, header=true, quote='\"', escape='\"', "
        "sample_size=-1, strict_mode=false, null_padding=true"
        + ("" if parallel else ", parallel=false")
        + ")"
    )


def reading_errors() -> tuple[type[BaseException], ...]:
    """What reading a file through DuckDB may raise: DuckDB's own errors before the first row,
    Arrow's (``OSError``, ``ArrowInvalid``) when the reader fails while rows stream."""
    import duckdb
    import pyarrow as pa

    return (duckdb.Error, pa.ArrowException, OSError)


class ParallelRefused(Exception):
    """DuckDB's parallel CSV reader refused a file the sequential one reads: read it again."""


def check_parallel(error: BaseException, parallel: bool) -> None:
    """Raise ``ParallelRefused`` when ``error`` is the parallel CSV reader's refusal."""
    if parallel and "parallel" in str(error).lower():
        raise ParallelRefused(str(error)) from error


_RECORD = re.compile(r"CSV Error on Line:\s*(\d+)")
_KIND = re.compile(r"^[A-Za-z ]*(?:Error|Exception):\s*")
_ADVICE = ("Possible Solution", "Possible fixes", "file =")


def reading_error(error: BaseException, path: Path) -> FinOpsError:
    """A reader's refusal as a ``FinOpsError`` naming the file and, when DuckDB says it, the row.

    DuckDB's CSV errors read: a kind and ``CSV Error on Line: N``, the offending record (which
    may be long, span lines, or hold data that must not be echoed into logs), the reason,
    then advice and reader options meant for SQL users. Only the reason and the place are
    kept. DuckDB's "line" counts records with the header as 1, so it is data row N - 1: the
    row numbering of every other problem (the physical line differs when a quoted field
    spans lines).
    """
    text = str(error).strip()
    lines = [item.rstrip() for item in text.splitlines()]
    found = _RECORD.search(text)
    row = int(found.group(1)) - 1 if found else None
    reason = ""
    if found:
        block: list[str] = []
        for item in lines[1:]:
            if not item.strip() or item.strip().startswith(_ADVICE):
                break
            block.append(item.strip())
        if block and not block[-1].startswith("Original Line:"):
            reason = block[-1]
    if not reason:
        first = _RECORD.sub("", lines[0] if lines else "")
        reason = _KIND.sub("", first).strip(" :")
    reason = reason.replace(f": {path}", "").replace(str(path), "the file")
    return FinOpsError(
        f"cannot read the file: {reason or type(error).__name__}",
        file=str(path),
        row=row if row is not None and row > 0 else None,
    )


def describe(con: Any, path: Path, *, parallel: bool = True) -> list[SourceColumn]:
    """The columns of a file as DuckDB reads it; unreadable files raise ``FinOpsError``
    (or ``ParallelRefused``, to be read with ``parallel=False``)."""
    try:
        rows = con.execute(
            f"DESCRIBE SELECT * FROM {reader_sql(path, parallel=parallel)}"
        ).fetchall()
    except reading_errors() as error:
        check_parallel(error, parallel)
        raise reading_error(error, path) from error
    columns = [SourceColumn(str(name), str(kind)) for name, kind, *_ in rows]
    if len(columns) == 1 and not is_parquet(path):
        # DuckDB's sniffer settles for one column when it finds no consistent dialect: a
        # file with nothing in it, or one whose quotes never close. Say that, not "every
        # FOCUS column is missing".
        name = columns[0].name
        if name == "column0":
            raise FinOpsError("cannot read the file: it is empty (no header row)", file=str(path))
        if any(separator in name for separator in ",;\t|"):
            raise FinOpsError(
                "cannot read the file: its header row does not split into columns (a quote "
                "that is never closed, or a separator other than a comma)",
                file=str(path),
            )
    return columns
