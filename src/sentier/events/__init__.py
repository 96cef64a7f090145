"""CloudEvents for every change: the outbox every domain writes to in its own transaction."""

from sentier.events.outbox import PendingEvent, as_cloudevent, list_events, record, record_many
from sentier.events.types import (
    CATALOG_ENTITY_ADDED,
    CATALOG_ENTITY_REMOVED,
    CATALOG_ENTITY_UPDATED,
    CATALOG_INGESTION_FAILED,
)

__all__ = [
    "CATALOG_ENTITY_ADDED",
    "CATALOG_ENTITY_REMOVED",
    "CATALOG_ENTITY_UPDATED",
    "CATALOG_INGESTION_FAILED",
    "PendingEvent",
    "as_cloudevent",
    "list_events",
    "record",
    "record_many",
]
