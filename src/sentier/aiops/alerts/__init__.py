"""Alerts: normalisation from any source, correlation into incidents, root cause, lifecycle."""

from sentier.aiops.alerts.consume import (
    ALERT_KINDS,
    ConsumeResult,
    consume_all,
    consume_batch,
    is_alert_event,
)
from sentier.aiops.alerts.correlate import (
    AlertRecord,
    CorrelationSettings,
    Correlator,
    IncidentRecord,
    default_correlation,
)
from sentier.aiops.alerts.graph import DependencyGraph, graph_from_catalog
from sentier.aiops.alerts.incidents import (
    IngestResult,
    acknowledge,
    alert_summary,
    counts_by_status,
    find_incident,
    incident_detail,
    ingest_alerts,
    list_alerts,
    list_incidents,
    serialise_ingestion,
)
from sentier.aiops.alerts.model import FIRING, RESOLVED, Alert
from sentier.aiops.alerts.normalise import (
    GenericMapping,
    Normalised,
    from_alertmanager,
    from_cloudevent,
    from_generic,
    normalise,
    normalise_text,
    sort_for_replay,
)
from sentier.aiops.alerts.rootcause import Suspect, rank
from sentier.aiops.alerts.scenarios import Fault, Scenario, generate

__all__ = [
    "ALERT_KINDS",
    "FIRING",
    "RESOLVED",
    "Alert",
    "AlertRecord",
    "ConsumeResult",
    "CorrelationSettings",
    "Correlator",
    "DependencyGraph",
    "Fault",
    "GenericMapping",
    "IncidentRecord",
    "IngestResult",
    "Normalised",
    "Scenario",
    "Suspect",
    "acknowledge",
    "alert_summary",
    "consume_all",
    "consume_batch",
    "counts_by_status",
    "default_correlation",
    "find_incident",
    "from_alertmanager",
    "from_cloudevent",
    "from_generic",
    "generate",
    "graph_from_catalog",
    "incident_detail",
    "ingest_alerts",
    "is_alert_event",
    "list_alerts",
    "list_incidents",
    "normalise",
    "normalise_text",
    "rank",
    "serialise_ingestion",
    "sort_for_replay",
]
