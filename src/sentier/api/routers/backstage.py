"""``/api/catalog``: the entity routes of Backstage's catalog backend, with its semantics, so
that ``@backstage/catalog-client``, Backstage plugins and existing scripts work unchanged.

Same authentication and roles as ``/api/v1``: viewers read; editors remove or refresh what
their groups own; admins anything. Errors take Backstage's shape (see ``api.problems``).
The locations routes are in ``backstage_locations``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.api.deps import DB, Editor, Viewer, audit_write, deny
from sentier.api.openapi import body_schema
from sentier.api.problems import Problem
from sentier.api.views import backstage as wire
from sentier.api.views import catalog as views
from sentier.auth import Principal
from sentier.store import get_engine, session_factory
from sentier.store.models import Entity as EntityRow

router = APIRouter(prefix="/api/catalog", tags=["backstage"])

Many = Annotated[list[str] | None, Query()]
Count = Annotated[int | None, Query(ge=0, le=2**62)]
# A by-query page is built in memory (its cursor needs its last row); GET /entities streams.
MAX_PAGE = 10_000
DEFAULT_PAGE = 20
MAX_REFS = 10_000
Name = Annotated[str, Field(min_length=1, max_length=1024)]
ENTITY_ARRAY = {
    200: {
        "description": "entities in Backstage's shape, streamed",
        "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}


def _input(error: catalog.CatalogError) -> Problem:
    return wire.input_error(error)


# -- lists ---------------------------------------------------------------------------------------


def _next_link(request: Request, after: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("offset", "after")]
    params.append(("after", after))
    return f'<{request.url.path}?{urlencode(params)}>; rel="next"'


@router.get("/entities", response_model=None, responses=ENTITY_ARRAY)  # type: ignore[arg-type]
def entities(
    request: Request,
    principal: Viewer,
    session: DB,
    filter: Many = None,
    fields: Many = None,
    order: Annotated[list[str] | None, Query(description="asc:<field> or desc:<field>")] = None,
    offset: Count = None,
    limit: Count = None,
    after: str | None = None,
) -> StreamingResponse:
    """Every entity the filters select, in order, as one JSON array streamed batch by batch
    (no cap: a 100,000-entity catalog comes whole). ``limit``/``offset`` page it, and a
    ``link: <...>; rel="next"`` header then carries the ``after`` cursor of the next page."""
    wanted = wire.fields_of(fields)
    try:
        condition = catalog.filter_condition(filter or [])
        orders = [catalog.Order.parse(o) for o in order or []]
    except catalog.SelectionError as error:
        raise _input(error) from error
    if after is not None:
        cursor = wire.decode_cursor(after, "after cursor")
        limit = cursor.get("limit", limit)
        offset = cursor.get("offset", offset)
        if not all(
            isinstance(v, int) and 0 <= v <= 2**62 for v in (limit, offset) if v is not None
        ):
            raise Problem(400, "malformed after cursor, limit and offset must be counts")
    start = offset or 0
    headers = {}
    if limit is not None and catalog.has_more(session, condition, start + limit):
        headers["link"] = _next_link(
            request, wire.encode_cursor({"limit": limit, "offset": start + limit})
        )

    def batches() -> Any:
        # Its own session: the response outlives the request's, and reads in batches.
        stream_session = session_factory(get_engine())()
        try:
            yield from catalog.stream_documents(
                stream_session,
                condition,
                orders,
                offset=start,
                limit=limit,
                with_relations=wire.needs_relations(wanted),
            )
        finally:
            stream_session.rollback()
            stream_session.close()

    return StreamingResponse(
        wire.json_array(batches(), wanted), media_type="application/json", headers=headers
    )


@router.get("/entities/by-query")
def by_query(
    principal: Viewer,
    session: DB,
    filter: Many = None,
    fields: Many = None,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
    offset: Count = None,
    order_field: Annotated[
        list[str] | None, Query(alias="orderField", description="<field>[,asc|desc]")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=wire.MAX_CURSOR_BYTES)] = None,
    total_items: Annotated[Literal["include", "exclude"] | None, Query(alias="totalItems")] = None,
    full_text_filter_term: Annotated[
        str | None, Query(alias="fullTextFilterTerm", max_length=500)
    ] = None,
    full_text_filter_fields: Annotated[
        list[str] | None, Query(alias="fullTextFilterFields")
    ] = None,
) -> dict[str, Any]:
    """A page of entities with the total and the cursors of the pages around it."""
    wanted = wire.fields_of(fields)
    if cursor is not None:
        selection, position = wire.EntityQuery.from_cursor(wire.decode_cursor(cursor))
        return wire.query_response(
            session, selection, limit=_page(limit), position=position, fields=wanted
        )
    try:
        orders = [catalog.Order.parse_field(o) for o in order_field or []]
    except catalog.SelectionError as error:
        raise _input(error) from error
    selection = wire.EntityQuery(
        filters=filter or [],
        order=orders[0] if orders else None,
        term=full_text_filter_term,
        text_fields=wire.fields_of(full_text_filter_fields),
        count_total=total_items != "exclude",
    )
    return wire.query_response(
        session, selection, limit=_page(limit), offset=offset or 0, fields=wanted
    )


def _page(limit: int | None) -> int:
    return DEFAULT_PAGE if limit is None else limit


class OrderIn(BaseModel):
    field: Annotated[str, Field(min_length=1, max_length=255)]
    order: Literal["asc", "desc"] = "asc"


class FullTextIn(BaseModel):
    term: Annotated[str, Field(max_length=500)] = ""
    fields: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=50)] = []


class QueryIn(BaseModel):
    """``POST /entities/by-query``: a filter predicate instead of ``filter`` parameters."""

    query: dict[str, Any] | None = None
    limit: Annotated[int | None, Field(ge=0, le=MAX_PAGE)] = None
    offset: Annotated[int | None, Field(ge=0, le=2**62)] = None
    orderBy: list[OrderIn] | OrderIn | None = None
    fullTextFilter: FullTextIn | None = None
    fields: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=200)] = []
    totalItems: Literal["include", "exclude"] | None = None
    cursor: Annotated[str | None, Field(max_length=wire.MAX_CURSOR_BYTES)] = None


@router.post("/entities/by-query", openapi_extra=body_schema(QueryIn))
async def by_predicate(request: Request, principal: Viewer, session: DB) -> dict[str, Any]:
    """The same pages, selected by a filter predicate (``{"$all": [...]}``, ``$any``, ``$not``,
    ``$exists``, ``$in``, ``$hasPrefix``)."""
    body = await wire.json_body(request, QueryIn)
    fields = wire.fields_of(body.fields)
    if body.cursor:
        selection, position = wire.EntityQuery.from_cursor(wire.decode_cursor(body.cursor))
        return await run_in_threadpool(
            wire.query_response,
            session,
            selection,
            limit=_page(body.limit),
            position=position,
            fields=fields,
        )
    order = body.orderBy[0] if isinstance(body.orderBy, list) and body.orderBy else body.orderBy
    text = body.fullTextFilter
    selection = wire.EntityQuery(
        query=body.query if body.query is not None else {},
        order=catalog.Order(order.field, order.order == "desc")
        if isinstance(order, OrderIn)
        else None,
        term=text.term if text else None,
        text_fields=text.fields if text else (),
        count_total=body.totalItems != "exclude",
    )
    return await run_in_threadpool(
        wire.query_response,
        session,
        selection,
        limit=_page(body.limit),
        offset=body.offset or 0,
        fields=fields,
    )


class RefsIn(BaseModel):
    entityRefs: Annotated[list[Name], Field(max_length=MAX_REFS)]
    fields: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=200)] = []
    query: dict[str, Any] | None = None


@router.post("/entities/by-refs", openapi_extra=body_schema(RefsIn))
async def by_refs(
    request: Request, principal: Viewer, session: DB, filter: Many = None
) -> dict[str, Any]:
    """The entities named, in the order given, ``null`` where a ref names none (or one that
    the filter or query leaves out)."""
    body = await wire.json_body(request, RefsIn)
    try:
        condition = catalog.combine(
            catalog.filter_condition(filter or []),
            catalog.predicate_condition(body.query) if body.query is not None else None,
        )
    except catalog.SelectionError as error:
        raise _input(error) from error
    fields = wire.fields_of(body.fields)
    documents = await run_in_threadpool(
        catalog.documents_by_refs,
        session,
        body.entityRefs,
        condition,
        with_relations=wire.needs_relations(fields),
    )
    return {"items": wire.projected(documents, fields)}


# -- one entity ----------------------------------------------------------------------------------


@router.get("/entities/by-name/{kind}/{namespace}/{name}")
def by_name(kind: str, namespace: str, name: str, principal: Viewer, session: DB) -> dict[str, Any]:
    entity = views.entity_detail(session, views.ref_of(kind, namespace, name))
    if entity is None:
        raise Problem(
            404, f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )
    return entity


@router.get("/entities/by-name/{kind}/{namespace}/{name}/ancestry")
def ancestry(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> dict[str, Any]:
    """The entity and the Location entities that led to it, each with its parents."""
    ref = views.ref_of(kind, namespace, name)
    items = catalog.ancestry(session, ref)
    if items is None:
        raise Problem(404, f"No such entity {ref}")
    return {
        "rootEntityRef": ref,
        "items": [{"entity": entity, "parentEntityRefs": parents} for entity, parents in items],
    }


@router.get("/entities/by-uid/{uid}")
def by_uid(uid: str, principal: Viewer, session: DB) -> dict[str, Any]:
    row = session.get(EntityRow, uid)
    if row is None:
        raise Problem(404, f"No entity with uid {uid}")
    return catalog.as_backstage(row, catalog.relations_of(session, row.ref))


def _remove(request: Request, principal: Principal, session: Session, row: EntityRow) -> None:
    """Remove an entity the principal may write (403, recorded, otherwise); audited."""
    if not principal.may_write_owned_by(session, row.owner_ref):
        deny(request, principal, "not owned by your groups", row.ref)
    ref = catalog.remove_entity(session, row.id)
    audit_write(request, session, principal, "entity.remove", ref, {"uid": row.id})
    session.commit()


@router.delete("/entities/by-uid/{uid}", status_code=204)
def delete_by_uid(uid: str, request: Request, principal: Editor, session: DB) -> Response:
    """Remove an entity. As in Backstage, one its source still defines comes back at the
    source's next ingestion; an unknown uid is nothing to remove (204)."""
    row = session.get(EntityRow, uid)
    if row is not None:
        _remove(request, principal, session, row)
    return Response(status_code=204)


