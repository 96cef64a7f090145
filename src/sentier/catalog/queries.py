"""Read side of the catalog: lookups, filters, relations, graphs and ownership.

Every function takes a session and returns plain data, so the API, the portal, the CLI and
the other domains (FinOps allocation, AIOps correlation) share one implementation.
"""

from __future__ import annotations

import weakref
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from sqlalchemy import Engine, Select, and_, exists, func, literal_column, select, text
from sqlalchemy.orm import Session, aliased

from sentier.catalog.descriptors import FileLocator
from sentier.catalog.refs import EntityRef, RefError, parse_ref
from sentier.catalog.relations import (
    API_PROVIDED_BY,
    CONSUMES_API,
    DEPENDS_ON,
    HAS_PART,
    PARENT_OF,
    PART_OF,
    PROVIDES_API,
    derive,
)
from sentier.store.models import CatalogFile, Entity, EntitySearch, Relation

_Q = TypeVar("_Q", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True, slots=True)
class RelationRow:
    type: str
    target_ref: str


def entity_document(session: Session, ref: str) -> dict[str, Any] | None:
    """An entity in Backstage's shape by its reference, read with two plain queries.

    The hot path of the API (entity by name): no ORM objects, just the stored body and its
    relations.
    """
    row = session.execute(
        select(Entity.id, Entity.body, Entity.content_hash).where(Entity.ref == ref.lower())
    ).first()
    if row is None:
        return None
    body = dict(row.body)
    metadata = dict(body.get("metadata") or {})
    metadata["uid"] = row.id
    metadata.setdefault("etag", row.content_hash)
    body["metadata"] = metadata
    body["relations"] = [
        {"type": r.type, "targetRef": r.target_ref} for r in relations_of(session, ref.lower())
    ]
    return body


def relations_of(session: Session, ref: str) -> list[RelationRow]:
    """Relations of an entity as Backstage shows them: distinct, sorted by type then target."""
    rows = session.execute(
        select(Relation.type, Relation.target_ref)
        .where(Relation.source_ref == ref)
        .distinct()
        .order_by(Relation.type, Relation.target_ref)
    )
    return [RelationRow(t, target) for t, target in rows]


def relations_for(session: Session, refs: Sequence[str]) -> dict[str, list[RelationRow]]:
    """Relations of many entities in one query (list pages)."""
    out: dict[str, list[RelationRow]] = defaultdict(list)
    for start in range(0, len(refs), 500):
        rows = session.execute(
            select(Relation.source_ref, Relation.type, Relation.target_ref)
            .where(Relation.source_ref.in_(refs[start : start + 500]))
            .distinct()
            .order_by(Relation.source_ref, Relation.type, Relation.target_ref)
        )
        for source, rel_type, target in rows:
            out[source].append(RelationRow(rel_type, target))
    return out


def as_backstage(entity: Entity, relations: Iterable[RelationRow]) -> dict[str, Any]:
    """The entity in Backstage's JSON shape: metadata with ``uid``, ``relations`` with targetRef."""
    body = dict(entity.body)
    metadata = dict(body.get("metadata") or {})
    metadata["uid"] = entity.id
    metadata.setdefault("etag", entity.content_hash)
    body["metadata"] = metadata
    body["relations"] = [{"type": r.type, "targetRef": r.target_ref} for r in relations]
    return body


def resolve_ref(ref: str, *, default_kind: str | None = None) -> str:
    """Normalise a user-given reference (``payments-api``, ``API:payments-api``) to its key."""
    return parse_ref(ref, default_kind=default_kind).key


def get_entity(session: Session, ref: str) -> Entity | None:
    return session.scalar(select(Entity).where(Entity.ref == ref.lower()))


def find_entity(session: Session, ref: str) -> Entity | None:
    """An entity by a possibly partial reference; without a kind, a unique name match wins."""
    try:
        return get_entity(session, parse_ref(ref).key)
    except RefError:
        pass
    try:
        partial = parse_ref(ref, default_kind="*")
    except RefError:
        return None
    matches = session.scalars(
        select(Entity)
        .where(Entity.namespace == partial.namespace, func.lower(Entity.name) == partial.name)
        .limit(2)
    ).all()
    return matches[0] if len(matches) == 1 else None


