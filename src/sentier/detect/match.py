"""Streaming: a rule's condition compiled once into Python closures over a record's text view.

Each leaf becomes the cheapest test that means the same as its glob (equality, ``startswith``,
``endswith``, ``in``; a regular expression only for inner wildcards), and an ``or`` of
equalities on one field becomes one set lookup, so a rule costs a few dictionary reads per
event. Case-insensitive tests read ``Subject.low``, the record's values lower-cased once.

Sigma ``re`` modifiers run on the ``regex`` package with a timeout per search
(``REGEX_TIMEOUT``): a pattern that backtracks catastrophically on some input stops there,
counts as no match and is reported (``RegexGuard``), instead of holding the stream.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import regex

from sentier.detect.ir import (
    ANY,
    NUMBER_PATTERN,
    ONE,
    And,
    Leaf,
    Node,
    Not,
    ipv4_value,
    ipv6_value,
)

REGEX_TIMEOUT = 0.05  # seconds per search
MAX_PATTERN = 4096  # characters of a Sigma regular expression
_NUMBER = re.compile(NUMBER_PATTERN)


class Subject:
    """A record as matchers read it: its fields, and the same values lower-cased — those of
    ``read`` only when given (the fields the rules it will meet read), since lower-casing a
    long message nobody tests is most of the cost of a record."""

    __slots__ = ("fields", "low")

    def __init__(self, fields: Mapping[str, str], read: AbstractSet[str] | None = None) -> None:
        self.fields = fields
        if read is None:
            self.low = {k: v.lower() for k, v in fields.items()}
        else:
            self.low = {k: v.lower() for k, v in fields.items() if k in read}


Matcher = Callable[[Subject], bool]


@dataclass
class RegexGuard:
    """Searches that ran out of time, by pattern (reported, then counted as no match)."""

    timeouts: dict[str, int] = field(default_factory=dict)

    def note(self, pattern: str) -> None:
        self.timeouts[pattern] = self.timeouts.get(pattern, 0) + 1


GUARD = RegexGuard()


def compile_regex(pattern: str) -> regex.Pattern[str]:
    """The pattern as the stream runs it; ASCII classes, as DuckDB's RE2 reads them."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"regular expression longer than {MAX_PATTERN} characters")
    return regex.compile(pattern, regex.ASCII | regex.VERSION0)


def _number(text: str | None) -> float | None:
    if text is None or not _NUMBER.fullmatch(text):
        return None
    return float(text)


def _glob_regex(parts: tuple[str, ...]) -> re.Pattern[str]:
    body = "".join(".*" if p == ANY else "." if p == ONE else re.escape(p) for p in parts)
    return re.compile(body, re.DOTALL)


def _glob(leaf: Leaf) -> Matcher:
    name = leaf.field
    parts: tuple[str, ...] = leaf.value
    if not leaf.cased:
        parts = tuple(p if p in (ANY, ONE) else p.lower() for p in parts)
    literal = [p for p in parts if p not in (ANY, ONE)]
    shape = tuple(p if p in (ANY, ONE) else "x" for p in parts)

    cased = leaf.cased
    text = literal[0] if literal else ""
    if shape in ((), ("x",)):
        if cased:
            return lambda s: s.fields.get(name) == text
        return lambda s: s.low.get(name) == text
    if shape == (ANY,):
        return lambda s: name in s.fields
    if shape == (ANY, "x", ANY):
        if cased:
            return lambda s: name in s.fields and text in s.fields[name]
        return lambda s: name in s.low and text in s.low[name]
    if shape == ("x", ANY):
        if cased:
            return lambda s: name in s.fields and s.fields[name].startswith(text)
        return lambda s: name in s.low and s.low[name].startswith(text)
    if shape == (ANY, "x"):
        if cased:
            return lambda s: name in s.fields and s.fields[name].endswith(text)
        return lambda s: name in s.low and s.low[name].endswith(text)
    pattern = _glob_regex(parts)

    def general(subject: Subject) -> bool:
        value = (subject.fields if cased else subject.low).get(name)
        return value is not None and pattern.fullmatch(value) is not None

    return general


def _leaf(leaf: Leaf, guard: RegexGuard) -> Matcher:
    name = leaf.field
    if leaf.op == "glob":
        return _glob(leaf)
    if leaf.op == "regex":
        compiled = compile_regex(leaf.value)
        text = leaf.value

        def search(subject: Subject) -> bool:
            value = subject.fields.get(name)
            if value is None:
                return False
            try:
                return compiled.search(value, timeout=REGEX_TIMEOUT) is not None
            except TimeoutError:
                guard.note(text)
                return False

        return search
    if leaf.op == "cidr":
        version, first, last = leaf.value
        read = ipv4_value if version == 4 else ipv6_value

        def cidr(subject: Subject) -> bool:
            value = subject.fields.get(name)
            number = read(value) if value is not None else None
            return number is not None and first <= number <= last

        return cidr
    if leaf.op == "number":
        wanted = leaf.value
        return lambda s: _number(s.fields.get(name)) == wanted
    if leaf.op == "compare":
        op, bound = leaf.value
        test: Callable[[float], bool] = {
            ">": lambda n: n > bound,
            ">=": lambda n: n >= bound,
            "<": lambda n: n < bound,
            "<=": lambda n: n <= bound,
        }[op]

        def compare(subject: Subject) -> bool:
            number = _number(subject.fields.get(name))
            return number is not None and test(number)

        return compare
    if leaf.op == "null":
        return lambda s: name not in s.fields
    if leaf.op == "exists":
        if leaf.value:
            return lambda s: name in s.fields
        return lambda s: name not in s.fields
    if leaf.op == "fieldref":
        other = leaf.value

        def same(subject: Subject) -> bool:
            value = subject.fields.get(name)
            return value is not None and value == subject.fields.get(other)

        return same
    raise ValueError(f"unknown leaf operation {leaf.op}")  # pragma: no cover