@router.delete("/entities/by-name/{kind}/{namespace}/{name}", status_code=204)
def delete_by_name(
    kind: str, namespace: str, name: str, request: Request, principal: Editor, session: DB
) -> Response:
    """Remove an entity by name (same rules as by uid)."""
    ref = views.ref_of(kind, namespace, name)
    row = session.scalar(select(EntityRow).where(EntityRow.ref == ref))
    if row is not None:
        _remove(request, principal, session, row)
    return Response(status_code=204)


class RefreshIn(BaseModel):
    entityRef: Name
    authorizationToken: str | None = None


@router.post("/refresh", openapi_extra=body_schema(RefreshIn))
async def refresh(request: Request, principal: Editor, session: DB) -> Response:
    """Re-read the entity's source now, in the background (ingestion writes only changes)."""
    body = await wire.json_body(request, RefreshIn)
    return await run_in_threadpool(_refresh, request, principal, session, body.entityRef)


def _refresh(request: Request, principal: Principal, session: Session, entity_ref: str) -> Response:
    from sentier.api import jobs

    try:
        ref = catalog.parse_ref(entity_ref).key
    except catalog.RefError as error:
        raise Problem(400, str(error)) from error
    row = session.execute(
        select(EntityRow.source_id, EntityRow.owner_ref).where(EntityRow.ref == ref)
    ).first()
    if row is None:
        raise Problem(404, f"Entity {ref} not found")
    if not principal.may_write_owned_by(session, row.owner_ref):
        deny(request, principal, "not owned by your groups", ref)
    audit_write(request, session, principal, "entity.refresh", ref, {"source_id": row.source_id})
    session.commit()
    jobs.enqueue(row.source_id, principal.label)
    return Response(status_code=200)


