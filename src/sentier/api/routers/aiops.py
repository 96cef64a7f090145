"""``/api/v1``: AIOps — incidents, alerts, stored log templates, metric anomaly detection.

Reading is open to every principal; ingesting alerts needs an editor; acknowledging an
incident needs an editor of the group owning its likely root cause (or an admin).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from sentier.aiops import AIOpsError
from sentier.api import background
from sentier.api.alert_consumer import start_alert_consumer
from sentier.api.deps import DB, Editor, Viewer, audit_write, deny
from sentier.api.problems import Problem
from sentier.api.views import aiops as views
from sentier.api.views.policy import Refused

router = APIRouter(prefix="/api/v1", tags=["aiops"])
background.STARTERS.append(start_alert_consumer)

MAX_BODY_BYTES = 5 * 1024 * 1024
IncidentStatus = Literal["open", "acknowledged", "resolved", "merged"]
AlertStatus = Literal["firing", "resolved"]
IncidentKey = Annotated[
    str,
    Path(
        min_length=1,
        max_length=36,
        pattern=r"^[0-9a-fA-F]+$",
        description="The incident's key, or its first characters (unique).",
    ),
]
EntityRef = Annotated[
    str | None,
    Query(max_length=512, description="Entity reference, e.g. component:default/payments"),
]


class IncidentOut(BaseModel):
    key: str
    title: str
    status: str
    severity: str
    opened_at: str | None
    updated_at: str | None
    acknowledged_at: str | None
    acknowledged_by: str | None
    resolved_at: str | None
    root_cause: str | None
    owner: str | None
    alerts: int
    entities: list[str]


class IncidentList(BaseModel):
    items: list[IncidentOut]
    counts: dict[str, int]


class AlertOut(BaseModel):
    id: int
    fingerprint: str
    name: str
    status: str
    severity: str
    entity: str | None
    unresolved_entity: str | None
    starts_at: str | None
    ends_at: str | None
    last_received_at: str | None
    duplicates: int
    flaps: int
    summary: str | None
    source: str
    labels: dict[str, Any]
    incident: str | None


class AlertList(BaseModel):
    items: list[AlertOut]
    next_before: int | None


class Suspect(BaseModel):
    ref: str
    score: float
    reasons: list[str]


class TimelineEntry(BaseModel):
    at: str | None
    kind: str
    message: str
    data: dict[str, Any] | None


class GraphNode(BaseModel):
    ref: str
    kind: str
    exists: bool
    title: str | None
    alerting: bool
    suspect_rank: int | None


class GraphEdge(BaseModel):
    source: str
    type: str
    target: str


class AffectedGraph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class IncidentDetail(IncidentOut):
    alerts: list[AlertOut]  # type: ignore[assignment]
    alert_count: int
    root_causes: list[Suspect]
    timeline: list[TimelineEntry]
    graph: AffectedGraph


class IngestOut(BaseModel):
    received: int
    new_alerts: int
    duplicates: int
    flaps: int
    resolutions: int
    unknown_resolutions: int
    alerts_without_catalog_entity: int
    incidents_opened: list[str]
    incidents_updated: list[str]
    incidents_resolved: list[str]
    malformed: int
    problems: list[str]


class AckIn(BaseModel):
    note: Annotated[str | None, Field(max_length=500)] = None


class Template(BaseModel):
    id: int
    template: str
    count: int


class MinerOut(BaseModel):
    name: str
    lines: int
    templates: int
    updated_at: str | None


class DetectIn(BaseModel):
    text: Annotated[
        str,
        Field(
            max_length=MAX_BODY_BYTES,
            description="Prometheus text exposition, or CSV with timestamp and value columns.",
        ),
    ]
    format: Literal["auto", "prom", "csv"] = "auto"
    threshold: Annotated[
        float | None,
        Field(ge=0.0, le=1.0, description="Report every point scoring at least this."),
    ] = None


class AnomalyOut(BaseModel):
    series: str
    name: str
    labels: dict[str, str]
    timestamp: str | None
    value: float
    score: float
    reason: str
    line: int


class DetectOut(BaseModel):
    samples: int
    malformed: int
    problems: list[str]
    series: dict[str, int]
    anomalies: list[AnomalyOut]


def _incident_or_404(session: Any, key: str) -> dict[str, Any]:
    try:
        return views.incident_view(session, key)
    except AIOpsError as error:
        raise Problem(404, str(error), slug="incident-not-found") from error


@router.get("/incidents", response_model=IncidentList, summary="List incidents")
def list_incidents(
    principal: Viewer,
    session: DB,
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    entity: EntityRef = None,
    owner: Annotated[
        str | None,
        Query(max_length=512, description="A group: incidents whose likely root cause it owns"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """Incidents, newest first, with the count in each status."""
    try:
        return views.incidents_page(
            session, statuses=status or [], entity=entity, owner=owner, limit=limit
        )
    except ValueError as error:
        raise Problem(422, f"owner: {error}", slug="invalid-owner") from error


@router.get("/incidents/{key}", response_model=IncidentDetail, summary="One incident")
def get_incident(key: IncidentKey, principal: Viewer, session: DB) -> dict[str, Any]:
    """Ranked likely root causes with their reasons, alerts, timeline, the affected graph."""
    return _incident_or_404(session, key)


@router.post("/incidents/{key}/ack", response_model=IncidentOut, summary="Acknowledge")
def acknowledge(
    key: IncidentKey,
    request: Request,
    principal: Editor,
    session: DB,
    body: AckIn | None = None,
) -> dict[str, Any]:
    """Someone is on it. Editors of the group owning the likely root cause, or admins."""
    try:
        key_of, data = views.acknowledge_incident(session, principal, key)
    except Refused as refused:
        deny(request, principal, refused.reason, refused.target)
    note = body.note if body else None
    audit_write(request, session, principal, "incident.ack", f"incident:{key_of}", {"note": note})
    session.commit()
    return data


@router.get("/alerts", response_model=AlertList, summary="List alerts")
def list_alerts(
    principal: Viewer,
    session: DB,
    status: Annotated[list[AlertStatus] | None, Query()] = None,
    entity: EntityRef = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="next_before of the previous page")
    ] = None,
) -> dict[str, Any]:
    """Alert occurrences, newest first, each with the incident it belongs to."""
    return views.alerts_page(
        session, statuses=status or [], entity=entity, limit=limit, before=before
    )


@router.post("/alerts", response_model=IngestOut, summary="Ingest alerts")
def ingest_alerts(
    request: Request,
    principal: Editor,
    session: DB,
    payload: Annotated[
        Any,
        Body(
            description="An Alertmanager webhook (v4), a CloudEvent, a generic alert object, "
            "or a list of them."
        ),
    ],
) -> dict[str, Any]:
    """Correlate a batch of alerts into incidents (idempotent: re-sending changes nothing).

    Malformed alerts are counted and named (payload index and field); the others are kept.
    """
    from sentier.aiops.alerts import ingest_alerts as ingest
    from sentier.aiops.alerts import normalise

    length = request.headers.get("content-length", "0")
    if length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise Problem(413, f"at most {MAX_BODY_BYTES // 2**20} MiB of alerts per request")
    found = normalise(payload, "body")
    result = ingest(session, found.alerts)
    report = {
        **result.as_dict(),
        "malformed": len(found.problems),
        "problems": [str(p) for p in found.problems[:50]],
    }
    audit_write(
        request,
        session,
        principal,
        "alerts.ingest",
        None,
        {
            "received": result.received,
            "malformed": len(found.problems),
            "opened": len(result.opened),
        },
    )
    session.commit()
    return report


@router.get("/logs/miners", response_model=list[MinerOut], summary="Stored log template miners")
def log_miners(principal: Viewer, session: DB) -> list[dict[str, Any]]:
    """Miner states saved by ``sentier logs parse --state NAME``."""
    from sentier.aiops.logs import list_miners

    out = []
    for miner in list_miners(session):
        updated = miner["updated_at"]
        stamp = updated.isoformat() if isinstance(updated, datetime) else None
        out.append({**miner, "updated_at": stamp})
    return out


@router.get("/logs/miners/{name}/templates", response_model=list[Template])
def log_templates(
    name: Annotated[str, Path(min_length=1, max_length=255)],
    principal: Viewer,
    session: DB,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[dict[str, Any]]:
    """The templates a stored miner holds, most frequent first."""
    from sentier.aiops.logs import list_miners, load_miner

    if name not in {str(m["name"]) for m in list_miners(session)}:
        raise Problem(404, f"no miner state {name!r}", slug="miner-not-found")
    try:
        miner = load_miner(session, name)
    except AIOpsError as error:
        raise Problem(409, f"miner state {name}: {error}", slug="miner-unreadable") from error
    ranked = sorted(miner.templates(), key=lambda t: (-t.count, t.id))[:limit]
    return [{"id": t.id, "template": t.text, "count": t.count} for t in ranked]


@router.post("/metrics/detect", response_model=DetectOut, summary="Find metric anomalies")
def detect(body: DetectIn, principal: Viewer) -> dict[str, Any]:
    """Score samples (Prometheus text or CSV) with the streaming detector; nothing is stored.

    Without ``threshold``, the anomalies are the alarms (the first point of each episode).
    """
    from sentier.aiops.metrics import parse_text, scan_samples

    try:
        samples, report = parse_text(
            body.text, "text", None if body.format == "auto" else body.format
        )
        summaries = scan_samples(samples, threshold=body.threshold)
    except AIOpsError as error:
        raise Problem(422, str(error), slug="bad-samples") from error
    return {
        "samples": report.samples,
        "malformed": report.malformed,
        "problems": [str(e) for e in report.examples],
        "series": {key: s.points for key, s in summaries.items()},
        "anomalies": [a.as_dict() for s in summaries.values() for a in s.anomalies],
    }