def _equalities(items: tuple[Node, ...]) -> tuple[list[Matcher], list[Node]]:
    """An ``or`` of plain equalities on one field as one set lookup per field; the rest apart."""
    sets: dict[tuple[str, bool], set[str]] = {}
    rest: list[Node] = []
    for item in items:
        if (
            isinstance(item, Leaf)
            and item.op == "glob"
            and len(item.value) == 1
            and item.value[0] not in (ANY, ONE)
        ):
            text = item.value[0] if item.cased else item.value[0].lower()
            sets.setdefault((item.field, item.cased), set()).add(text)
        else:
            rest.append(item)
    matchers: list[Matcher] = []
    for (name, cased), values in sets.items():
        frozen = frozenset(values)
        matchers.append(_in_set(name, cased, frozen))
    return matchers, rest


def _affixes(items: list[Node]) -> tuple[list[Matcher], list[Node]]:
    """An ``or`` of ``startswith`` (or ``endswith``) tests on one field: one call with a tuple."""
    groups: dict[tuple[str, str], list[str]] = {}
    rest: list[Node] = []
    for item in items:
        if isinstance(item, Leaf) and item.op == "glob" and not item.cased and len(item.value) == 2:
            first, second = item.value
            if first == ANY and second not in (ANY, ONE):
                groups.setdefault((item.field, "end"), []).append(second.lower())
                continue
            if second == ANY and first not in (ANY, ONE):
                groups.setdefault((item.field, "start"), []).append(first.lower())
                continue
        rest.append(item)
    matchers: list[Matcher] = []
    for (name, side), texts in groups.items():
        affixes = tuple(texts)
        matchers.append(_affix(name, side, affixes))
    return matchers, rest


def _in_set(name: str, cased: bool, values: frozenset[str]) -> Matcher:
    if cased:
        return lambda s: s.fields.get(name) in values
    return lambda s: s.low.get(name) in values


def _affix(name: str, side: str, affixes: tuple[str, ...]) -> Matcher:
    if side == "end":
        return lambda s: name in s.low and s.low[name].endswith(affixes)
    return lambda s: name in s.low and s.low[name].startswith(affixes)


def _contains(items: list[Node]) -> tuple[list[Matcher], list[Node]]:
    """An ``or`` of ``contains`` tests on one field: one loop over the needles."""
    groups: dict[str, list[str]] = {}
    rest: list[Node] = []
    for item in items:
        if (
            isinstance(item, Leaf)
            and item.op == "glob"
            and not item.cased
            and len(item.value) == 3
            and item.value[0] == ANY
            and item.value[2] == ANY
            and item.value[1] not in (ANY, ONE)
        ):
            groups.setdefault(item.field, []).append(item.value[1].lower())
        else:
            rest.append(item)
    matchers: list[Matcher] = []
    for name, texts in groups.items():
        needles = tuple(texts)

        def any_in(subject: Subject, n: str = name, t: tuple[str, ...] = needles) -> bool:
            value = subject.low.get(n)
            if value is None:
                return False
            return any(needle in value for needle in t)

        matchers.append(any_in)
    return matchers, rest


def compile_node(node: Node, guard: RegexGuard = GUARD) -> Matcher:
    """The matcher of a condition; raises ValueError for a pattern that cannot compile."""
    if isinstance(node, Leaf):
        return _leaf(node, guard)
    if isinstance(node, Not):
        inner = compile_node(node.item, guard)
        return lambda s: not inner(s)
    if isinstance(node, And):
        parts = tuple(compile_node(item, guard) for item in node.items)
        if len(parts) == 2:
            a, b = parts
            return lambda s: a(s) and b(s)
        return lambda s: all(p(s) for p in parts)
    sets, rest = _equalities(node.items)
    affixes, rest = _affixes(rest)
    contains, rest = _contains(rest)
    alternatives = (*sets, *affixes, *contains, *(compile_node(i, guard) for i in rest))
    if len(alternatives) == 1:
        return alternatives[0]
    return lambda s: any(p(s) for p in alternatives)


__all__ = ["GUARD", "Matcher", "RegexGuard", "Subject", "compile_node", "compile_regex"]
