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
from sentier.store.models.finops import (
    FinopsAnomaly,
    FinopsBudget,
    FinopsBudgetAlert,
    FinopsFile,
    FinopsIngestion,
    FinopsSlice,
)

__all__ = [
    "Base",
    "CatalogFile",
    "CatalogSource",
    "Entity",
    "EntitySearch",
    "FinopsAnomaly",
    "FinopsBudget",
    "FinopsBudgetAlert",
    "FinopsFile",
    "FinopsIngestion",
    "FinopsSlice",
    "JSONType",
    "OutboxEvent",
    "Relation",
    "utcnow",
]
