"""The MCP tools: each parses its arguments, calls the function the matching API endpoint
calls (``sentier.api.views``: one rule, one place) and returns its result as plain JSON.

Read tools need the viewer role, like the API's reads; write tools (``scan_path``,
``acknowledge_incident``) need an editor and apply the same ownership rules, and are audited
under the API's action names. Database work runs on a worker thread, off the event loop.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.api.problems import Problem
from sentier.catalog import RefError, parse_ref
from sentier.mcp.access import Caller, Identify, audit_write, refuse, require
from sentier.store import get_engine, session_factory
from sentier.store.models import Entity

T = TypeVar("T")

Ref = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        description="entity reference: kind:namespace/name, kind:name, or a bare name",
    ),
]
Limit = Annotated[int, Field(ge=1, le=200)]
Period = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


def plain(value: Any) -> dict[str, Any]:
    """A tool's result, JSON-ready: decimals as exact strings, instants in ISO 8601."""

    def default(item: Any) -> Any:
        if isinstance(item, Decimal):
            return str(item)
        if isinstance(item, datetime | date):
            return item.isoformat()
        if isinstance(item, set | frozenset | tuple):
            return sorted(item, key=str)
        return str(item)

    out: dict[str, Any] = json.loads(json.dumps(value, default=default))
    return out


def _session() -> Session:
    return session_factory(get_engine())()


async def _off_loop(work: Callable[[], T]) -> T:
    """Run ``work`` on a worker thread; an API ``Problem`` becomes the tool's error."""
    try:
        return await anyio.to_thread.run_sync(work)
    except Problem as problem:
        raise ToolError(f"{problem.title}: {problem.detail}") from problem


def resolve(session: Session, text: str) -> Entity:
    """The entity ``text`` names: a full or partial reference; a bare name is looked up in
    every kind (several matches: an error naming them)."""
    try:
        ref = parse_ref(text, default_kind="component")
    except RefError as error:
        raise ToolError(f"bad entity reference {text!r}: {error}") from error
    found = session.scalar(select(Entity).where(Entity.ref == ref.key))
    if found is not None:
        return found
    if ":" not in text:
        candidates = list(
            session.scalars(
                select(Entity)
                .where(Entity.name == ref.name.lower(), Entity.namespace == ref.namespace.lower())
                .limit(10)
            )
        )
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            names = ", ".join(sorted(c.ref for c in candidates))
            raise ToolError(f"{text!r} names several entities: {names}; give the kind")
    raise ToolError(f"no entity {ref.key}")


# -- read tools ---------------------------------------------------------------------------------


def _search(query: str, limit: int) -> dict[str, Any]:
    from sentier.api.views import catalog as views

    with _session() as session:
        return {
            "query": query,
            "items": [views.summary(e) for e in catalog.search(session, query, limit=limit)],
        }


def _entity(ref: str) -> dict[str, Any]:
    from sentier.api.views import catalog as views

    with _session() as session:
        entity = resolve(session, ref)
        document = views.entity_detail(session, entity.ref)
        return {"ref": entity.ref, "entity": document}


def _owner(ref: str) -> dict[str, Any]:
    from sentier.api.views import catalog as views

    with _session() as session:
        entity = resolve(session, ref)
        if entity.kind.lower() == "group":
            owner_ref: str | None = entity.ref
        else:
            owner_ref = entity.owner_ref
        out: dict[str, Any] = {"ref": entity.ref, "owner": owner_ref}
        if owner_ref is None:
            out["message"] = f"{entity.ref} has no owner in the catalog"
            return out
        owner = session.scalar(select(Entity).where(Entity.ref == owner_ref))
        if owner is None:
            out["message"] = f"its owner {owner_ref} is not in the catalog"
            return out
        out["owner_entity"] = views.summary(owner)
        if owner.kind.lower() == "group":
            owned = views.owned_summary(session, owner.ref)
            out["members"] = owned["members"]
            out["parent"] = next(
                (
                    r.target_ref
                    for r in catalog.relations_of(session, owner.ref)
                    if r.type == "childOf"
                ),
                None,
            )
            out["owned_count"] = owned["owned_count"]
        return out


