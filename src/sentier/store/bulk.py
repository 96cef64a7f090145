"""Bulk writes: COPY on PostgreSQL, a raw executemany on SQLite.

Ingestions write hundreds of thousands of rows; row-by-row ORM inserts (and even SQLAlchemy's
own executemany, which compiles parameters per row) would dominate their time, so domains hand
plain dicts to ``bulk_insert`` inside their own transaction. Values still go through each
column type's bind processor, so what lands is what SQLAlchemy would have written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session


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
        json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
        names = ", ".join(f'"{name}"' for name in columns)
        statement = f'COPY "{table.name}" ({names}) FROM STDIN'
        with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row(
                    [
                        orjson.dumps(row[name], default=str).decode()
                        if name in json_columns and row[name] is not None
                        else row[name]
                        for name in columns
                    ]
                )
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
