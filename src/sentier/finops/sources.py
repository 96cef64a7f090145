"""Where billing files come from: which files a path holds, and how DuckDB reads each one.

Every file is read with all text columns kept as text, so that what real exports get wrong
(``NULL`` written as a word, dates without ``T``/``Z``, ``$1,000.00``) is repaired by the
normalisation step rather than rejected by a reader's type guess.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


def reader_sql(path: Path) -> str:
    """The DuckDB table function reading ``path`` (CSV, gzipped CSV or Parquet)."""
    literal = sql_literal(str(path))
    if path.name.lower().endswith((".parquet", ".pq")):
        return f"read_parquet({literal})"
    return (
        f"read_csv({literal}, all_varchar=true, header=true, quote='\"', escape='\"', "
        "sample_size=-1, strict_mode=false, null_padding=true)"
    )


def describe(con: object, path: Path) -> list[SourceColumn]:
    """The columns of a file as DuckDB reads it; unreadable files raise ``FinOpsError``."""
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {reader_sql(path)}").fetchall()  # type: ignore[attr-defined]
    except duckdb.Error as error:
        raise FinOpsError(f"cannot read the file: {_first_line(error)}", file=str(path)) from error
    return [SourceColumn(str(name), str(kind)) for name, kind, *_ in rows]


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
