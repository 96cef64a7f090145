"""A Sigma condition as a small tree both engines share: the streaming matcher and the SQL hunt.

pySigma parses a rule (modifiers, value lists, ``1 of``/``all of`` selectors, keywords) into a
condition tree of typed values; this module lowers that tree once into ``And``/``Or``/``Not``
over ``Leaf`` tests whose meaning is fixed here, on the text view of a record (every field a
string, see ``records``). ``match`` turns it into Python closures, ``sql`` into DuckDB SQL:
because both read the same leaves, they cannot disagree on what a modifier means.

Anything the engines cannot honour exactly (placeholders without values, time-part modifiers,
field references with ``startswith``) is refused here with the field it concerns.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SpecialChars,
)

# Glob parts: literal text, or one of these two markers.
ANY, ONE = "\x00*", "\x00?"
# A number as both engines read it from text (Python's float() also takes "1_000" and " 5 ").
NUMBER_PATTERN = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
COMPARE = {
    CompareOperators.GT: ">",
    CompareOperators.GTE: ">=",
    CompareOperators.LT: "<",
    CompareOperators.LTE: "<=",
}
_FLAG_LETTERS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}


class Unsupported(Exception):
    """A part of a rule the engines do not run; ``field`` is the Sigma field it concerns."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True, slots=True)
class Leaf:
    """One test on one field of a record's text view.

    ``op`` and ``value``:
    - ``glob``: tuple of parts (text, ``ANY``, ``ONE``) matched against the whole value,
      lower-cased on both sides unless ``cased``;
    - ``regex``: the pattern with its flags inline (``(?i)...``), searched anywhere;
    - ``cidr``: (version, first, last) integers; the value must be a dotted quad (v4) or an
      address ``ipaddress`` reads (v6);
    - ``number``: a float, equal to the value read as a number (``NUMBER_PATTERN``);
    - ``compare``: (operator, float), the value read as a number;
    - ``null``: the field is absent; ``exists``: True (present) or False (absent);
    - ``fieldref``: the name of another field holding the same text.
    """

    field: str
    op: str
    value: Any
    cased: bool = False


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Node


Node = And | Or | Not | Leaf


def glob_parts(value: SigmaString, field: str) -> tuple[str, ...]:
    parts: list[str] = []
    for part in value.s:
        if isinstance(part, str):
            if parts and parts[-1] not in (ANY, ONE):
                parts[-1] += part
            else:
                parts.append(part)
        elif part is SpecialChars.WILDCARD_MULTI:
            if not parts or parts[-1] != ANY:
                parts.append(ANY)
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(ONE)
        elif isinstance(part, Placeholder):
            raise Unsupported(
                f"placeholder %{part.name}% has no values (expand it in a pipeline)", field
            )
        else:  # pragma: no cover - pySigma has no other part types
            raise Unsupported(f"unknown string part {part!r}", field)
    return tuple(parts)


def keyword_parts(parts: tuple[str, ...]) -> tuple[str, ...]:
    """A keyword is found anywhere in the keyword field: wildcards on both ends."""
    out = list(parts)
    if not out or out[0] != ANY:
        out.insert(0, ANY)
    if out[-1] != ANY:
        out.append(ANY)
    return tuple(out)


def _cidr(value: SigmaCIDRExpression) -> tuple[int, int, int]:
    network = value.network
    return (
        network.version,
        int(network.network_address),
        int(network.broadcast_address),
    )


def _regex(value: SigmaRegularExpression) -> str:
    flags = "".join(sorted(_FLAG_LETTERS[f] for f in value.flags if f in _FLAG_LETTERS))
    pattern = str(value.regexp)
    return f"(?{flags}){pattern}" if flags else pattern


