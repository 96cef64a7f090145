"""``/api/catalog``: locations, location analysis and entity validation, as Backstage serves them.

A location is a catalog source (see ``catalog.locations``). Registering, changing, removing or
analysing one reads paths on the server, so these are for admins, as ``/api/v1/sources`` is;
listing them is for every viewer. Every write is audited (``source.*`` actions).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.api import jobs
from sentier.api.deps import DB, Admin, Viewer, audit_write
from sentier.api.openapi import body_schema
from sentier.api.problems import Problem
from sentier.api.routers.sources import register_path, unregister
from sentier.api.views import backstage as wire
from sentier.api.views import catalog as views
from sentier.auth import Principal
from sentier.store.models import CatalogSource

router = APIRouter(prefix="/api/catalog", tags=["backstage"])

MAX_LOCATIONS_PAGE = 10_000
Target = Annotated[str, Field(min_length=1, max_length=4096)]
TRUE = frozenset({"true", "1", "yes", "y", "on"})


class LocationIn(BaseModel):
    type: Annotated[str, Field(min_length=1, max_length=32)]
    target: Target
    presence: Literal["optional", "required"] | None = None


def _location(source: CatalogSource) -> dict[str, str]:
    return catalog.location_of(source).as_dict()


def _source_or_404(session: Session, location_id: str) -> CatalogSource:
    source = catalog.get_location(session, location_id)
    if source is None:
        raise Problem(404, f"Found no location with ID {location_id}")
    return source


def _server_path(location: LocationIn) -> Any:
    try:
        return catalog.server_path(location.type, location.target)
    except catalog.LocationError as error:
        raise wire.input_error(error) from error


# -- reads ---------------------------------------------------------------------------------------


@router.get("/locations")
def locations(principal: Viewer, session: DB) -> list[dict[str, Any]]:
    """Every location, each wrapped as ``{data: location}`` as Backstage lists them."""
    return [{"data": location.as_dict()} for location in catalog.list_locations(session)]


class LocationQueryIn(BaseModel):
    limit: Annotated[int | None, Field(ge=1, le=MAX_LOCATIONS_PAGE)] = None
    query: dict[str, Any] | None = None
    cursor: Annotated[str | None, Field(max_length=wire.MAX_CURSOR_BYTES)] = None


@router.post("/locations/by-query", openapi_extra=body_schema(LocationQueryIn))
async def locations_by_query(request: Request, principal: Viewer, session: DB) -> dict[str, Any]:
    """Locations matching a filter predicate on ``id``, ``type`` and ``target``, a page at a
    time (``cursor`` from the previous page's ``pageInfo.nextCursor``)."""
    body = await wire.json_body(request, LocationQueryIn)
    return await run_in_threadpool(_locations_page, session, body)


def _locations_page(session: Session, body: LocationQueryIn) -> dict[str, Any]:
    limit: Any = body.limit or 1000
    query, after = body.query, None
    if body.cursor is not None:
        cursor = wire.decode_cursor(body.cursor)
        limit, query, after = cursor.get("limit"), cursor.get("query"), cursor.get("afterId")
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LOCATIONS_PAGE:
            raise Problem(400, "malformed cursor")
    try:
        matching = [
            location
            for location in catalog.list_locations(session)
            if query is None or catalog.predicate_matches(query, location.as_dict())
        ]
    except catalog.SelectionError as error:
        raise wire.input_error(error) from error
    start = 0
    if after is not None:
        start = next((i + 1 for i, loc in enumerate(matching) if loc.id == str(after)), 0)
        if start == 0:
            start = sum(1 for loc in matching if int(loc.id) <= _as_int(after))
    page = matching[start : start + limit]
    page_info: dict[str, str] = {}
    if start + limit < len(matching) and page:
        page_info["nextCursor"] = wire.encode_cursor(
            {"limit": limit, "afterId": page[-1].id, **({"query": query} if query else {})}
        )
    return {
        "items": [location.as_dict() for location in page],
        "totalItems": len(matching),
        "pageInfo": page_info,
    }


def _as_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise Problem(400, "malformed cursor") from error


@router.get("/locations/by-entity/{kind}/{namespace}/{name}")
def location_by_entity(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> dict[str, str]:
    """The location (source) the entity was read from."""
    ref = views.ref_of(kind, namespace, name)
    location = catalog.location_of_entity(session, ref)
    if location is None:
        raise Problem(
            404, f"No entity named '{name}' found, with kind '{kind}' in namespace '{namespace}'"
        )
    return location.as_dict()


@router.get("/locations/{location_id}")
def location(location_id: str, principal: Viewer, session: DB) -> dict[str, str]:
    return _location(_source_or_404(session, location_id))


# -- writes --------------------------------------------------------------------------------------


@router.post("/locations", status_code=201, openapi_extra=body_schema(LocationIn))
async def add_location(
    request: Request,
    principal: Admin,
    session: DB,
    dry_run: Annotated[str | None, Query(alias="dryRun", max_length=8)] = None,
    on_conflict: Annotated[Literal["refresh", "reject"] | None, Query(alias="onConflict")] = None,
) -> JSONResponse:
    """Register a path on the server (a ``file`` location, or a ``url`` one with a ``file://``
    URL) and ingest it in the background; ``dryRun=true`` reads it and answers the entities it
    would add, writing nothing."""
    body = await wire.json_body(request, LocationIn)
    dry = (dry_run or "").lower() in TRUE
    return await run_in_threadpool(
        _add_location, request, principal, session, body, dry, on_conflict
    )


def _add_location(
    request: Request,
    principal: Principal,
    session: Session,
    body: LocationIn,
    dry_run: bool,
    on_conflict: str | None,
) -> JSONResponse:
    path = _server_path(body)
    target = str(path.resolve())
    existing = catalog.find_location(session, "file", target)
    if dry_run:
        try:
            entities = catalog.preview(path)
        except catalog.LocationError as error:
            raise wire.input_error(error) from error
        location = {"id": f"{body.type}:{body.target}", "type": body.type, "target": body.target}
        return JSONResponse(
            {"exists": existing is not None, "location": location, "entities": entities},
            status_code=201,
        )
    if existing is not None:
        if on_conflict != "refresh":
            raise Problem(409, f"Location {body.type}:{body.target} already exists")
        audit_write(request, session, principal, "source.refresh", existing.name)
        session.commit()
        jobs.enqueue(existing.id, principal.label)
        return JSONResponse(
            {"location": _location(existing), "entities": [], "exists": True}, status_code=201
        )
    name = catalog.source_name("file", target)
    if session.scalar(select(CatalogSource.id).where(CatalogSource.name == name)) is not None:
        raise Problem(409, f"a source named {name} already exists")
    source, _job = register_path(
        request, session, principal, name, path, {"location": f"{body.type}:{body.target}"}
    )
    return JSONResponse({"location": _location(source), "entities": []}, status_code=201)


@router.put("/locations/{location_id}", openapi_extra=body_schema(LocationIn))
async def update_location(
    location_id: str, request: Request, principal: Admin, session: DB
) -> dict[str, str]:
    """Point a registered path location at another path, and re-ingest it."""
    body = await wire.json_body(request, LocationIn)
    return await run_in_threadpool(_update_location, request, principal, session, location_id, body)


def _update_location(
    request: Request, principal: Principal, session: Session, location_id: str, body: LocationIn
) -> dict[str, str]:
    source = _source_or_404(session, location_id)
    if source.type != "path":
        raise Problem(400, f"location {location_id} is a pushed set: push it again to change it")
    path = _server_path(body)
    target = str(path.resolve())
    other = catalog.find_location(session, "file", target)
    if other is not None and other.id != source.id:
        raise Problem(409, f"Location {body.type}:{body.target} already exists")
    try:
        catalog.check_move(session, source.id, [path])
    except catalog.SourceOverlap as overlap:
        raise Problem(409, str(overlap), slug="source-overlap", source=overlap.source) from None
    before = source.target
    source.target = target
    audit_write(
        request, session, principal, "source.update", source.name, {"from": before, "to": target}
    )
    session.commit()
    jobs.enqueue(source.id, principal.label)
    return _location(source)


@router.delete("/locations/{location_id}", status_code=204)
def delete_location(location_id: str, request: Request, principal: Admin, session: DB) -> Response:
    """Unregister the location: its entities are removed (each with a ``removed`` event)."""
    unregister(request, session, principal, _source_or_404(session, location_id))
    return Response(status_code=204)


# -- analysis and validation ---------------------------------------------------------------------


class AnalyzeIn(BaseModel):
    location: LocationIn
    catalogFilename: Annotated[str | None, Field(max_length=255)] = None


@router.post("/analyze-location", openapi_extra=body_schema(AnalyzeIn))
async def analyze_location(request: Request, principal: Admin, session: DB) -> dict[str, Any]:
    """What a location holds before registering it: the descriptors found there, each with
    whether it is already registered, or a Component to start from."""
    body = await wire.json_body(request, AnalyzeIn)

    def run() -> dict[str, Any]:
        try:
            return catalog.analyze(session, _server_path(body.location), body.catalogFilename)
        except catalog.LocationError as error:
            raise wire.input_error(error) from error

    return await run_in_threadpool(run)


class ValidateIn(BaseModel):
    entity: Any = None
    location: Annotated[str, Field(min_length=1, max_length=4096)]


@router.post("/validate-entity", openapi_extra=body_schema(ValidateIn))
async def validate_entity(request: Request, principal: Viewer) -> Response:
    """Check an entity without storing it: 200 when valid, else 400 with Backstage's list of
    serialized errors, one per problem (``field: message``)."""
    try:
        body = await wire.json_body(request, ValidateIn)
        catalog.parse_location_ref(body.location)
    except Problem as problem:
        if problem.status != 400:
            raise
        return _invalid([f"{problem.detail}"])
    except catalog.LocationError as error:
        return _invalid([error.problem.message])
    problems = catalog.check_entity(body.entity)
    if problems:
        return _invalid([f"{p.field}: {p.message}" if p.field else p.message for p in problems])
    return Response(status_code=200)


def _invalid(messages: list[str]) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"name": "InputError", "message": message} for message in messages]},
        status_code=400,
    )
