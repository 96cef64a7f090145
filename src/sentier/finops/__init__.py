"""FinOps: FOCUS billing in, cost per owner out, with budgets, anomalies and forecasts."""

from sentier.finops.errors import FinOpsError, Problem
from sentier.finops.ingest import FileReport, IngestReport, SliceReport, ingest

__all__ = [
    "FileReport",
    "FinOpsError",
    "IngestReport",
    "Problem",
    "SliceReport",
    "ingest",
]