# -- facets --------------------------------------------------------------------------------------


def _facets(session: Session, keys: list[str], condition: Any) -> dict[str, Any]:
    return {
        "facets": {
            key: [
                {"value": value, "count": count}
                for value, count in catalog.facets(session, key, catalog.EntityFilter(), condition)
            ]
            for key in keys
        }
    }


@router.get("/entity-facets")
def entity_facets(
    principal: Viewer,
    session: DB,
    facet: Annotated[list[Annotated[str, Field(max_length=255)]], Query(max_length=50)],
    filter: Many = None,
) -> dict[str, Any]:
    """Values of each facet with their entity counts, among the entities the filters select."""
    try:
        condition = catalog.filter_condition(filter or [])
    except catalog.SelectionError as error:
        raise _input(error) from error
    return _facets(session, facet, condition)


FacetName = Annotated[str, Field(max_length=255)]


class FacetsIn(BaseModel):
    facets: Annotated[
        list[Annotated[str, Field(max_length=255)]], Field(min_length=1, max_length=50)
    ]
    query: dict[str, Any] | None = None


@router.post("/entity-facets", openapi_extra=body_schema(FacetsIn))
async def entity_facets_by_predicate(
    request: Request, principal: Viewer, session: DB
) -> dict[str, Any]:
    """The same counts, among the entities a filter predicate selects."""
    body = await wire.json_body(request, FacetsIn)
    try:
        condition = catalog.predicate_condition(body.query) if body.query is not None else None
    except catalog.SelectionError as error:
        raise _input(error) from error
    return await run_in_threadpool(_facets, session, body.facets, condition)