def _findings(ref: str, limit: int) -> dict[str, Any]:
    from sentier.api.views import policy as views

    with _session() as session:
        entity = resolve(session, ref)
        summary = views.entity_findings(session, entity.ref, entity.kind)
        summary["findings"] = summary.get("findings", [])[:limit]
        return summary


def _cost(ref: str, periods: list[str] | None) -> dict[str, Any]:
    from sentier.api.views import finops as views
    from sentier.finops import Scope

    with _session() as session:
        entity = resolve(session, ref)
        with views.open_inputs(session, periods) as inputs:
            scope = Scope(periods or None, None, None)
            if entity.kind.lower() == "group":
                return views.group_costs(session, inputs, entity.ref, scope)
            return views.entity_costs(inputs, entity.ref, entity.kind, scope)


def _carbon(ref: str) -> dict[str, Any]:
    from sentier.api.views import greenops as views

    with _session() as session:
        entity = resolve(session, ref)
        found = views.entity_carbon(session, entity.ref, entity.kind)
        if found is None:
            return {"ref": entity.ref, "available": False, "message": "no carbon attributed"}
        return {"available": True, **found}


def _incidents(owner: str | None, entity: str | None, limit: int) -> dict[str, Any]:
    from sentier.api.views import aiops as views

    with _session() as session:
        entity_ref = resolve(session, entity).ref if entity else None
        try:
            return views.incidents_page(
                session,
                statuses=("open", "acknowledged"),
                entity=entity_ref,
                owner=owner,
                limit=limit,
            )
        except ValueError as error:
            raise ToolError(f"bad owner {owner!r}: {error}") from error


def _incident(key: str) -> dict[str, Any]:
    from sentier.aiops import AIOpsError
    from sentier.api.views import aiops as views

    with _session() as session:
        try:
            return views.incident_view(session, key)
        except AIOpsError as error:
            raise ToolError(str(error)) from error


# -- write tools --------------------------------------------------------------------------------


def _scan(
    caller: Caller, paths: list[str], target: str | None, packs: list[Any] | None
) -> dict[str, Any]:
    from sentier.api.views import policy as views

    with _session() as session:
        try:
            done = views.store_scan(session, caller.principal, paths, target=target, packs=packs)
        except views.Refused as refused:
            session.rollback()
            refuse(caller, "scan_path", refused.reason, refused.target)
        audit_write(
            session,
            caller,
            "policy.scan",
            done["target"],
            {"paths": done["paths"], "scan_id": done["scan"]["id"], "new": done["new"]},
        )
        session.commit()
        done["findings"] = done["findings"][:200]
        out: dict[str, Any] = done
        return out


def _ack(caller: Caller, key: str, note: str | None) -> dict[str, Any]:
    from sentier.api.views import aiops as views
    from sentier.api.views.policy import Refused

    with _session() as session:
        try:
            key_of, data = views.acknowledge_incident(session, caller.principal, key)
        except Refused as refused:
            session.rollback()
            refuse(caller, "acknowledge_incident", refused.reason, refused.target)
        audit_write(session, caller, "incident.ack", f"incident:{key_of}", {"note": note})
        session.commit()
        return data


# -- registration -------------------------------------------------------------------------------

READ_TOOLS = (
    "search_catalog",
    "get_entity",
    "who_owns",
    "findings",
    "cost",
    "carbon",
    "open_incidents",
    "incident",
)
WRITE_TOOLS = ("scan_path", "acknowledge_incident")