@dataclass
class EntityFilter:
    """Filters on the catalog; every field narrows the result (AND), values within one OR."""

    kinds: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    lifecycles: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    systems: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # "key=value" or "key"
    annotations: list[str] = field(default_factory=list)  # "key=value" or "key"
    text: str | None = None
    # Backstage-style generic filters: key -> accepted values (empty: key must exist).
    fields: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        *,
        kind: Sequence[str] | None = None,
        type: Sequence[str] | None = None,
        lifecycle: Sequence[str] | None = None,
        owner: Sequence[str] | None = None,
        system: Sequence[str] | None = None,
        tag: Sequence[str] | None = None,
        label: Sequence[str] | None = None,
        annotation: Sequence[str] | None = None,
        namespace: Sequence[str] | None = None,
        text: str | None = None,
    ) -> EntityFilter:
        """From the optional, singular-named parameters the CLI and the API take."""
        return cls(
            kinds=list(kind or []),
            types=list(type or []),
            lifecycles=list(lifecycle or []),
            owners=list(owner or []),
            systems=list(system or []),
            tags=list(tag or []),
            labels=list(label or []),
            annotations=list(annotation or []),
            namespaces=list(namespace or []),
            text=text,
        )


def _search_match(key: str, values: Sequence[str]) -> Any:
    # An alias, so the condition also works inside queries that select from entity_search.
    row = aliased(EntitySearch)
    condition = and_(row.entity_id == Entity.id, row.key == key.lower())
    if values:
        condition = and_(condition, row.value.in_([v.lower() for v in values]))
    return exists().where(condition)


def _key_values(items: Sequence[str], prefix: str) -> list[Any]:
    conditions = []
    for item in items:
        key, _, value = item.partition("=")
        conditions.append(_search_match(f"{prefix}.{key}", [value] if value else []))
    return conditions


# Filter keys answered by the entity's own columns rather than by search rows.
COLUMN_KEYS: dict[str, Any] = {
    "kind": func.lower(Entity.kind),
    "metadata.name": func.lower(Entity.name),
    "metadata.namespace": Entity.namespace,
    "metadata.uid": Entity.id,
}


def field_condition(key: str, values: Sequence[str]) -> Any:
    """One Backstage-style ``key=value[,value]`` filter (empty values: the key exists)."""
    wanted = [v.lower() for v in values]
    return field_match(key, (lambda column: column.in_(wanted)) if wanted else None)


def field_match(key: str, match: Callable[[Any], Any] | None) -> Any:
    """Entities having field ``key`` (dotted, case-insensitive) with a value that ``match``
    accepts (``match`` gets the lower-cased value's column); ``None``: the field exists.

    ``kind``, ``metadata.name``, ``metadata.namespace`` and ``metadata.uid`` are the entity's
    own columns; ``relations.<type>`` is the relations table (values are target refs); every
    other key is a flattened search row, as in Backstage's ``search`` table.
    """
    lowered = key.lower()
    column = COLUMN_KEYS.get(lowered)
    if column is not None:
        return match(column) if match is not None else column.is_not(None)
    if lowered.startswith("relations."):
        relation_type = lowered.removeprefix("relations.")
        relation = aliased(Relation)
        condition = and_(
            relation.source_ref == Entity.ref, func.lower(relation.type) == relation_type
        )
        if match is not None:
            condition = and_(condition, match(relation.target_ref))
        return exists().where(condition)
    row = aliased(EntitySearch)
    condition = and_(row.entity_id == Entity.id, row.key == lowered)
    if match is not None:
        condition = and_(condition, match(row.value))
    return exists().where(condition)


_INDEXED: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def fulltext_indexed(session: Session) -> bool:
    """Whether the trigram index of migration 0004 exists (SQLite with FTS5's trigram tokenizer).

    Without it, words are matched by scanning ``search_text``: correct, but linear in the catalog.
    Remembered per engine once found, so searches do not ask the schema each time.
    """
    engine = session.get_bind().engine
    if engine.dialect.name != "sqlite":
        return False
    if _INDEXED.get(engine):
        return True
    found = session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entities_fts'")
    ).first()
    if found is not None:
        _INDEXED[engine] = True
    return found is not None


def text_conditions(text_query: str, *, indexed: bool = False) -> list[Any]:
    """Conditions matching every word of ``text_query`` inside name, title, description or tags.

    Words of three characters or more are looked up in the trigram index when there is one; the
    substring test stays beside it, so a result is always a real match.
    """
    words = text_query.lower().split()
    conditions: list[Any] = [Entity.search_text.contains(w, autoescape=True) for w in words]
    long_words = [w for w in words if len(w) >= 3]
    if indexed and long_words:
        expression = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
        candidates = text(
            "SELECT rowid FROM entities_fts WHERE entities_fts MATCH :fts"
        ).bindparams(fts=expression)
        conditions.insert(0, literal_column("entities.rowid").in_(candidates))
    return conditions


