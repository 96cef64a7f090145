"""Which entities a Backstage catalog request selects, in which order, a page or a stream at a time.

Backstage's two ways of saying which entities, its ``filter`` query parameters and its filter
predicates (``{"$all": [{"kind": "component"}, {"spec.type": {"$in": [...]}}]}``), become SQL
conditions here, once, for every shell. Their semantics are Backstage's catalog backend's:

- several ``filter`` parameters are ORed; the ``key=value`` statements of one are ANDed, but
  several values for the same key in one parameter are ORed (``kind=api,kind=component`` is
  both kinds); a bare ``key`` asks that the field exists;
- values compare case-insensitively, against the flattened fields of the entity;
- ordering puts entities lacking the ordered field last, whatever the direction, and breaks ties
  by entity reference, so that pages never overlap.

Lists are read in batches (:func:`stream_documents`) or by keyset pages (:func:`query_page`):
neither holds a whole large catalog in memory, and neither slows down on deep pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, false, func, not_, or_, select, true
from sqlalchemy.orm import Session

from sentier.catalog.problems import CatalogError
from sentier.catalog.queries import (
    COLUMN_KEYS,
    RelationRow,
    field_condition,
    field_match,
    fulltext_indexed,
    relations_for,
    text_conditions,
)
from sentier.catalog.refs import RefError, parse_ref
from sentier.store.models import Entity, EntitySearch, Relation

# Bounds on what one request may ask: a predicate is a tree the client sends.
MAX_FILTER_PARAMS = 100
MAX_FILTER_STATEMENTS = 200
MAX_PREDICATE_DEPTH = 16
MAX_PREDICATE_NODES = 500
STREAM_BATCH = 500


class SelectionError(CatalogError):
    """A filter, predicate, order or cursor that cannot be understood; the message says which."""


def _invalid(message: str, field: str) -> SelectionError:
    error = SelectionError.of(message, field=field)
    assert isinstance(error, SelectionError)
    return error


# -- filter parameters ---------------------------------------------------------------------------


def parse_filter(text: str) -> dict[str, list[str]]:
    """One ``filter`` parameter: ``key`` -> accepted values (an empty list: the key exists)."""
    out: dict[str, list[str]] = {}
    for statement in text.split(","):
        statement = statement.strip()
        if not statement:
            continue
        key, equals, value = statement.partition("=")
        key = key.strip()
        if not key:
            raise _invalid(
                f"invalid filter statement '{statement}' (expected key=value or key)", "filter"
            )
        values = out.setdefault(key, [])
        if equals:
            values.append(value.strip())
    return out


def filter_condition(filters: Sequence[str]) -> Any:
    """The condition of Backstage's ``filter`` parameters, or ``None`` when they select all."""
    if len(filters) > MAX_FILTER_PARAMS:
        raise _invalid(f"at most {MAX_FILTER_PARAMS} filter parameters", "filter")
    alternatives = []
    statements = 0
    for text in filters:
        parsed = parse_filter(text)
        statements += sum(max(len(v), 1) for v in parsed.values())
        if statements > MAX_FILTER_STATEMENTS:
            raise _invalid(f"at most {MAX_FILTER_STATEMENTS} filter statements", "filter")
        if parsed:
            alternatives.append(and_(*(field_condition(k, v) for k, v in parsed.items())))
    if not alternatives:
        return None
    return alternatives[0] if len(alternatives) == 1 else or_(*alternatives)


# -- filter predicates ---------------------------------------------------------------------------

_LOGICAL = ("$all", "$any", "$not")


