"""SQLAlchemy models of every domain, registered on one metadata for Alembic."""

from sentier.store.models.base import Base, JSONType, utcnow
from sentier.store.models.catalog import (
    CatalogFile,
    CatalogSource,
    Entity,
    EntitySearch,
    Relation,
)
from sentier.store.models.events import OutboxEvent
from sentier.store.models.policy import PolicyFinding, PolicyScan

__all__ = [
    "Base",
    "CatalogFile",
    "CatalogSource",
    "Entity",
    "EntitySearch",
    "JSONType",
    "OutboxEvent",
    "PolicyFinding",
    "PolicyScan",
    "Relation",
    "utcnow",
]
