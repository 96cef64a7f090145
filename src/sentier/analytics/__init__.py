"""Facts too many for SQL: Parquet datasets under SENTIER_HOME, queried through Ibis.

DuckDB is the embedded engine; the same Ibis expressions run on PySpark for organisations
whose billing no longer fits one machine.
"""

from sentier.analytics.connection import duckdb_connection, read_parquet_files
from sentier.analytics.store import Dataset, FactStore, FactStoreError, Manifest, Slice

__all__ = [
    "Dataset",
    "FactStore",
    "FactStoreError",
    "Manifest",
    "Slice",
    "duckdb_connection",
    "read_parquet_files",
]
