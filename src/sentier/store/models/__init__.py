"""SQLAlchemy models of every domain, registered on one metadata for Alembic."""

from sentier.store.models.auth import ApiToken, AuditEvent, IngestJob, LoginCode
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
    "ApiToken",
    "AuditEvent",
    "Base",
    "CatalogFile",
    "CatalogSource",
    "Entity",
    "EntitySearch",
    "IngestJob",
    "JSONType",
    "LoginCode",
    "OutboxEvent",
    "Relation",
    "utcnow",
]
