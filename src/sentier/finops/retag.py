"""Re-derive the tagging plan's columns of stored facts after the plan changed.

Only the small ``keys`` files are rewritten (the lines never carry tags), slice by slice,
committed in one manifest swap like an ingestion.
"""

from __future__ import annotations

import shutil
import uuid
from typing import Any

import pyarrow.parquet as pq

from sentier.analytics import FactStore, Slice
from sentier.finops.columns import keys_schema
from sentier.finops.ingest import DATASET
from sentier.finops.tags import TagCache, add_tag_columns
from sentier.tagging import TaggingPlan


def retag(plan: TaggingPlan, *, store: FactStore | None = None) -> dict[str, Any]:
    """Rewrite every slice's keys with ``plan``; returns how many slices and keys."""
    dataset = (store or FactStore.default()).dataset(DATASET)
    schema = keys_schema(list(plan.keys))
    cache: TagCache = {}
    keys_rewritten = 0
    with dataset.lock():
        manifest = dataset.manifest()
        staging = dataset.staging()
        try:
            replacements: dict[tuple[str, str], Slice] = {}
            for period, slice_id, item in manifest.slices():
                fresh = []
                for relative in item.tables.get("keys", []):
                    table = pq.read_table(dataset.root / relative)
                    table = add_tag_columns(table, plan, cache).select(schema.names).cast(schema)
                    target = staging / f"keys-{slice_id}-{period}-{uuid.uuid4().hex[:8]}.parquet"
                    pq.write_table(table, target, compression="zstd")
                    fresh.append(str(target.relative_to(dataset.root)))
                    keys_rewritten += len(table)
                replacements[(period, slice_id)] = Slice(
                    {**item.tables, "keys": fresh}, item.rows, item.meta
                )
            dataset.commit(replacements)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for _, _, item in manifest.slices():
            for relative in item.tables.get("keys", []):
                (dataset.root / relative).unlink(missing_ok=True)
    return {"slices": len(replacements), "keys": keys_rewritten}
