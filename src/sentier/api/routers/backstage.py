"""Backstage-compatible read endpoints, so existing Backstage clients and scripts work unchanged."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from sentier import catalog
from sentier.api.deps import DB, Viewer
from sentier.api.views import catalog as views
from sentier.catalog import EntityFilter
from sentier.store.models import Entity as EntityRow

router = APIRouter(prefix="/api/catalog", tags=["backstage"])


def _not_found(message: str) -> JSONResponse:
    # Backstage's error body shape, which its catalog client reads.
    return JSONResponse(
        {"error": {"name": "NotFoundError", "message": message}, "response": {"statusCode": 404}},
        status_code=404,
    )


@router.get("/entities")
def entities(
    principal: Viewer,
    session: DB,
    filter: Annotated[list[str] | None, Query()] = None,
    fields: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 10000,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[dict[str, Any]]:
    """``GET /api/catalog/entities?filter=kind=component,spec.type=service`` — a JSON array."""
    from sqlalchemy import select

    query = select(EntityRow)
    condition = views.backstage_filter_condition(filter or [])
    if condition is not None:
        query = query.where(condition)
    rows = list(session.scalars(query.order_by(EntityRow.ref).offset(offset).limit(limit)))
    wanted = [f for part in (fields or []) for f in part.split(",") if f]
    relations = catalog.relations_for(session, [e.ref for e in rows])
    return [views.project(catalog.as_backstage(e, relations.get(e.ref, [])), wanted) for e in rows]


@router.get("/entities/by-name/{kind}/{namespace}/{name}", response_model=None)
def by_name(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> dict[str, Any] | JSONResponse:
    entity = views.entity_detail(session, views.ref_of(kind, namespace, name))
    if entity is None:
        return _not_found(
            f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )
    return entity


@router.get("/entities/by-uid/{uid}", response_model=None)
def by_uid(uid: str, principal: Viewer, session: DB) -> dict[str, Any] | JSONResponse:
    row = session.get(EntityRow, uid)
    if row is None:
        return _not_found(f"No entity with uid {uid}")
    return catalog.as_backstage(row, catalog.relations_of(session, row.ref))


@router.get("/entity-facets")
def entity_facets(
    principal: Viewer,
    session: DB,
    facet: Annotated[list[str], Query()],
    filter: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """``GET /api/catalog/entity-facets?facet=spec.type`` — values with counts, as Backstage."""
    condition = views.backstage_filter_condition(filter or [])
    return {
        "facets": {
            key: [
                {"value": value, "count": count}
                for value, count in catalog.facets(session, key, EntityFilter(), condition)
            ]
            for key in facet
        }
    }
