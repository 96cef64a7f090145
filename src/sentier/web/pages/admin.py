"""Portal pages for sources (everyone reads, admins act) and the audit log (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from sentier import auth, catalog
from sentier.api import jobs
from sentier.api.deps import DB, audit_write, deny
from sentier.api.routers.admin import _audit_out
from sentier.api.routers.sources import SourceId, _source_out
from sentier.store.models import CatalogSource
from sentier.web.app import WebUser, check_csrf, render

router = APIRouter(include_in_schema=False)


@router.get("/sources", response_class=HTMLResponse)
def sources(
    request: Request, principal: WebUser, session: DB, job: str | None = None
) -> HTMLResponse:
    rows = [
        _source_out(s) for s in session.scalars(select(CatalogSource).order_by(CatalogSource.name))
    ]
    return render(
        request, "sources.html", {"sources": rows, "job": job, "json_url": "/api/v1/sources"}
    )


@router.post("/sources/{source_id}/refresh", response_model=None)
def refresh(
    source_id: SourceId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf)
    if not principal.has_role("admin"):
        deny(request, principal, "requires the admin role")
    source = session.get(CatalogSource, source_id)
    if source is None:
        return RedirectResponse("/sources", status_code=303)
    audit_write(request, session, principal, "source.refresh", source.name)
    session.commit()
    job = jobs.enqueue(source.id, principal.label)
    return RedirectResponse(f"/sources?job={job}", status_code=303)


@router.post("/sources/{source_id}/delete", response_model=None)
def unregister(
    source_id: SourceId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf)
    if not principal.has_role("admin"):
        deny(request, principal, "requires the admin role")
    source = session.get(CatalogSource, source_id)
    if source is not None:
        name = source.name
        directory = catalog.pushed.source_directory(source.type, source.target)
        removed = catalog.remove_source(session, source_id)
        audit_write(request, session, principal, "source.unregister", name, {"removed": removed})
        session.commit()
        catalog.pushed.discard(directory)
    return RedirectResponse("/sources", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit(
    request: Request,
    principal: WebUser,
    session: DB,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    action: str | None = None,
) -> HTMLResponse:
    if not principal.has_role("admin"):
        deny(request, principal, "requires the admin role")
    events = [
        _audit_out(e) for e in auth.list_audit(session, action=action, before_id=before, limit=50)
    ]
    older = events[-1]["id"] if len(events) == 50 else None
    return render(
        request,
        "audit.html",
        {"events": events, "older": older, "action": action or "", "json_url": "/api/v1/audit"},
    )