def register(server: MCPServer, identify: Identify, *, writes: bool) -> None:
    """Add the read tools, and the write tools when ``writes`` (a caller whose role allows
    them); every call checks the caller's role again."""

    def viewer(ctx: Context, tool: str) -> Caller:
        caller = identify(ctx)
        require(caller, "viewer", tool)
        return caller

    @server.tool(annotations=READ)
    async def search_catalog(query: Annotated[str, Field(min_length=1, max_length=200)],
                             ctx: Context, limit: Limit = 20) -> dict[str, Any]:  # fmt: skip
        """Full-text search of the software catalog (name, title, description, tags); exact
        name matches first. Returns each entity's ref, kind, title, owner, system, tags."""
        viewer(ctx, "search_catalog")
        return plain(await _off_loop(lambda: _search(query, limit)))

    @server.tool(annotations=READ)
    async def get_entity(ref: Ref, ctx: Context) -> dict[str, Any]:
        """One catalog entity in Backstage's shape (metadata, spec, relations)."""
        viewer(ctx, "get_entity")
        return plain(await _off_loop(lambda: _entity(ref)))

    @server.tool(annotations=READ)
    async def who_owns(ref: Ref, ctx: Context) -> dict[str, Any]:
        """Who owns an entity: its owner group (or user), the group's members, its parent
        group and how much it owns."""
        viewer(ctx, "who_owns")
        return plain(await _off_loop(lambda: _owner(ref)))

    @server.tool(annotations=READ)
    async def findings(ref: Ref, ctx: Context, limit: Limit = 50) -> dict[str, Any]:
        """Open infrastructure-as-code findings of an entity from the latest stored scans; of
        a group (team): those of every entity it owns, through child groups too."""
        viewer(ctx, "findings")
        return plain(await _off_loop(lambda: _findings(ref, limit)))

    @server.tool(annotations=READ)
    async def cost(ref: Ref, ctx: Context,
                   periods: Annotated[list[Period] | None, Field(max_length=60)] = None
                   ) -> dict[str, Any]:  # fmt: skip
        """Cost of a team (group, with its child groups: per month, child group, system,
        entity and service, with budgets) or of a system, component or resource, over billing
        periods YYYY-MM (default: all). Amounts are exact decimal strings."""
        viewer(ctx, "cost")
        return plain(await _off_loop(lambda: _cost(ref, list(periods) if periods else None)))

    @server.tool(annotations=READ)
    async def carbon(ref: Ref, ctx: Context) -> dict[str, Any]:
        """Carbon (kgCO2e, scope 2 and 3) of a team, system, component or resource, beside
        its cost, from the same usage lines."""
        viewer(ctx, "carbon")
        return plain(await _off_loop(lambda: _carbon(ref)))

    @server.tool(annotations=READ)
    async def open_incidents(
        ctx: Context,
        owner: Annotated[str | None, Field(max_length=255, description="a group")] = None,
        entity: Annotated[str | None, Field(max_length=255)] = None,
        limit: Limit = 20,
    ) -> dict[str, Any]:
        """Incidents still open or acknowledged, newest first, each with its likely root
        cause; optionally of one group (through child groups) or one entity."""
        viewer(ctx, "open_incidents")
        return plain(await _off_loop(lambda: _incidents(owner, entity, limit)))

    @server.tool(annotations=READ)
    async def incident(
        key: Annotated[str, Field(min_length=1, max_length=64)], ctx: Context
    ) -> dict[str, Any]:
        """One incident: its alerts, ranked likely root causes with the evidence for each,
        and the affected part of the dependency graph."""
        viewer(ctx, "incident")
        return plain(await _off_loop(lambda: _incident(key)))

    if not writes:
        return

    def editor(ctx: Context, tool: str) -> Caller:
        caller = identify(ctx)
        require(caller, "editor", tool)
        return caller

    @server.tool(annotations=WRITE)
    async def scan_path(
        paths: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=4096)]],
            Field(min_length=1, max_length=20, description="absolute paths on the server"),
        ],
        ctx: Context,
        target: Annotated[str | None, Field(max_length=512)] = None,
        packs: Annotated[
            list[Literal["security", "tagging", "sovereignty"]] | None, Field(max_length=3)
        ] = None,
    ) -> dict[str, Any]:
        """Scan infrastructure code on the server (Terraform, plans, Kubernetes), store the
        scan and attribute its findings to catalog entities. Editors only inside the location
        of an entity their groups own; admins anywhere."""
        caller = editor(ctx, "scan_path")
        return plain(await _off_loop(lambda: _scan(caller, list(paths), target, packs)))

    @server.tool(annotations=WRITE)
    async def acknowledge_incident(
        key: Annotated[str, Field(min_length=1, max_length=64)],
        ctx: Context,
        note: Annotated[str | None, Field(max_length=2000)] = None,
    ) -> dict[str, Any]:
        """Acknowledge an open incident (someone is on it). Editors of the group owning its
        likely root cause, or admins."""
        caller = editor(ctx, "acknowledge_incident")
        return plain(await _off_loop(lambda: _ack(caller, key, note)))
