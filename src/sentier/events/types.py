"""Event types emitted by sentier, one constant per kind of change."""

from __future__ import annotations

CATALOG_ENTITY_ADDED = "io.sentier.catalog.entity.added"
CATALOG_ENTITY_UPDATED = "io.sentier.catalog.entity.updated"
CATALOG_ENTITY_REMOVED = "io.sentier.catalog.entity.removed"
CATALOG_INGESTION_FAILED = "io.sentier.catalog.ingestion.failed"

FINOPS_INGESTION_COMPLETED = "io.sentier.finops.ingestion.completed"
FINOPS_FILE_QUARANTINED = "io.sentier.finops.file.quarantined"
FINOPS_BUDGET_CROSSED = "io.sentier.finops.budget.crossed"
FINOPS_BUDGET_FORECAST_CROSSED = "io.sentier.finops.budget.forecast_crossed"
FINOPS_ANOMALY_DETECTED = "io.sentier.finops.anomaly.detected"
