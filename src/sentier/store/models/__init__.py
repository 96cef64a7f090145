"""SQLAlchemy models of every domain, registered on one metadata for Alembic."""

from sentier.store.models.aiops import Alert, Incident, IncidentEvent, LogMinerState
from sentier.store.models.base import Base, JSONType, utcnow
from sentier.store.models.catalog import (
    CatalogFile,
    CatalogSource,
    Entity,
    EntitySearch,
    Relation,
)
from sentier.store.models.events import OutboxEvent

__all__ = [
    "Alert",
    "Base",
    "CatalogFile",
    "CatalogSource",
    "Entity",
    "EntitySearch",
    "Incident",
    "IncidentEvent",
    "JSONType",
    "LogMinerState",
    "OutboxEvent",
    "Relation",
    "utcnow",
]