def _is_primitive(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


class _Walker:
    """Checks a predicate's shape and bounds once, for both SQL and in-memory evaluation."""

    def __init__(self) -> None:
        self.nodes = 0

    def node(self, predicate: Any, depth: int) -> tuple[str, Any]:
        self.nodes += 1
        if self.nodes > MAX_PREDICATE_NODES:
            raise _invalid(f"a query has at most {MAX_PREDICATE_NODES} parts", "query")
        if depth > MAX_PREDICATE_DEPTH:
            raise _invalid(f"a query nests at most {MAX_PREDICATE_DEPTH} levels", "query")
        if not isinstance(predicate, dict):
            raise _invalid(
                f'a query must be an object such as {{"kind": "component"}}, '
                f"got {_shown(predicate)}",
                "query",
            )
        logical = [key for key in _LOGICAL if key in predicate]
        if logical:
            if len(predicate) != 1:
                raise _invalid(f"{logical[0]} must stand alone in its object", "query")
            operator = logical[0]
            operand = predicate[operator]
            if operator != "$not" and not isinstance(operand, list):
                raise _invalid(f"{operator} takes a list of predicates", "query")
            return operator, operand
        for key in predicate:
            if not isinstance(key, str) or key.startswith("$"):
                raise _invalid(f"unknown query operator {key}", "query")
        return "fields", predicate

    def value(self, key: str, value: Any) -> tuple[str, Any]:
        if _is_primitive(value):
            return "eq", _text(value)
        if isinstance(value, dict) and len(value) == 1:
            ((operator, operand),) = value.items()
            if operator == "$exists" and isinstance(operand, bool):
                return "exists", operand
            if (
                operator == "$in"
                and isinstance(operand, list)
                and all(_is_primitive(v) for v in operand)
            ):
                return "in", [_text(v) for v in operand]
            if operator == "$hasPrefix" and isinstance(operand, str):
                return "prefix", operand.lower()
            if operator == "$contains" and _is_primitive(operand):
                return "eq", _text(operand)
        raise _invalid(
            f"{key}: expected a value, $exists, $in, $hasPrefix or $contains, got {_shown(value)}",
            "query",
        )


def _starts_with(prefix: str) -> Callable[[Any], Any]:
    return lambda column: column.startswith(prefix, autoescape=True)


def predicate_condition(predicate: Any) -> Any:
    """The SQL condition of a Backstage filter predicate (``SelectionError`` when malformed)."""
    walker = _Walker()

    def build(node: Any, depth: int) -> Any:
        kind, operand = walker.node(node, depth)
        if kind == "$not":
            return not_(build(operand, depth + 1))
        if kind == "$all":
            return and_(true(), *(build(part, depth + 1) for part in operand))
        if kind == "$any":
            return or_(false(), *(build(part, depth + 1) for part in operand))
        parts = []
        for key, value in operand.items():
            test, expected = walker.value(key, value)
            if test == "eq":
                parts.append(field_condition(key, [expected]))
            elif test == "in":
                parts.append(field_condition(key, expected) if expected else false())
            elif test == "prefix":
                parts.append(field_match(key, _starts_with(expected)))
            else:
                exists = field_condition(key, [])
                parts.append(exists if expected else not_(exists))
        return and_(true(), *parts)

    return build(predicate, 0)


def predicate_matches(predicate: Any, record: Mapping[str, Any]) -> bool:
    """Whether a flat record (a location: ``id``, ``type``, ``target``) satisfies a predicate,
    with the same grammar and case-insensitive comparison as :func:`predicate_condition`."""
    walker = _Walker()
    fields = {key.lower(): value for key, value in record.items()}

    def test(node: Any, depth: int) -> bool:
        kind, operand = walker.node(node, depth)
        if kind == "$not":
            return not test(operand, depth + 1)
        if kind == "$all":
            return all([test(part, depth + 1) for part in operand])
        if kind == "$any":
            return any([test(part, depth + 1) for part in operand])
        results = []
        for key, value in operand.items():
            check, expected = walker.value(key, value)
            present = fields.get(key.lower())
            actual = None if present is None else _text(present)
            if check == "exists":
                results.append((actual is not None) == expected)
            elif check == "eq":
                results.append(actual == expected)
            elif check == "in":
                results.append(actual in expected)
            else:
                results.append(actual is not None and actual.startswith(expected))
        return all(results)

    return test(predicate, 0)


def full_text_condition(session: Session, term: str, fields: Sequence[str]) -> Any:
    """Entities whose given fields contain ``term`` (case-insensitive substring), as Backstage's
    ``fullTextFilter``; without fields, sentier's full text (name, title, description, tags)."""
    term = term.strip().lower()
    if not term:
        return None
    if not fields:
        return and_(*text_conditions(term, indexed=fulltext_indexed(session)))
    return or_(
        *(
            field_match(field, lambda column: func.lower(column).contains(term, autoescape=True))
            for field in fields
        )
    )


def combine(*conditions: Any) -> Any:
    """The AND of the given conditions, ``None`` ones left out (``None`` when none is left)."""
    present = [c for c in conditions if c is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else and_(*present)


# -- order ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    """One sort key: a dotted field, ascending unless ``descending``."""

    field: str
    descending: bool = False

    @classmethod
    def parse(cls, text: str) -> Order:
        """``asc:metadata.name`` or ``desc:spec.type`` (``GET /entities?order=``)."""
        direction, colon, field = text.partition(":")
        if not colon or direction not in ("asc", "desc") or not field.strip():
            raise _invalid(
                f'invalid order "{text}", expected "<asc or desc>:<field name>"', "order"
            )
        return cls(field.strip(), direction == "desc")

    @classmethod
    def parse_field(cls, text: str) -> Order:
        """``metadata.name,desc`` (``GET /entities/by-query?orderField=``; ascending by default)."""
        field, comma, direction = text.partition(",")
        if not field.strip() or (comma and direction not in ("asc", "desc")):
            raise _invalid(
                f'invalid orderField "{text}", expected "<field name>[,asc or desc]"',
                "orderField",
            )
        return cls(field.strip(), direction == "desc")


def sort_value(field: str) -> Any:
    """What entities are sorted on for ``field``: a column, or the field's (least) value."""
    lowered = field.lower()
    column = COLUMN_KEYS.get(lowered)
    if column is not None:
        return column
    if lowered.startswith("relations."):
        return (
            select(func.min(Relation.target_ref))
            .where(
                Relation.source_ref == Entity.ref,
                func.lower(Relation.type) == lowered.removeprefix("relations."),
            )
            .scalar_subquery()
        )
    return (
        select(func.min(EntitySearch.value))
        .where(EntitySearch.entity_id == Entity.id, EntitySearch.key == lowered)
        .scalar_subquery()
    )


def _order_by(orders: Sequence[Order]) -> list[Any]:
    clauses: list[Any] = []
    for order in orders:
        value = sort_value(order.field)
        clauses.append((value.desc() if order.descending else value.asc()).nulls_last())
    clauses.append(Entity.ref)
    return clauses


# -- documents -----------------------------------------------------------------------------------


def document(
    uid: str, body: dict[str, Any], etag: str, relations: Sequence[RelationRow]
) -> dict[str, Any]:
    """An entity in Backstage's shape from its stored columns."""
    out = dict(body)
    metadata = dict(out.get("metadata") or {})
    metadata["uid"] = uid
    metadata.setdefault("etag", etag)
    out["metadata"] = metadata
    out["relations"] = [{"type": r.type, "targetRef": r.target_ref} for r in relations]
    return out


def _documents(session: Session, rows: Sequence[Any], with_relations: bool) -> list[dict[str, Any]]:
    relations = relations_for(session, [r.ref for r in rows]) if with_relations else {}
    return [document(r.id, r.body, r.content_hash, relations.get(r.ref, [])) for r in rows]


_COLUMNS = (Entity.id, Entity.ref, Entity.body, Entity.content_hash)


def stream_documents(
    session: Session,
    condition: Any,
    orders: Sequence[Order] = (),
    *,
    offset: int = 0,
    limit: int | None = None,
    with_relations: bool = True,
    batch: int = STREAM_BATCH,
) -> Iterator[list[dict[str, Any]]]:
    """The selected entities in order, ``batch`` at a time, read through one streaming query:
    memory holds one batch, however large the catalog."""
    if limit == 0:
        return
    query = select(*_COLUMNS)
    if condition is not None:
        query = query.where(condition)
    query = query.order_by(*_order_by(orders))
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=batch))
    try:
        for rows in result.partitions():
            yield _documents(session, rows, with_relations)
    finally:
        result.close()


