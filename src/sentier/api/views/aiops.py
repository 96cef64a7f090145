"""What the incident pages and endpoints show, computed once for both (the portal renders it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.aiops.alerts import (
    counts_by_status,
    graph_from_catalog,
    incident_detail,
    list_alerts,
    list_incidents,
)
from sentier.aiops.errors import AIOpsError
from sentier.api.problems import Problem
from sentier.api.views.policy import Refused
from sentier.auth import Principal
from sentier.catalog import descendant_groups, parse_ref
from sentier.store.models import Entity

INCIDENT_STATUSES = ("open", "acknowledged", "resolved", "merged")
ALERT_STATUSES = ("firing", "resolved")
# How many ranked suspects the affected graph shows beside the alerting entities.
GRAPH_SUSPECTS = 3


def group_ref(text: str) -> str:
    """``team-a``, ``default/team-a`` or ``group:default/team-a``; ValueError if malformed."""
    return parse_ref(text, default_kind="group").key


def incidents_page(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    entity: str | None = None,
    owner: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """Incidents newest first, and how many there are in each status (for the tabs).

    ``owner``: a group; its incidents and those of its child groups."""
    counts = counts_by_status(session)
    owners: list[str] = []
    if owner:
        owners = descendant_groups(session, group_ref(owner))
    return {
        "items": list_incidents(
            session, statuses=statuses, entity=entity, owners=owners, limit=limit
        ),
        "counts": {status: counts.get(status, 0) for status in INCIDENT_STATUSES},
    }


def alerts_page(
    session: Session,
    *,
    statuses: Sequence[str] = (),
    entity: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> dict[str, Any]:
    items = list_alerts(session, statuses=statuses, entity=entity, limit=limit, before=before)
    return {"items": items, "next_before": items[-1]["id"] if len(items) == limit else None}


def _edge_type(source: str, target: str) -> str:
    if target.startswith("api:"):
        return "consumesApi"
    if source.startswith("api:"):
        return "providedBy"
    return "dependsOn"


def incident_view(session: Session, key: str) -> dict[str, Any]:
    """One incident with the affected part of the dependency graph, drawn from the catalog:
    the alerting entities, the top suspects, and the APIs between them.

    Raises ``AIOpsError`` when the key names no incident (or several).
    """
    graph = graph_from_catalog(session)
    detail = incident_detail(session, key, graph)
    alerting = set(detail["entities"])
    ranks = {c["ref"]: i for i, c in enumerate(detail["root_causes"], start=1)}
    shown = alerting | {ref for ref, rank in ranks.items() if rank <= GRAPH_SUSPECTS}
    edges = graph.subgraph(shown)
    refs = shown | {ref for edge in edges for ref in edge}
    known = {e.ref: e for e in session.scalars(select(Entity).where(Entity.ref.in_(sorted(refs))))}
    nodes = []
    for ref in sorted(refs):
        entity = known.get(ref)
        nodes.append(
            {
                "ref": ref,
                "kind": ref.split(":", 1)[0],
                "exists": entity is not None,
                "title": (entity.title or entity.name) if entity is not None else None,
                "alerting": ref in alerting,
                "suspect_rank": ranks.get(ref),
            }
        )
    detail["graph"] = {
        "nodes": nodes,
        "edges": [
            {"source": s, "type": _edge_type(s, t), "target": t} for s, t in sorted(set(edges))
        ],
    }
    detail["alert_count"] = len(detail["alerts"])
    return detail


def entity_incidents(session: Session, ref: str, *, limit: int = 10) -> dict[str, Any]:
    """Incidents an entity alerted in or is the likely root cause of (its page's section);
    for a group, the incidents whose likely root cause it owns (through child groups too)."""
    if ref.startswith("group:"):
        items = list_incidents(session, owners=descendant_groups(session, ref), limit=limit)
    else:
        items = list_incidents(session, entity=ref, limit=limit)
    return {
        "entity": ref,
        "items": items,
        "active": sum(1 for i in items if i["status"] != "resolved"),
    }


def acknowledge_incident(
    session: Session, principal: Principal, key: str
) -> tuple[str, dict[str, Any]]:
    """Acknowledge an incident as ``principal`` may (the API and the MCP server both call
    this): editors of the group owning its likely root cause, or admins; ``Refused``
    otherwise, 404 for no such incident, 409 when it is not open. Not committed: the shell
    audits the write in the same transaction, then commits. Returns the key and the incident."""
    from sentier.aiops.alerts import acknowledge, find_incident

    try:
        row = find_incident(session, key)
    except AIOpsError as error:
        raise Problem(404, str(error), slug="incident-not-found") from error
    if not principal.may_write_owned_by(session, row.owner_ref):
        owner = row.owner_ref or "no group (its root cause has no owner)"
        raise Refused(f"incident owned by {owner}", f"incident:{row.key}")
    try:
        data = acknowledge(session, row.key, principal.name)
    except AIOpsError as error:
        raise Problem(409, str(error), slug="incident-not-open") from error
    return str(row.key), data