def filtered(query: _Q, flt: EntityFilter, *, indexed: bool = False) -> _Q:
    """Apply ``flt`` to a query over ``Entity`` (``indexed``: see :func:`fulltext_indexed`)."""
    if flt.kinds:
        query = query.where(func.lower(Entity.kind).in_([k.lower() for k in flt.kinds]))
    if flt.namespaces:
        query = query.where(Entity.namespace.in_([n.lower() for n in flt.namespaces]))
    if flt.types:
        query = query.where(func.lower(Entity.spec_type).in_([t.lower() for t in flt.types]))
    if flt.lifecycles:
        query = query.where(func.lower(Entity.lifecycle).in_([lc.lower() for lc in flt.lifecycles]))
    if flt.owners:
        query = query.where(Entity.owner_ref.in_([_ref_or_raw(o, "group") for o in flt.owners]))
    if flt.systems:
        query = query.where(Entity.system_ref.in_([_ref_or_raw(s, "system") for s in flt.systems]))
    for tag in flt.tags:
        query = query.where(_search_match("metadata.tags", [tag]))
    for condition in _key_values(flt.labels, "metadata.labels"):
        query = query.where(condition)
    for condition in _key_values(flt.annotations, "metadata.annotations"):
        query = query.where(condition)
    for key, values in flt.fields.items():
        query = query.where(field_condition(key, values))
    if flt.text:
        for condition in text_conditions(flt.text, indexed=indexed):
            query = query.where(condition)
    return query


def _ref_or_raw(value: str, default_kind: str) -> str:
    try:
        return parse_ref(value, default_kind=default_kind).key
    except RefError:
        return value.lower()


@dataclass
class Page:
    items: list[Entity]
    total: int | None
    next_cursor: str | None


def list_entities(
    session: Session,
    flt: EntityFilter | None = None,
    *,
    limit: int = 100,
    after: str | None = None,
    with_total: bool = False,
) -> Page:
    """A page of entities ordered by reference; ``after`` is the cursor of the previous page."""
    flt = flt or EntityFilter()
    indexed = fulltext_indexed(session)
    query = filtered(select(Entity), flt, indexed=indexed)
    total = None
    if with_total:
        counted = filtered(select(func.count()).select_from(Entity), flt, indexed=indexed)
        total = session.scalar(counted)
    if after:
        query = query.where(Entity.ref > after)
    items = list(session.scalars(query.order_by(Entity.ref).limit(limit + 1)))
    next_cursor = items[limit - 1].ref if len(items) > limit else None
    return Page(items[:limit], total, next_cursor)


def facets(
    session: Session, key: str, flt: EntityFilter | None = None, condition: Any = None
) -> list[tuple[str, int]]:
    """Distinct values of a search key with their entity counts (``spec.type``, ``kind``...)."""
    flt = flt or EntityFilter()
    indexed = fulltext_indexed(session)
    key = key.lower()
    if key in ("kind", "metadata.namespace", "metadata.name"):
        column = {"kind": Entity.kind, "metadata.namespace": Entity.namespace}.get(key, Entity.name)
        by_column = filtered(select(column, func.count()).group_by(column), flt, indexed=indexed)
        if condition is not None:
            by_column = by_column.where(condition)
        rows = session.execute(by_column).all()
        return sorted(((str(k), n) for k, n in rows), key=lambda r: (-r[1], r[0]))
    if key.startswith("relations."):
        by_target = filtered(
            select(Relation.target_ref, func.count(func.distinct(Relation.source_ref)))
            .join(Entity, Entity.ref == Relation.source_ref)
            .where(func.lower(Relation.type) == key.removeprefix("relations."))
            .group_by(Relation.target_ref),
            flt,
            indexed=indexed,
        )
        if condition is not None:
            by_target = by_target.where(condition)
        targets = [(str(v), n) for v, n in session.execute(by_target).all()]
        return sorted(targets, key=lambda r: (-r[1], r[0]))
    by_value = filtered(
        select(EntitySearch.value, func.count(func.distinct(EntitySearch.entity_id)))
        .join(Entity, Entity.id == EntitySearch.entity_id)
        .where(EntitySearch.key == key, EntitySearch.value.is_not(None))
        .group_by(EntitySearch.value),
        flt,
        indexed=indexed,
    )
    if condition is not None:
        by_value = by_value.where(condition)
    values = [(str(v), n) for v, n in session.execute(by_value).all()]
    return sorted(values, key=lambda r: (-r[1], r[0]))