def has_more(session: Session, condition: Any, beyond: int) -> bool:
    """Whether more than ``beyond`` entities are selected (a next page exists)."""
    query = select(Entity.id)
    if condition is not None:
        query = query.where(condition)
    return session.execute(query.offset(beyond).limit(1)).first() is not None


def count_selected(session: Session, condition: Any) -> int:
    query = select(func.count()).select_from(Entity)
    if condition is not None:
        query = query.where(condition)
    return int(session.scalar(query) or 0)


# -- keyset pages --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: just after (or, ``before``, just before) one entity of the order,
    named by its sort value and reference."""

    value: str | None
    ref: str
    before: bool = False


@dataclass
class QueryPage:
    documents: list[dict[str, Any]]
    first: Position | None  # the first and last entities of the page, as positions
    last: Position | None
    more_before: bool
    more_after: bool


def _beyond(value: Any, position: Position, descending: bool, ordered: bool) -> Any:
    """Entities strictly after ``position`` in the page's reading direction."""
    later = position.before == descending  # moving towards larger values?
    v0, r0 = position.value, position.ref

    def cmp(column: Any, bound: Any) -> Any:
        return column > bound if later else column < bound

    if not ordered:
        return cmp(Entity.ref, r0)
    if not position.before:
        if v0 is None:
            return and_(value.is_(None), cmp(Entity.ref, r0))
        return or_(cmp(value, v0), and_(value == v0, cmp(Entity.ref, r0)), value.is_(None))
    if v0 is None:
        return or_(value.is_not(None), and_(value.is_(None), cmp(Entity.ref, r0)))
    return or_(cmp(value, v0), and_(value == v0, cmp(Entity.ref, r0)))


