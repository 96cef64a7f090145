"""Portal pages of the catalog: home, the catalog list, entity, group and system pages."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from sentier import catalog
from sentier.api.deps import DB
from sentier.api.problems import Problem
from sentier.api.routers.catalog import entity_filter
from sentier.api.views import catalog as views
from sentier.web.app import WebUser, href_of, render
from sentier.web.sections import sections_for

router = APIRouter(include_in_schema=False)
FACETS = (
    ("kind", "Kind"),
    ("spec.type", "Type"),
    ("spec.lifecycle", "Lifecycle"),
    ("spec.owner", "Owner"),
    ("metadata.tags", "Tag"),
)
# How a facet key maps onto the list's query parameters.
FACET_PARAMS = {
    "kind": "kind",
    "spec.type": "type",
    "spec.lifecycle": "lifecycle",
    "spec.owner": "owner",
    "metadata.tags": "tag",
}

Many = Annotated[list[str] | None, Query()]


@router.get("/", response_class=HTMLResponse)
def home(request: Request, principal: WebUser, session: DB) -> HTMLResponse:
    return render(request, "home.html", {"home": views.home(session), "json_url": "/api/v1/home"})


@router.get("/catalog", response_class=HTMLResponse)
def catalog_list(
    request: Request,
    principal: WebUser,
    session: DB,
    kind: Many = None,
    type: Many = None,
    lifecycle: Many = None,
    owner: Many = None,
    tag: Many = None,
    q: str | None = None,
    cursor: str | None = None,
) -> HTMLResponse:
    flt = entity_filter(kind, type, lifecycle, owner, None, tag, None, None, None, q)
    try:
        page = views.entity_page(session, flt, limit=25, cursor=cursor)
    except ValueError as error:
        raise Problem(400, str(error)) from error
    selected = {
        "kind": kind or [],
        "type": type or [],
        "lifecycle": lifecycle or [],
        "owner": owner or [],
        "tag": tag or [],
    }
    counts = catalog.facet_counts(session, [key for key, _ in FACETS], flt)
    facet_values = {key: values[:12] for key, values in counts.items()}
    query = request.url.query
    return render(
        request,
        "catalog_list.html",
        {
            "page": page,
            "q": q or "",
            "facets": FACETS,
            "facet_values": facet_values,
            "facet_params": FACET_PARAMS,
            "selected": selected,
            "json_url": "/api/v1/entities" + (f"?{query}" if query else ""),
            "rows": [_row(item) for item in page["items"]],
        },
    )


def _row(entity: dict[str, Any]) -> dict[str, Any]:
    metadata, spec = entity["metadata"], entity.get("spec") or {}
    return {
        "ref": f"{entity['kind']}:{metadata['namespace']}/{metadata['name']}".lower(),
        "href": f"/catalog/{entity['kind'].lower()}/{metadata['namespace']}/{metadata['name']}",
        "kind": entity["kind"],
        "name": metadata.get("title") or metadata["name"],
        "description": metadata.get("description"),
        "type": spec.get("type"),
        "lifecycle": spec.get("lifecycle"),
        "owner": spec.get("owner"),
        "tags": metadata.get("tags") or [],
    }


@router.get("/catalog/{kind}/{namespace}/{name}", response_class=HTMLResponse)
def entity_page(
    kind: str, namespace: str, name: str, request: Request, principal: WebUser, session: DB
) -> HTMLResponse:
    ref = views.ref_of(kind, namespace, name)
    entity = views.entity_detail(session, ref)
    if entity is None:
        return render(
            request, "error.html", {"status": 404, "message": f"No entity {ref}."}, status_code=404
        )
    relations: dict[str, list[str]] = {}
    for relation in entity["relations"]:
        relations.setdefault(relation["type"], []).append(relation["targetRef"])
    existing = {e.ref for e in _existing(session, [r["targetRef"] for r in entity["relations"]])}
    context: dict[str, Any] = {
        "entity": entity,
        "ref": ref,
        "relations": relations,
        "existing": existing,
        "href_of": href_of,
        "json_url": f"/api/v1/entities/{kind}/{namespace}/{name}",
    }
    if entity["kind"] == "System":
        context["graph"] = catalog.system_graph(session, ref).as_dict()
        context["graph_url"] = f"/api/v1/systems/{namespace}/{name}/graph"
        context["parts"] = [
            views.summary(e) for e in _existing(session, relations.get("hasPart", []))
        ]
    else:
        context["graph"] = catalog.entity_graph(session, ref, depth=1).as_dict()
        context["graph_url"] = f"/api/v1/entities/{kind}/{namespace}/{name}/graph"
    context["sections"] = sections_for(session, ref, entity["kind"])
    if entity["kind"] == "Group":
        context["owned"] = views.owned_summary(session, ref)
        context["owned_url"] = f"/api/v1/groups/{namespace}/{name}/owned"
    return render(request, "entity.html", context)


def _existing(session: Any, refs: list[str]) -> list[Any]:
    from sqlalchemy import select

    from sentier.store.models import Entity

    if not refs:
        return []
    return list(
        session.scalars(
            select(Entity).where(Entity.ref.in_(refs)).order_by(Entity.kind, Entity.name)
        )
    )
