"""Bulk writes: COPY on PostgreSQL, a raw executemany on SQLite.

Ingestions write hundreds of thousands of rows; row-by-row ORM inserts (and even SQLAlchemy's
own executemany, which compiles parameters per row) would dominate their time, so domains hand
plain dicts to ``bulk_insert`` inside their own transaction. On SQLite values go through each
column type's bind processor; on PostgreSQL rows are written as COPY text in large chunks,
which costs a fraction of psycopg's per-value ``write_row`` adaptation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

# COPY text format: backslash, tab, newline and carriage return are escaped; NULL is \N.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_CHUNK_ROWS = 5000


def _copy_text(value: Any, is_json: bool) -> str:
    if value is None:
        return "\\N"
    if is_json:
        return orjson.dumps(value, default=str).decode().translate(_COPY_ESCAPES)
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _copy_postgresql(
    raw: Any, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]
) -> None:
    json_columns = [isinstance(table.c[name].type, JSON) for name in columns]
    pairs = list(zip(columns, json_columns, strict=True))
    names = ", ".join(f'"{name}"' for name in columns)
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for start in range(0, len(rows), _CHUNK_ROWS):
            lines = [
                "\t".join(_copy_text(row[name], is_json) for name, is_json in pairs)
                for row in rows[start : start + _CHUNK_ROWS]
            ]
            copy.write("\n".join(lines) + "\n")


def _processors(
    table: Table, columns: list[str], dialect: Any
) -> list[Callable[[Any], Any] | None]:
    return [table.c[name].type.bind_processor(dialect) for name in columns]


def bulk_insert(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts keyed by column name) into ``table`` in the session's transaction."""
    if not rows:
        return
    columns = list(rows[0].keys())
    connection = session.connection()
    dialect = connection.dialect
    raw = connection.connection.driver_connection
    if dialect.name == "postgresql":
        _copy_postgresql(raw, table, columns, rows)
        return
    processors = _processors(table, columns, dialect)
    placeholders = ", ".join("?" for _ in columns)
    names = ", ".join(f'"{name}"' for name in columns)
    if all(processor is None for processor in processors):
        values = [tuple(row[name] for name in columns) for row in rows]
    else:
        pairs = list(zip(columns, processors, strict=True))
        values = [
            tuple(
                row[name] if processor is None or row[name] is None else processor(row[name])
                for name, processor in pairs
            )
            for row in rows
        ]
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(f'INSERT INTO "{table.name}" ({names}) VALUES ({placeholders})', values)
    finally:
        cursor.close()