def query_page(
    session: Session,
    condition: Any,
    order: Order | None,
    *,
    limit: int,
    offset: int = 0,
    position: Position | None = None,
    with_relations: bool = True,
) -> QueryPage:
    """One page of the selection, after (or before) ``position``: a keyset page, as cheap on
    the thousandth page as on the first. ``offset`` applies to a first page only."""
    value = Entity.ref if order is None else sort_value(order.field)
    descending = bool(order and order.descending)
    backwards = bool(position and position.before)
    if limit <= 0:
        return QueryPage([], None, None, False, False)
    query = select(*_COLUMNS, value.label("sort_value"))
    if condition is not None:
        query = query.where(condition)
    if position is not None:
        query = query.where(_beyond(value, position, descending, order is not None))
    reverse = descending != backwards
    if order is None:
        query = query.order_by(Entity.ref.desc() if reverse else Entity.ref)
    else:
        sort = value.desc() if reverse else value.asc()
        query = query.order_by(
            sort.nulls_first() if backwards else sort.nulls_last(),
            Entity.ref.desc() if reverse else Entity.ref,
        )
    if offset and position is None:
        query = query.offset(offset)
    rows = list(session.execute(query.limit(limit + 1)))
    extra = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    documents = _documents(session, rows, with_relations)
    first = Position(rows[0].sort_value, rows[0].ref) if rows else None
    last = Position(rows[-1].sort_value, rows[-1].ref) if rows else None
    if backwards:
        return QueryPage(documents, first, last, more_before=extra, more_after=True)
    return QueryPage(
        documents, first, last, more_before=position is not None or offset > 0, more_after=extra
    )


# -- lookups -------------------------------------------------------------------------------------


def documents_by_refs(
    session: Session, refs: Sequence[str], condition: Any = None, *, with_relations: bool = True
) -> list[dict[str, Any] | None]:
    """The entities named by ``refs``, in their order; ``None`` for a ref that names no entity
    (or one the condition leaves out), as Backstage's ``by-refs``."""
    keys: list[str | None] = []
    for ref in refs:
        try:
            keys.append(parse_ref(ref).key)
        except RefError:
            keys.append(None)
    wanted = sorted({k for k in keys if k is not None})
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), STREAM_BATCH):
        query = select(*_COLUMNS).where(Entity.ref.in_(wanted[start : start + STREAM_BATCH]))
        if condition is not None:
            query = query.where(condition)
        rows = list(session.execute(query))
        for row, doc in zip(rows, _documents(session, rows, with_relations), strict=True):
            found[row.ref] = doc
    return [found.get(key) if key else None for key in keys]
