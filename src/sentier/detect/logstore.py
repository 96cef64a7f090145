"""Parsed log records kept for hunting: Parquet in the fact store (dataset ``logs``).

Until now sentier kept only the template miner's state, not the lines. ``store_records`` writes
the records ``sentier detect run --store`` read, one slice per source file and day: storing
the same file again replaces its slices (idempotent), and days older than the retention
(``SENTIER_DETECT_RETENTION_DAYS``, 30 by default) are dropped on each write (bounded).
Readers see only what the manifest names, so a hunt never reads a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from sentier.analytics import FactStore, Slice
from sentier.detect.hunt import RECORD_SCHEMA, records_table
from sentier.detect.records import Record

DATASET = "logs"
TABLE = "records"
MAX_RECORDS = 5_000_000  # per call


def retention_days() -> int:
    try:
        return max(1, int(os.environ.get("SENTIER_DETECT_RETENTION_DAYS", "30")))
    except ValueError:
        return 30


def store_records(
    records: Sequence[Record],
    source: str,
    store: FactStore | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Replace the stored records of ``source`` by ``records``; returns counts."""
    store = store or FactStore.default()
    dataset = store.dataset(DATASET)
    now = now or datetime.now(UTC)
    oldest = (now - timedelta(days=retention_days())).date().isoformat()
    slice_id = hashlib.sha256(source.encode()).hexdigest()[:16]
    by_day: dict[str, list[Record]] = defaultdict(list)
    for record in records[:MAX_RECORDS]:
        day = record.at.date().isoformat()
        if day >= oldest:
            by_day[day].append(record)
    staging = dataset.staging()
    replacements: dict[tuple[str, str], Slice | None] = {}
    with dataset.lock():
        manifest = dataset.manifest()
        for period, slices in manifest.partitions.items():
            if period < oldest:
                for sid in slices:
                    replacements[(period, sid)] = None
            elif slice_id in slices and period not in by_day:
                replacements[(period, slice_id)] = None
        for day, items in by_day.items():
            path = staging / f"{day}-{slice_id}.parquet"
            pq.write_table(records_table(items), path)
            relative = str(path.relative_to(dataset.root))
            replacements[(day, slice_id)] = Slice(
                {TABLE: [relative]}, len(items), {"source": source}
            )
        dataset.commit(replacements)
    _remove_empty(staging)
    return {
        "stored": sum(len(v) for v in by_day.values()),
        "days": len(by_day),
        "dropped_days": sum(1 for k, v in replacements.items() if v is None and k[0] < oldest),
    }


def _remove_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def stored_files(store: FactStore | None = None, since: datetime | None = None) -> list[Path]:
    """The Parquet files of stored records (from ``since``'s day on)."""
    dataset = (store or FactStore.default()).dataset(DATASET)
    periods = dataset.manifest().periods()
    if since is not None:
        periods = [p for p in periods if p >= since.date().isoformat()]
    return dataset.files(TABLE, periods)


def open_stored(con: object, files: Sequence[Path], name: str = "records") -> None:
    """A DuckDB view ``name`` over ``files`` (empty, with the schema, when there are none).

    ``seq`` is renumbered over the union so that every record has its own.
    """
    import duckdb

    assert isinstance(con, duckdb.DuckDBPyConnection)
    if not files:
        con.register(f"{name}_empty", RECORD_SCHEMA.empty_table())
        con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS SELECT * FROM {name}_empty")
        return
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    columns = ", ".join(n for n in RECORD_SCHEMA.names if n != "seq")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT "
        f"row_number() OVER (ORDER BY ts, filename, seq) - 1 AS seq, {columns} "
        f"FROM read_parquet([{listed}], filename = true)"
    )


__all__ = ["DATASET", "open_stored", "retention_days", "store_records", "stored_files"]
