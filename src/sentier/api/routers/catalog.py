"""``/api/v1``: the catalog — entities, relations, graphs, ownership, search, facets, home."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from sentier import catalog
from sentier.api.deps import DB, Viewer
from sentier.api.problems import Problem
from sentier.api.views import catalog as views
from sentier.catalog import EntityFilter

router = APIRouter(prefix="/api/v1", tags=["catalog"])

Entity = dict[str, Any]


class EntityPage(BaseModel):
    items: list[Entity]
    total: int | None
    next_cursor: str | None


class RelationOut(BaseModel):
    type: str
    targetRef: str


class GraphNode(BaseModel, extra="allow"):
    ref: str
    exists: bool
    kind: str


class GraphEdge(BaseModel):
    source: str
    type: str
    target: str


class GraphOut(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]


Many = Annotated[list[str] | None, Query()]


def entity_filter(
    kind: Many = None,
    type: Many = None,
    lifecycle: Many = None,
    owner: Many = None,
    system: Many = None,
    tag: Many = None,
    label: Many = None,
    annotation: Many = None,
    namespace: Many = None,
    q: str | None = None,
) -> EntityFilter:
    return EntityFilter.of(
        kind=kind,
        type=type,
        lifecycle=lifecycle,
        owner=owner,
        system=system,
        tag=tag,
        label=label,
        annotation=annotation,
        namespace=namespace,
        text=q,
    )


@router.get("/entities", response_model=EntityPage, summary="List entities")
def list_entities(
    principal: Viewer,
    session: DB,
    kind: Many = None,
    type: Many = None,
    lifecycle: Many = None,
    owner: Many = None,
    system: Many = None,
    tag: Many = None,
    label: Annotated[list[str] | None, Query(description="key or key=value")] = None,
    annotation: Annotated[list[str] | None, Query(description="key or key=value")] = None,
    namespace: Many = None,
    q: Annotated[
        str | None, Query(description="full text on name, title, description, tags")
    ] = None,
    filter: Annotated[
        list[str] | None, Query(description="Backstage style: kind=component,spec.type=service")
    ] = None,
    fields: Annotated[str | None, Query(description="comma-separated dotted paths to keep")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    total: bool = True,
) -> dict[str, Any]:
    """Entities in Backstage's shape, filtered, one page at a time (follow ``next_cursor``)."""
    flt = entity_filter(kind, type, lifecycle, owner, system, tag, label, annotation, namespace, q)
    try:
        return views.entity_page(
            session,
            flt,
            filters=filter or [],
            limit=limit,
            cursor=cursor,
            fields=[f for f in (fields or "").split(",") if f],
            with_total=total,
        )
    except catalog.SelectionError as error:
        raise Problem(400, error.problem.message, slug="invalid-filter") from error
    except ValueError as error:
        raise Problem(400, str(error), slug="invalid-cursor") from error


def _entity_or_404(session: Any, kind: str, namespace: str, name: str) -> Entity:
    ref = views.ref_of(kind, namespace, name)
    entity = views.entity_detail(session, ref)
    if entity is None:
        raise Problem(404, f"no entity {ref}", slug="entity-not-found")
    return entity


@router.get("/entities/{kind}/{namespace}/{name}", response_model=Entity, summary="One entity")
def get_entity(kind: str, namespace: str, name: str, principal: Viewer, session: DB) -> Entity:
    return _entity_or_404(session, kind, namespace, name)


@router.get("/entities/{kind}/{namespace}/{name}/relations", response_model=list[RelationOut])
def entity_relations(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> list[dict[str, str]]:
    """Relations of an entity, both those it declares and those pointing at it."""
    relations: list[dict[str, str]] = _entity_or_404(session, kind, namespace, name)["relations"]
    return relations


@router.get("/entities/{kind}/{namespace}/{name}/graph", response_model=GraphOut)
def entity_graph(
    kind: str,
    namespace: str,
    name: str,
    principal: Viewer,
    session: DB,
    depth: Annotated[int, Query(ge=1, le=4)] = 1,
) -> dict[str, Any]:
    """The neighbourhood of an entity, ``depth`` relations away."""
    ref = _entity_or_404(session, kind, namespace, name)
    del ref
    return catalog.entity_graph(session, views.ref_of(kind, namespace, name), depth=depth).as_dict()


@router.get("/systems/{namespace}/{name}/graph", response_model=GraphOut)
def system_graph(namespace: str, name: str, principal: Viewer, session: DB) -> dict[str, Any]:
    """A system's dependency graph: its parts and what they depend on, inside and outside it."""
    _entity_or_404(session, "system", namespace, name)
    return catalog.system_graph(session, views.ref_of("system", namespace, name)).as_dict()


@router.get("/groups/{namespace}/{name}/owned")
def group_owned(namespace: str, name: str, principal: Viewer, session: DB) -> dict[str, Any]:
    """Everything a group owns, directly and through its child groups, and its members."""
    _entity_or_404(session, "group", namespace, name)
    return views.owned_summary(session, views.ref_of("group", namespace, name))


@router.get("/search")
def search(
    principal: Viewer,
    session: DB,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Full-text search; exact name matches first."""
    return {
        "query": q,
        "items": [views.summary(e) for e in catalog.search(session, q, limit=limit)],
    }


@router.get("/facets")
def facets(
    principal: Viewer,
    session: DB,
    facet: Annotated[list[str], Query(description="e.g. kind, spec.type, metadata.tags")],
    flt: Annotated[EntityFilter, Depends(entity_filter)],
) -> dict[str, Any]:
    """Distinct values of fields with their entity counts among the entities the filters keep
    (the list's filters; each facet ignores its own, as the portal's catalog page shows them)."""
    counts = catalog.facet_counts(session, facet, flt)
    return {
        "facets": {
            key: [{"value": value, "count": count} for value, count in values]
            for key, values in counts.items()
        }
    }


@router.get("/home")
def home(principal: Viewer, session: DB) -> dict[str, Any]:
    """Counts, recent changes and what needs attention (the portal's home page)."""
    return views.home(session)
