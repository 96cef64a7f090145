"""What the Backstage catalog API reads and writes on the wire: cursors, bodies, projections.

The selection itself (filters, predicates, order, pages) is the catalog domain's; this module
only turns Backstage's request forms into its arguments and its results into Backstage's JSON.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import orjson
from fastapi import Request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.api.problems import Problem
from sentier.api.views.catalog import project

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_CURSOR_BYTES = 64 * 1024
Model = TypeVar("Model", bound=BaseModel)


def input_error(error: catalog.CatalogError) -> Problem:
    """A domain refusal as Backstage's InputError (a 400)."""
    problem = error.problem
    return Problem(400, f"{problem.field}: {problem.message}" if problem.field else problem.message)


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body as ``model``, read up to :data:`MAX_BODY_BYTES` (413 beyond)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise Problem(413, f"request body larger than {MAX_BODY_BYTES // 2**20} MiB")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, f"request body larger than {MAX_BODY_BYTES // 2**20} MiB")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as error:
        raise Problem(400, f"request body is not valid JSON: {error}") from error
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise Problem(400, f"{where}: {first['msg']}") from error


def fields_of(values: Sequence[str] | None) -> list[str]:
    """Backstage's ``fields``: repeated and/or comma-separated dotted paths."""
    return [f.strip() for value in values or () for f in value.split(",") if f.strip()]


def needs_relations(fields: Sequence[str]) -> bool:
    return not fields or any(f == "relations" or f.startswith("relations.") for f in fields)


def encode_cursor(data: dict[str, Any]) -> str:
    """Base64 of JSON, as Backstage's cursors (its client peeks inside for ``query``)."""
    return base64.b64encode(orjson.dumps(data)).decode()


def decode_cursor(text: str, what: str = "cursor") -> dict[str, Any]:
    if not text or len(text) > MAX_CURSOR_BYTES:
        raise Problem(400, f"malformed {what}")
    try:
        data = orjson.loads(base64.b64decode(text.encode(), validate=True))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as error:
        raise Problem(400, f"malformed {what}, could not be parsed") from error
    if not isinstance(data, dict):
        raise Problem(400, f"malformed {what}")
    return data


def projected(documents: Sequence[dict[str, Any] | None], fields: Sequence[str]) -> list[Any]:
    return [project(d, fields) if d is not None else None for d in documents]


def json_array(batches: Iterator[list[dict[str, Any]]], fields: Sequence[str]) -> Iterator[bytes]:
    """A JSON array written batch by batch: the response never holds the whole list."""
    yield b"["
    first = True
    for batch in batches:
        chunk = b",".join(orjson.dumps(project(d, fields)) for d in batch)
        yield chunk if first else b"," + chunk
        first = False
    yield b"]"


# -- by-query ------------------------------------------------------------------------------------


class EntityQuery:
    """One ``by-query`` selection, as first asked or as carried inside a cursor."""

    def __init__(
        self,
        *,
        filters: Sequence[str] = (),
        query: Any = None,
        order: catalog.Order | None = None,
        term: str | None = None,
        text_fields: Sequence[str] = (),
        total: int | None = None,
        count_total: bool = True,
    ) -> None:
        self.filters = list(filters)
        self.query = query
        self.order = order
        self.term = (term or "").strip() or None
        self.text_fields = list(text_fields)
        self.total = total
        self.count_total = count_total

    def condition(self, session: Session) -> Any:
        try:
            by_filter = catalog.filter_condition(self.filters) if self.filters else None
            by_query = catalog.predicate_condition(self.query) if self.query is not None else None
        except catalog.SelectionError as error:
            raise input_error(error) from error
        text = None
        if self.term:
            # Backstage matches the term against the sort field unless fields are named.
            fields = self.text_fields or ([self.order.field] if self.order else [])
            text = catalog.full_text_condition(session, self.term, fields)
        return catalog.combine(by_filter, by_query, text)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "orderField": [self.order.field, "desc" if self.order.descending else "asc"]
            if self.order
            else None,
            "fullTextFilter": {"term": self.term, "fields": self.text_fields}
            if self.term
            else None,
            "totalItems": self.total,
        }
        if self.query is not None:
            state["query"] = self.query  # the client sends such cursors to POST by-query
        else:
            state["filter"] = self.filters
        return state

    @classmethod
    def from_cursor(cls, data: dict[str, Any]) -> tuple[EntityQuery, catalog.Position]:
        try:
            order_field = data.get("orderField")
            order = (
                catalog.Order(str(order_field[0]), order_field[1] == "desc")
                if order_field
                else None
            )
            text = data.get("fullTextFilter") or {}
            value, ref, before = data["position"]
            filters = [str(f) for f in data.get("filter") or []]
            total = data.get("totalItems")
            position = catalog.Position(
                None if value is None else str(value), str(ref), bool(before)
            )
            return cls(
                filters=filters,
                query=data.get("query"),
                order=order,
                term=text.get("term"),
                text_fields=[str(f) for f in text.get("fields") or []],
                total=int(total) if total is not None else None,
                count_total=False,
            ), position
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
            raise Problem(400, "malformed cursor") from error


def query_response(
    session: Session,
    selection: EntityQuery,
    *,
    limit: int,
    offset: int = 0,
    position: catalog.Position | None = None,
    fields: Sequence[str] = (),
) -> dict[str, Any]:
    """One ``by-query`` answer: ``{items, totalItems, pageInfo: {nextCursor, prevCursor}}``."""
    condition = selection.condition(session)
    if selection.total is None:
        selection.total = catalog.count_selected(session, condition) if selection.count_total else 0
    page = catalog.query_page(
        session,
        condition,
        selection.order,
        limit=limit,
        offset=offset,
        position=position,
        with_relations=needs_relations(fields),
    )
    page_info: dict[str, str] = {}
    state = selection.state()
    if page.more_after and page.last is not None:
        page_info["nextCursor"] = encode_cursor(
            {**state, "position": [page.last.value, page.last.ref, False]}
        )
    if page.more_before and page.first is not None:
        page_info["prevCursor"] = encode_cursor(
            {**state, "position": [page.first.value, page.first.ref, True]}
        )
    return {
        "items": projected(page.documents, fields),
        "totalItems": selection.total,
        "pageInfo": page_info,
    }
