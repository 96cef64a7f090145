"""What the catalog pages and endpoints show, computed once for both."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.catalog import EntityFilter
from sentier.store.models import CatalogSource, Entity, OutboxEvent


def encode_cursor(ref: str | None) -> str | None:
    return base64.urlsafe_b64encode(ref.encode()).decode().rstrip("=") if ref else None


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        ref = base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError("invalid cursor") from error
    if ":" not in ref or "/" not in ref:
        raise ValueError("invalid cursor")
    return ref


def project(entity: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """Backstage's ``fields=`` projection: keep only the given dotted paths."""
    if not fields:
        return entity
    out: dict[str, Any] = {}
    for path in fields:
        parts = path.split(".")
        source: Any = entity
        for part in parts:
            if not isinstance(source, dict) or part not in source:
                source = None
                break
            source = source[part]
        if source is None:
            continue
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = source
    return out


def entity_page(
    session: Session,
    flt: EntityFilter,
    *,
    filters: Sequence[str] = (),
    limit: int = 50,
    cursor: str | None = None,
    fields: Sequence[str] = (),
    with_total: bool = True,
) -> dict[str, Any]:
    """A page of entities in Backstage's shape, with the cursor of the next page."""
    condition = catalog.filter_condition(filters)  # SelectionError when malformed
    after = decode_cursor(cursor)
    indexed = catalog.queries.fulltext_indexed(session)
    query = catalog.queries.filtered(select(Entity), flt, indexed=indexed)
    if condition is not None:
        query = query.where(condition)
    total = None
    if with_total:
        counted = catalog.queries.filtered(
            select(func.count()).select_from(Entity), flt, indexed=indexed
        )
        if condition is not None:
            counted = counted.where(condition)
        total = session.scalar(counted)
    exact: list[Entity] = []
    if flt.text and flt.text.strip():
        # Entities named exactly like the search come first (on the first page only), and
        # are left out of the ordered remainder so that paging never shows them twice.
        is_exact = func.lower(Entity.name) == flt.text.strip().lower()
        if not after:
            exact = list(session.scalars(query.where(is_exact).order_by(Entity.ref)))
        query = query.where(~is_exact)
    if after:
        query = query.where(Entity.ref > after)
    room = max(limit - len(exact), 0)
    rows = list(session.scalars(query.order_by(Entity.ref).limit(room + 1)))
    next_ref = rows[room - 1].ref if len(rows) > room and room > 0 else None
    if room == 0 and rows:
        next_ref = exact[-1].ref if exact else None
    rows = exact + rows[:room]
    needs_relations = not fields or any(
        f == "relations" or f.startswith("relations.") for f in fields
    )
    relations = catalog.relations_for(session, [e.ref for e in rows]) if needs_relations else {}
    items = [project(catalog.as_backstage(e, relations.get(e.ref, [])), fields) for e in rows]
    return {"items": items, "total": total, "next_cursor": encode_cursor(next_ref)}


def entity_detail(session: Session, ref: str) -> dict[str, Any] | None:
    return catalog.queries.entity_document(session, ref)


def ref_of(kind: str, namespace: str, name: str) -> str:
    return f"{kind}:{namespace}/{name}".lower()


def owned_summary(session: Session, group_ref: str) -> dict[str, Any]:
    """What a group owns (through child groups too), grouped by kind, plus its members."""
    owned = catalog.owned_by_group(session, group_ref)
    members = [
        r.target_ref for r in catalog.relations_of(session, group_ref) if r.type == "hasMember"
    ]
    children = [
        r.target_ref for r in catalog.relations_of(session, group_ref) if r.type == "parentOf"
    ]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entity in owned:
        by_kind.setdefault(entity.kind, []).append(summary(entity))
    return {
        "group": group_ref,
        "groups": catalog.descendant_groups(session, group_ref),
        "children": children,
        "members": members,
        "owned": by_kind,
        "owned_count": len(owned),
    }


def summary(entity: Entity) -> dict[str, Any]:
    """The few fields a list or a card needs."""
    metadata = entity.body.get("metadata", {})
    return {
        "ref": entity.ref,
        "kind": entity.kind,
        "namespace": entity.namespace,
        "name": entity.name,
        "title": entity.title or entity.name,
        "description": metadata.get("description"),
        "type": entity.spec_type,
        "lifecycle": entity.lifecycle,
        "owner": entity.owner_ref,
        "system": entity.system_ref,
        "tags": metadata.get("tags") or [],
    }


def home(session: Session) -> dict[str, Any]:
    """Counts, recent changes and what needs attention, for the home page and its JSON twin."""
    counts = catalog.counts_by_kind(session)
    recent = session.scalars(
        select(OutboxEvent)
        .where(OutboxEvent.type.startswith("io.sentier.catalog."))
        .order_by(OutboxEvent.id.desc())
        .limit(15)
    ).all()
    dangling = catalog.dangling_relations(session)
    sources = session.scalars(select(CatalogSource).order_by(CatalogSource.name)).all()
    unowned = [d for d in dangling if d.type == "ownedBy"]
    return {
        "counts": dict(sorted(counts.items())),
        "total": sum(counts.values()),
        "recent_changes": [
            {
                "id": e.event_id,
                "type": e.type.rsplit(".", 1)[-1],
                "subject": e.subject,
                "time": e.time.isoformat(),
            }
            for e in recent
        ],
        "attention": {
            "unowned": [{"entity": d.source_ref, "owner": d.target_ref} for d in unowned],
            "dangling": [
                {
                    "entity": d.source_ref,
                    "type": d.type,
                    "target": d.target_ref,
                    "file": d.file,
                    "line": d.line,
                }
                for d in dangling
                if d.type != "ownedBy"
            ],
            "sources_with_errors": [
                {"id": s.id, "name": s.name, "errors": (s.last_summary or {}).get("errors", 0)}
                for s in sources
                if s.last_status in ("errors", "failed")
            ],
        },
    }
