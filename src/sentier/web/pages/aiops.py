"""Portal pages of AIOps: the incident list, an incident, its acknowledgement, entity sections.

Each page renders what its JSON twin in ``api.routers.aiops`` returns (``api.views.aiops``).
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sentier.aiops import AIOpsError
from sentier.api.deps import DB, audit_write, deny
from sentier.api.routers.aiops import IncidentKey
from sentier.api.views import aiops as views
from sentier.web.app import WebUser, check_csrf, href_of, render
from sentier.web.sections import ENTITY_SECTIONS, Section

router = APIRouter(include_in_schema=False)
SECTION_KINDS = {"component", "resource", "api", "group"}


@router.get("/incidents", response_class=HTMLResponse)
def incidents(
    request: Request,
    principal: WebUser,
    session: DB,
    status: Annotated[Literal["open", "acknowledged", "resolved", "merged"] | None, Query()] = None,
) -> HTMLResponse:
    page = views.incidents_page(session, statuses=[status] if status else [], limit=100)
    query = urlencode({"status": status}) if status else ""
    return render(
        request,
        "incidents.html",
        {
            "page": page,
            "status": status,
            "statuses": views.INCIDENT_STATUSES,
            "json_url": "/api/v1/incidents" + (f"?{query}" if query else ""),
        },
    )


@router.get("/incidents/{key}", response_class=HTMLResponse)
def incident(
    key: IncidentKey, request: Request, principal: WebUser, session: DB, acked: bool = False
) -> HTMLResponse:
    try:
        detail = views.incident_view(session, key)
    except AIOpsError as error:
        return render(
            request, "error.html", {"status": 404, "message": str(error)}, status_code=404
        )
    may_ack = detail["status"] == "open" and principal.may_write_owned_by(session, detail["owner"])
    return render(
        request,
        "incident.html",
        {
            "incident": detail,
            "may_ack": may_ack,
            "acked": acked,
            "href_of": href_of,
            "json_url": f"/api/v1/incidents/{detail['key']}",
        },
    )


@router.post("/incidents/{key}/ack", response_model=None)
def acknowledge(
    key: IncidentKey,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    from sentier.aiops.alerts import acknowledge as ack
    from sentier.aiops.alerts import find_incident

    check_csrf(request, principal, csrf)
    try:
        row = find_incident(session, key)
    except AIOpsError:
        return RedirectResponse("/incidents", status_code=303)
    if not principal.may_write_owned_by(session, row.owner_ref):
        deny(request, principal, f"incident owned by {row.owner_ref}", f"incident:{row.key}")
    try:
        ack(session, row.key, principal.name)
    except AIOpsError:  # no longer open: show it as it is
        return RedirectResponse(f"/incidents/{row.key}", status_code=303)
    audit_write(request, session, principal, "incident.ack", f"incident:{row.key}")
    session.commit()
    return RedirectResponse(f"/incidents/{row.key}?acked=true", status_code=303)


def incidents_section(session: Session, ref: str, kind: str) -> Section | None:
    """On an entity's page: the incidents it alerted in or is the likely root cause of."""
    if kind.lower() not in SECTION_KINDS:
        return None
    data = views.entity_incidents(session, ref)
    if not data["items"]:
        return None
    by_group = kind.lower() == "group"
    return Section(
        "Incidents of what it owns" if by_group else "Incidents",
        "_incidents_section.html",
        data,
        json_url="/api/v1/incidents?" + urlencode({"owner" if by_group else "entity": ref}),
    )


ENTITY_SECTIONS.append(incidents_section)