# A facet's own selection, which its counts ignore: choosing a second kind must stay possible.
_FACET_FIELDS = {
    "kind": "kinds",
    "metadata.namespace": "namespaces",
    "spec.type": "types",
    "spec.lifecycle": "lifecycles",
    "spec.owner": "owners",
    "spec.system": "systems",
    "metadata.tags": "tags",
}


def facet_counts(
    session: Session, keys: Sequence[str], flt: EntityFilter | None = None
) -> dict[str, list[tuple[str, int]]]:
    """Counts per value of each facet among the entities the filter keeps.

    As in faceted search everywhere, each facet's counts apply every filter but its own, so
    its other values show how many entities choosing them too would add.
    """
    flt = flt or EntityFilter()
    out: dict[str, list[tuple[str, int]]] = {}
    for key in keys:
        own = _FACET_FIELDS.get(key.lower())
        others = replace(flt, **{own: []}) if own else flt  # type: ignore[arg-type]
        out[key] = facets(session, key, others)
    return out


def counts_by_kind(session: Session) -> dict[str, int]:
    rows = session.execute(select(Entity.kind, func.count()).group_by(Entity.kind))
    return {kind: count for kind, count in rows}


# -- ownership --------------------------------------------------------------------------------


def descendant_groups(session: Session, group_ref: str) -> list[str]:
    """The group and every group below it (through parentOf), cycle-safe."""
    seen = [group_ref]
    queue = deque([group_ref])
    known = {group_ref}
    while queue:
        current = queue.popleft()
        children = session.scalars(
            select(Relation.target_ref)
            .where(Relation.source_ref == current, Relation.type == PARENT_OF)
            .distinct()
        )
        for child in children:
            if child not in known:
                known.add(child)
                seen.append(child)
                queue.append(child)
    return seen


def owned_by_group(session: Session, group_ref: str, *, recursive: bool = True) -> list[Entity]:
    """Everything a group owns directly and, when ``recursive``, through its child groups."""
    groups = descendant_groups(session, group_ref) if recursive else [group_ref]
    return list(
        session.scalars(select(Entity).where(Entity.owner_ref.in_(groups)).order_by(Entity.ref))
    )


# -- graphs ----------------------------------------------------------------------------------

DEPENDENCY_TYPES = (DEPENDS_ON, CONSUMES_API, PROVIDES_API, PART_OF)


@dataclass
class Graph:
    nodes: dict[str, dict[str, Any]]
    edges: list[tuple[str, str, str]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": [{"ref": ref, **data} for ref, data in sorted(self.nodes.items())],
            "edges": [{"source": s, "type": t, "target": o} for s, t, o in sorted(self.edges)],
        }


def _node_data(session: Session, refs: Iterable[str]) -> dict[str, dict[str, Any]]:
    refs = list(refs)
    data: dict[str, dict[str, Any]] = {
        ref: {"exists": False, "kind": ref.split(":", 1)[0], "title": None} for ref in refs
    }
    for start in range(0, len(refs), 500):
        columns = (Entity.ref, Entity.kind, Entity.title, Entity.name, Entity.spec_type)
        rows = session.execute(
            select(*columns, Entity.owner_ref).where(Entity.ref.in_(refs[start : start + 500]))
        )
        for ref, kind, title, name, spec_type, owner in rows:
            data[ref] = {
                "exists": True,
                "kind": kind,
                "title": title or name,
                "type": spec_type,
                "owner": owner,
            }
    return data


def system_graph(session: Session, system_ref: str) -> Graph:
    """The dependency graph of a system: its parts and how they depend on each other.

    Edges leaving the system are kept, their targets marked ``external``; missing targets are
    marked ``exists: false`` (dangling), so AIOps can still reason about them.
    """
    members = set(
        session.scalars(
            select(Relation.target_ref)
            .where(Relation.source_ref == system_ref, Relation.type == HAS_PART)
            .distinct()
        )
    )
    edges: set[tuple[str, str, str]] = set()
    if members:
        member_list = sorted(members)
        for start in range(0, len(member_list), 500):
            rows = session.execute(
                select(Relation.source_ref, Relation.type, Relation.target_ref)
                .where(
                    Relation.source_ref.in_(member_list[start : start + 500]),
                    Relation.type.in_((DEPENDS_ON, CONSUMES_API, PROVIDES_API)),
                )
                .distinct()
            )
            edges.update((s, t, o) for s, t, o in rows)
    refs = members | {o for _, _, o in edges} | {system_ref}
    nodes = _node_data(session, refs)
    for ref, data in nodes.items():
        data["external"] = ref not in members and ref != system_ref
        data["role"] = "system" if ref == system_ref else "member"
    edges.update((member, PART_OF, system_ref) for member in members)
    return Graph(nodes, sorted(edges))


