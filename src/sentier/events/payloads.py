"""JSON bodies the inbound hooks accept: parsed within bounds, checked storable everywhere.

A hook body is at most :data:`MAX_BODY_BYTES`; a CloudEvents batch at most
:data:`MAX_BATCH_EVENTS` events, counted while it is read so that a longer one costs no more
than that. Every refusal is an :class:`EventsError` naming where: a line and column for
broken JSON, a path (``3.data.labels``) for a value no database column can keep.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sentier.events.errors import EventsError

MAX_BODY_BYTES = 5 * 1024 * 1024
# Bounds the rows one request writes (a message and an event each), whatever the size of
# the events: 5,000 (5 MiB) cost about half a second of CPU on either backend
# (bench/hooks_batch.py).
MAX_BATCH_EVENTS = 5_000
MAX_DEPTH = 200  # orjson, which writes JSON columns, stops at 254 levels
_INT64 = 2**63
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _int64(digits: str) -> int:
    value = int(digits)
    if not -_INT64 <= value < _INT64:
        raise ValueError("JSON integers must fit in 64 bits")
    return value


def _finite(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):  # 1e400
        raise ValueError("JSON numbers must be finite")
    return value


# Numbers no database column keeps are refused as they are read, not looked for afterwards.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_int=_int64, parse_float=_finite)


def _text(body: bytes) -> str:
    if len(body) > MAX_BODY_BYTES:
        raise EventsError(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EventsError(f"body is not UTF-8 (byte {error.start})", field="body") from error


def _decode_errors(call: Any, *args: Any) -> Any:
    """Run a JSON decoder call, turning its failures into located ``EventsError``."""
    try:
        return call(*args)
    except json.JSONDecodeError as error:
        raise EventsError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            field="body",
        ) from error
    except ValueError as error:
        raise EventsError(str(error), field="body") from error
    except RecursionError as error:
        raise EventsError("JSON nested too deeply", field="body") from error


def parse_json(body: bytes) -> Any:
    """The JSON document ``body`` holds (bounded in size, no NaN or infinities)."""
    text = _text(body)
    return _decode_errors(_DECODER.decode, text)


def parse_batch(body: bytes) -> list[tuple[Any, str]]:
    """The elements of a JSON array, each with its own text as sent.

    Read element by element (``raw_decode``) so that each stored message keeps its own
    bytes rather than the whole batch, and so that a batch longer than
    ``MAX_BATCH_EVENTS`` is refused once that many have been read.
    """
    text = _text(body)
    end = len(text)
    i = _WHITESPACE.match(text, 0).end()  # type: ignore[union-attr]
    if i >= end or text[i] != "[":
        # A clear line/column when it is not JSON at all; else it is JSON but not an array.
        _decode_errors(_DECODER.decode, text)
        raise EventsError("a batch must be a JSON array", field="body")
    items: list[tuple[Any, str]] = []
    i = _WHITESPACE.match(text, i + 1).end()  # type: ignore[union-attr]
    if i < end and text[i] == "]":
        i += 1
    else:
        while True:
            if len(items) >= MAX_BATCH_EVENTS:
                raise EventsError(
                    f"a batch holds at most {MAX_BATCH_EVENTS} events; send the rest in "
                    "another request",
                    field="body",
                )
            try:
                value, after = _decode_errors(_DECODER.raw_decode, text, i)
            except EventsError as error:
                error.field, error.message = str(len(items)), f"event {len(items)}: {error.message}"
                raise
            items.append((value, text[i:after]))
            i = _WHITESPACE.match(text, after).end()  # type: ignore[union-attr]
            if i < end and text[i] == ",":
                i = _WHITESPACE.match(text, i + 1).end()  # type: ignore[union-attr]
                continue
            if i < end and text[i] == "]":
                i += 1
                break
            _decode_errors(_raise_at, "Expecting ',' delimiter", text, i)
    if _WHITESPACE.match(text, i).end() != end:  # type: ignore[union-attr]
        _decode_errors(_raise_at, "Extra data", text, i)
    return items


def _raise_at(message: str, text: str, position: int) -> None:
    raise json.JSONDecodeError(message, text, position)


def _unstorable(item: Any) -> str | None:
    """Why one value (not its children) cannot be kept as JSON on every backend."""
    if isinstance(item, str):
        if "\x00" in item:
            return "JSON strings may not contain U+0000"
        if not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "JSON strings may not contain a lone surrogate (\\ud800-\\udfff)"
    elif isinstance(item, bool) or item is None:
        return None
    elif isinstance(item, int):
        if not -_INT64 <= item < _INT64:
            return "JSON integers must fit in 64 bits"
    elif isinstance(item, float) and not math.isfinite(item):
        return "JSON numbers must be finite"
    return None


def check_storable(value: Any, where: str = "", *, text: str | None = None) -> None:
    """Refuse what the database cannot keep as JSON on every backend: U+0000 in a string
    (PostgreSQL), a lone surrogate (not UTF-8: no driver can send it), integers beyond 64
    bits, NaN and infinities, nesting deeper than ``MAX_DEPTH`` (walked without recursion).

    ``where`` prefixes the path in the error's field (``"3"`` for a batch's fourth event).
    ``text``, the JSON this module parsed ``value`` from, lets the common case skip the walk:
    its numbers were checked as they were read, and U+0000 or a surrogate can only come from a
    ``\\u`` escape (raw control characters are not JSON, surrogates not UTF-8), so text
    without one and with fewer brackets than ``MAX_DEPTH`` holds nothing to refuse.
    """
    if text is not None and "\\u" not in text and text.count("[") + text.count("{") < MAX_DEPTH:
        return
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise EventsError(
                    f"JSON nested deeper than {MAX_DEPTH} levels", field=where or "body"
                )
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
            continue
        problem = _unstorable(item)
        if problem:
            raise EventsError(problem, field=_locate(value, where) or "body")


def _locate(value: Any, where: str) -> str | None:
    """The path of the first value :func:`_unstorable` refuses (walked again only when one
    is there, so a good payload pays nothing for it)."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, (where,) if where else ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if _unstorable(key) is not None:  # the key itself: not quoted in the path
                    return ".".join((*path, "(key)"))
                stack.append((child, (*path, str(key))))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*path, str(index))) for index, child in enumerate(item))
        elif _unstorable(item) is not None:
            return ".".join(path) or None
    return None
