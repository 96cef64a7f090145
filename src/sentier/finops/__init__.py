"""FinOps: FOCUS billing in, cost per owner out, with budgets, anomalies and forecasts.

Public names of the FinOps domain; the CLI (and later the API and portal) use only these.
Reports return plain rows (lists of dicts, amounts as ``Decimal``).
"""

from sentier.finops.allocation import allocated, allocation_inputs, evaluate, mapping_table
from sentier.finops.errors import FinOpsError, Problem
from sentier.finops.facts import Facts
from sentier.finops.history import ingestion_history, stored_slices
from sentier.finops.ingest import FileReport, IngestReport, SliceReport, ingest
from sentier.finops.ownership import UNALLOCATED, CatalogSnapshot, EntityInfo, load_snapshot
from sentier.finops.reports import (
    Scope,
    allocate,
    inputs_fingerprint,
    mapping_for,
    reconcile,
    showback,
    tag_coverage,
)
from sentier.finops.rules import AllocationRules, load_rules

__all__ = [
    "UNALLOCATED",
    "AllocationRules",
    "CatalogSnapshot",
    "EntityInfo",
    "Facts",
    "FileReport",
    "FinOpsError",
    "IngestReport",
    "Problem",
    "Scope",
    "SliceReport",
    "allocate",
    "allocated",
    "allocation_inputs",
    "evaluate",
    "ingest",
    "ingestion_history",
    "inputs_fingerprint",
    "load_rules",
    "load_snapshot",
    "mapping_for",
    "mapping_table",
    "reconcile",
    "showback",
    "stored_slices",
    "tag_coverage",
]