def entity_graph(
    session: Session,
    ref: str,
    *,
    depth: int = 1,
    types: Sequence[str] | None = None,
    max_nodes: int = 500,
) -> Graph:
    """The neighbourhood of an entity through its relations, up to ``depth`` hops."""
    seen = {ref}
    frontier = [ref]
    edges: set[tuple[str, str, str]] = set()
    for _ in range(depth):
        if not frontier or len(seen) >= max_nodes:
            break
        query = select(Relation.source_ref, Relation.type, Relation.target_ref).where(
            Relation.source_ref.in_(frontier)
        )
        if types:
            query = query.where(Relation.type.in_(list(types)))
        next_frontier = []
        for s, t, o in session.execute(query.distinct()):
            edges.add((s, t, o))
            if o not in seen and len(seen) < max_nodes:
                seen.add(o)
                next_frontier.append(o)
        frontier = next_frontier
    edges = {(s, t, o) for s, t, o in edges if s in seen and o in seen}
    nodes = _node_data(session, seen)
    for node_ref, data in nodes.items():
        data["role"] = "root" if node_ref == ref else "neighbour"
    return Graph(nodes, sorted(edges))


def dependency_edges(session: Session) -> list[tuple[str, str]]:
    """Every ``dependsOn``/``consumesApi`` edge (source depends on target), for correlation."""
    rows = session.execute(
        select(Relation.source_ref, Relation.target_ref)
        .where(Relation.type.in_((DEPENDS_ON, CONSUMES_API, API_PROVIDED_BY)))
        .distinct()
    )
    return [(s, o) for s, o in rows]


# -- problems ---------------------------------------------------------------------------------


# Finding a field's exact line re-reads its document; beyond this many dangling relations the
# document's first line is given instead (a catalog with thousands of them has other problems).
PRECISE_LINES = 200


@dataclass(frozen=True, slots=True)
class Dangling:
    source_ref: str
    type: str
    target_ref: str
    file: str | None
    line: int | None
    field: str | None


def dangling_relations(session: Session, *, source_id: int | None = None) -> list[Dangling]:
    """Outgoing relations whose target exists nowhere in the catalog."""
    origin = aliased(Entity)
    target = aliased(Entity)
    query = (
        select(
            Relation.source_ref,
            Relation.type,
            Relation.target_ref,
            origin.body,
            origin.line,
            CatalogFile.path,
        )
        .join(origin, origin.id == Relation.entity_id)
        .outerjoin(CatalogFile, CatalogFile.id == origin.file_id)
        .outerjoin(target, target.ref == Relation.target_ref)
        .where(Relation.source_ref == origin.ref, target.id.is_(None))
        .order_by(Relation.source_ref, Relation.type, Relation.target_ref)
    )
    if source_id is not None:
        query = query.where(origin.source_id == source_id)
    out: list[Dangling] = []
    locator = FileLocator()
    for source_ref, rel_type, target_ref, body, line, path in session.execute(query):
        self_ref = parse_ref(source_ref)
        derived, _ = derive(body, EntityRef(self_ref.kind, self_ref.namespace, self_ref.name))
        where = next(
            (d.field for d in derived if d.type == rel_type and d.target.key == target_ref), None
        )
        if path and where and line and len(out) < PRECISE_LINES:
            line = locator.line(path, line, where)
        out.append(Dangling(source_ref, rel_type, target_ref, path, line, where))
    return out


def search(session: Session, text: str, *, limit: int = 20) -> list[Entity]:
    """Full-text search over name, title, description and tags; exact name matches first."""
    if not text.split():
        return []
    query = select(Entity)
    for condition in text_conditions(text, indexed=fulltext_indexed(session)):
        query = query.where(condition)
    exact = func.lower(Entity.name) == text.lower().strip()
    return list(
        session.scalars(query.order_by(exact.desc(), Entity.kind, Entity.name).limit(limit))
    )