def _leaf(field: str, value: Any, origin: str) -> Node:
    if isinstance(value, SigmaExpansion):  # windash, base64offset: any of the variants
        return Or(tuple(_leaf(field, v, origin) for v in value.values))
    if isinstance(value, SigmaCasedString):
        return Leaf(field, "glob", glob_parts(value, origin), cased=True)
    if isinstance(value, SigmaString):
        return Leaf(field, "glob", glob_parts(value, origin))
    if isinstance(value, SigmaRegularExpression):
        if value.regexp.contains_placeholder():
            raise Unsupported("regular expression with a placeholder", origin)
        return Leaf(field, "regex", _regex(value), cased=True)
    if isinstance(value, SigmaCIDRExpression):
        return Leaf(field, "cidr", _cidr(value))
    if isinstance(value, SigmaTimestampPart):
        raise Unsupported("time-part modifiers (minute, hour, ...) are not supported", origin)
    if isinstance(value, SigmaBool):
        return Leaf(field, "glob", ("true" if value.boolean else "false",))
    if isinstance(value, SigmaNumber):
        return Leaf(field, "number", float(value.number))
    if isinstance(value, SigmaCompareExpression):
        return Leaf(field, "compare", (COMPARE[value.op], float(value.number.number)))
    if isinstance(value, SigmaNull):
        return Leaf(field, "null", None)
    if isinstance(value, SigmaExists):
        return Leaf(field, "exists", bool(value.exists))
    if isinstance(value, SigmaFieldReference):
        if value.starts_with or value.ends_with:
            raise Unsupported("fieldref with startswith/endswith is not supported", origin)
        return Leaf(field, "fieldref", value.field, cased=True)
    raise Unsupported(f"value type {type(value).__name__} is not supported", origin)


def lower(tree: Any, keyword_field: str, original: dict[str, str] | None = None) -> Node:
    """The condition tree of a processed pySigma rule as ``Node``s.

    ``original`` maps sentier field names back to the rule's own (for error messages).
    """
    back = original or {}
    if isinstance(tree, ConditionAND | ConditionOR):
        items = tuple(lower(arg, keyword_field, back) for arg in tree.args)
        return And(items) if isinstance(tree, ConditionAND) else Or(items)
    if isinstance(tree, ConditionNOT):
        return Not(lower(tree.args[0], keyword_field, back))
    if isinstance(tree, ConditionFieldEqualsValueExpression):
        return _leaf(tree.field, tree.value, back.get(tree.field, tree.field))
    if isinstance(tree, ConditionValueExpression):
        value = tree.value
        if isinstance(value, SigmaExpansion):
            return Or(tuple(_keyword(keyword_field, v) for v in value.values))
        return _keyword(keyword_field, value)
    if isinstance(tree, ConditionItem):  # pragma: no cover - every item type is handled above
        raise Unsupported(f"condition item {type(tree).__name__} is not supported")
    raise Unsupported("the condition selects nothing")


def _keyword(keyword_field: str, value: Any) -> Node:
    if isinstance(value, SigmaString):
        parts = keyword_parts(glob_parts(value, "keywords"))
        return Leaf(keyword_field, "glob", parts, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaNumber):
        return Leaf(keyword_field, "glob", (ANY, str(value.number), ANY))
    if isinstance(value, SigmaRegularExpression):
        return Leaf(keyword_field, "regex", _regex(value), cased=True)
    raise Unsupported(f"keyword of type {type(value).__name__} is not supported", "keywords")


def fields_of(node: Node) -> set[str]:
    """Every field a condition reads."""
    if isinstance(node, Leaf):
        return {node.field, node.value} if node.op == "fieldref" else {node.field}
    if isinstance(node, Not):
        return fields_of(node.item)
    out: set[str] = set()
    for item in node.items:
        out |= fields_of(item)
    return out


def ipv4_value(text: str) -> int | None:
    """A dotted quad as an integer; None for anything else (both engines read it so)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    total = 0
    for part in parts:
        if not (1 <= len(part) <= 3) or not part.isascii() or not part.isdigit():
            return None
        octet = int(part)
        if octet > 255:
            return None
        total = total * 256 + octet
    return total


def ipv6_value(text: str) -> int | None:
    if ":" not in text or len(text) > 64:
        return None
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError:
        return None
