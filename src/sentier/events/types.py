"""Event types emitted by sentier, one constant per kind of change."""

from __future__ import annotations

CATALOG_ENTITY_ADDED = "io.sentier.catalog.entity.added"
CATALOG_ENTITY_UPDATED = "io.sentier.catalog.entity.updated"
CATALOG_ENTITY_REMOVED = "io.sentier.catalog.entity.removed"
CATALOG_INGESTION_FAILED = "io.sentier.catalog.ingestion.failed"

# -- events domain: delivery and inbound hooks ------------------------------------------------
EVENTS_SUBSCRIPTION_DISABLED = "io.sentier.events.subscription.disabled"
EVENTS_DELIVERY_DEAD_LETTERED = "io.sentier.events.delivery.deadlettered"
HOOKS_ALERTMANAGER_RECEIVED = "io.sentier.hooks.alertmanager.received"
HOOKS_CLOUDEVENT_RECEIVED = "io.sentier.hooks.cloudevent.received"
HOOKS_GIT_PUSH_RECEIVED = "io.sentier.hooks.git.push.received"
POLICY_FINDING_OPENED = "io.sentier.policy.finding.opened"
POLICY_FINDING_FIXED = "io.sentier.policy.finding.fixed"
AIOPS_INCIDENT_OPENED = "io.sentier.aiops.incident.opened"
AIOPS_INCIDENT_UPDATED = "io.sentier.aiops.incident.updated"
AIOPS_INCIDENT_ACKNOWLEDGED = "io.sentier.aiops.incident.acknowledged"
AIOPS_INCIDENT_RESOLVED = "io.sentier.aiops.incident.resolved"
AIOPS_INCIDENT_REOPENED = "io.sentier.aiops.incident.reopened"
AIOPS_INCIDENT_MERGED = "io.sentier.aiops.incident.merged"
FINOPS_INGESTION_COMPLETED = "io.sentier.finops.ingestion.completed"
FINOPS_FILE_QUARANTINED = "io.sentier.finops.file.quarantined"
FINOPS_BUDGET_CROSSED = "io.sentier.finops.budget.crossed"
FINOPS_BUDGET_FORECAST_CROSSED = "io.sentier.finops.budget.forecast_crossed"
FINOPS_ANOMALY_DETECTED = "io.sentier.finops.anomaly.detected"

# -- greenops --------------------------------------------------------------------------------
GREENOPS_RESOURCES_IMPORTED = "io.sentier.greenops.resources.imported"
