"""The analytics engine: Ibis over DuckDB by default, any Ibis backend (PySpark) when asked.

Domains write their reports as Ibis expressions over tables this module opens from the fact
store, so the same expression runs on an embedded DuckDB or on a Spark cluster.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa

# Embedded analytics shares the machine with the server: keep its memory and threads bounded.
DEFAULT_MEMORY_LIMIT = os.environ.get("SENTIER_DUCKDB_MEMORY_LIMIT", "1GB")


def duckdb_connection(*, threads: int | None = None, memory_limit: str | None = None) -> Any:
    """A new in-memory Ibis DuckDB backend, in UTC, bounded in memory."""
    con = ibis.duckdb.connect()
    raw = con.con
    raw.execute("SET TimeZone='UTC'")
    raw.execute(f"SET memory_limit='{memory_limit or DEFAULT_MEMORY_LIMIT}'")
    if threads:
        raw.execute(f"SET threads={int(threads)}")
    return con


def read_parquet_files(con: Any, files: Sequence[Path], empty_schema: pa.Schema) -> Any:
    """An Ibis table over ``files``; with no file, an empty table of ``empty_schema``.

    Works on every Ibis backend that reads Parquet (DuckDB, PySpark): the list of files comes
    from the fact store's manifest, never from a directory glob, so readers see only committed
    data.
    """
    if not files:
        return ibis.memtable(empty_schema.empty_table())
    name = con.__class__.__module__
    if "pyspark" in name:
        frame = con._session.read.parquet(*[str(path) for path in files])
        table_name = f"facts_{abs(hash(tuple(str(p) for p in files))) % 10**10}"
        frame.createOrReplaceTempView(table_name)
        return con.table(table_name)
    return con.read_parquet([str(path) for path in files])
