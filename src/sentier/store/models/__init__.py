"""SQLAlchemy models of every domain, registered on one metadata for Alembic."""

from sentier.store.models.aiops import Alert, Incident, IncidentEvent, LogMinerState
from sentier.store.models.auth import ApiToken, AuditEvent, IngestJob, LoginCode, PortalSession
from sentier.store.models.base import Base, JSONType, utcnow
from sentier.store.models.catalog import (
    CatalogFile,
    CatalogSource,
    Entity,
    EntitySearch,
    Relation,
)
from sentier.store.models.detect import DetectCursor, Suppression
from sentier.store.models.detect import Detection as DetectDetection
from sentier.store.models.events import (
    ConsumedEvent,
    EventCursor,
    InboundHook,
    InboundMessage,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from sentier.store.models.finops import (
    FinopsAnomaly,
    FinopsBudget,
    FinopsBudgetAlert,
    FinopsFile,
    FinopsIngestion,
    FinopsSlice,
)
from sentier.store.models.greenops import GreenopsResourceFact
from sentier.store.models.policy import PolicyFinding, PolicyScan

__all__ = [
    "Alert",
    "ApiToken",
    "AuditEvent",
    "Base",
    "CatalogFile",
    "CatalogSource",
    "ConsumedEvent",
    "DetectCursor",
    "DetectDetection",
    "Entity",
    "EntitySearch",
    "EventCursor",
    "FinopsAnomaly",
    "FinopsBudget",
    "FinopsBudgetAlert",
    "FinopsFile",
    "FinopsIngestion",
    "FinopsSlice",
    "GreenopsResourceFact",
    "InboundHook",
    "InboundMessage",
    "Incident",
    "IncidentEvent",
    "IngestJob",
    "JSONType",
    "LogMinerState",
    "LoginCode",
    "OutboxEvent",
    "PolicyFinding",
    "PolicyScan",
    "PortalSession",
    "Relation",
    "Suppression",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookSubscription",
    "utcnow",
]
