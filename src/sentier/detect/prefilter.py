"""A literal prefilter: which rules of a log source can match a record, from one scan per field.

Most Sigma rules cannot match unless some text occurs in some field (``Image`` ends with
``/nc``, ``CommandLine`` contains ``base64 -d``...). ``clauses`` derives from a condition tree
a few clauses — each a set of (field, lower-cased literal) pairs of which at least one occurs
whenever the rule matches (a conjunction of disjunctions, as RE2's FilteredRE2 does for a
regular expression). ``Prefilter`` puts the literals of every rule of a log source into one
RE2 set per field (RE2 runs a set of literals as one automaton, in time linear in the value),
so a record is scanned once per field and meets only the rules all of whose clauses it
satisfies, plus the rules without clauses (a bare ``not``, ``exists``, a number...).

Why it never loses a detection: each clause is implied by the matcher's own test (``match``):
- a glob leaf (equality, ``contains``, ``startswith``, ``endswith``, inner wildcards) holds
  only if each of its literal parts occurs in the value; case-insensitive tests compare the
  lower-cased part with the lower-cased value, and a cased ASCII part that occurs in a value
  also occurs, lower-cased, in the lower-cased value (``str.lower`` maps code points one by
  one, and its one context-dependent case, the final sigma, is not ASCII); a cased part that
  is not ASCII gives no literal;
- a regular expression (searched with ASCII semantics) matches only if each of its
  mandatory literal runs occurs (the top-level sequence, groups, repetitions of at least
  one, one literal of each alternative or character class of literals), read with Python's
  own parser of the syntax; a pattern it cannot read gives no clause;
- ``and`` holds only if each of its items holds: every item's clauses hold (the most
  selective are kept); ``or`` holds only if one of its items holds: the union of one clause
  of each, when every item has one;
- every other test (``not``, CIDR, numbers, ``exists``, field references) gives none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

import re2

from sentier.detect.ir import ANY, ONE, And, Leaf, Node, Or

Clause = dict[str, frozenset[str]]  # field -> literals; one of them occurs in that field
MAX_CLAUSES = 3  # per rule: the most selective are kept
SELECTIVE_LENGTH = 8  # literals this long are taken as rare; beyond it, fewer literals win
MAX_MEMORY = 256 << 20  # bytes RE2 may use for one set's automaton (it allocates as it goes)
_REPEATS = (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT)


def _glob(leaf: Leaf) -> list[Clause]:
    parts = [p for p in leaf.value if p not in (ANY, ONE)]
    if leaf.cased:
        parts = [p for p in parts if p.isascii()]
    return [{leaf.field: frozenset({p.lower()})} for p in parts if p]


def _regex_clauses(items: list[tuple[Any, Any]]) -> list[frozenset[str]]:
    """The literal sets one of which each match of this parsed sequence contains."""
    out: list[frozenset[str]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            out.append(frozenset({"".join(run).lower()}))
            run.clear()

    for op, argument in items:
        if op is _constants.LITERAL and chr(argument).isascii():
            run.append(chr(argument))
            continue
        close()
        if op is _constants.SUBPATTERN:
            out.extend(_regex_clauses(list(argument[-1])))
        elif op in _REPEATS and argument[0] >= 1:
            out.extend(_regex_clauses(list(argument[2])))
        elif op is _constants.BRANCH:
            alternatives = [_best_set(_regex_clauses(list(branch))) for branch in argument[1]]
            if all(alternatives):
                out.append(frozenset().union(*alternatives))
        elif op is _constants.IN and all(
            kind is _constants.LITERAL and chr(value).isascii() for kind, value in argument
        ):
            out.append(frozenset(chr(value).lower() for _, value in argument))
        # anything else (classes, anchors, lookarounds, back references...) breaks the run
    close()
    return out


def _best_set(sets: list[frozenset[str]]) -> frozenset[str]:
    return max(sets, key=lambda texts: _score({"": texts}), default=frozenset())


def _regex(leaf: Leaf) -> list[Clause]:
    try:
        parsed = _parser.parse(leaf.value, re.ASCII)
    except (re.error, RecursionError, OverflowError, ValueError):
        return []
    return [{leaf.field: texts} for texts in _regex_clauses(list(parsed)) if all(texts)]


def _score(clause: Clause) -> tuple[int, int]:
    """Higher is more selective: longer shortest literal first, then fewer literals."""
    shortest = min(len(t) for texts in clause.values() for t in texts)
    count = sum(len(texts) for texts in clause.values())
    return min(shortest, SELECTIVE_LENGTH), -count


def _best(found: list[Clause]) -> list[Clause]:
    unique: dict[tuple[tuple[str, frozenset[str]], ...], Clause] = {}
    for clause in found:
        unique.setdefault(tuple(sorted(clause.items(), key=lambda kv: kv[0])), clause)
    return sorted(unique.values(), key=_score, reverse=True)[:MAX_CLAUSES]


def clauses(node: Node) -> list[Clause]:
    """Clauses that all hold whenever ``node`` holds (at most ``MAX_CLAUSES``, the most
    selective first); none when nothing is known."""
    if isinstance(node, Leaf):
        if node.op == "glob":
            return _best(_glob(node))
        if node.op == "regex":
            return _best(_regex(node))
        return []
    if isinstance(node, And):
        return _best([c for item in node.items for c in clauses(item)])
    if isinstance(node, Or):
        union: dict[str, set[str]] = {}
        for item in node.items:
            found = clauses(item)
            if not found:
                return []
            for name, texts in found[0].items():
                union.setdefault(name, set()).update(texts)
        return [{name: frozenset(texts) for name, texts in union.items()}]
    return []


SMALL = 4  # up to this many literals, a field is searched with ``in`` (cheaper than a call)


def _automaton(literals: Sequence[str]) -> re2.Set:
    options = re2.Options()
    options.max_mem = MAX_MEMORY
    options.literal = True
    automaton = re2.Set.SearchSet(options)
    for text in literals:
        automaton.Add(text)
    automaton.Compile()  # raises re2.error when the automaton would not fit in MAX_MEMORY
    return automaton


@dataclass(frozen=True, slots=True)
class _Field:
    """The literals of one field: an RE2 set (``rules[i]``: the clause codes literal ``i``
    admits), or for a few literals, (literal, codes) pairs tested one by one."""

    name: str
    automaton: re2.Set | None
    rules: tuple[frozenset[int], ...]
    pairs: tuple[tuple[str, frozenset[int]], ...]


class Prefilter:
    """Candidate rules (positions in ``conditions``) for a record's lower-cased fields."""

    def __init__(self, conditions: Sequence[Node]) -> None:
        always: list[int] = []
        self.need: list[int] = []  # clauses per rule
        by_field: dict[str, dict[str, set[int]]] = {}  # field -> literal -> clause codes
        for position, condition in enumerate(conditions):
            chosen = clauses(condition)
            self.need.append(len(chosen))
            if not chosen:
                always.append(position)
            for number, clause in enumerate(chosen):
                code = position * MAX_CLAUSES + number
                for name, texts in clause.items():
                    for text in texts:
                        by_field.setdefault(name, {}).setdefault(text, set()).add(code)
        self.always = always
        self.entries: list[_Field] = []
        for name, codes in sorted(by_field.items()):
            ordered = tuple(sorted(codes))
            admitted = tuple(frozenset(codes[t]) for t in ordered)
            if len(ordered) > SMALL:
                self.entries.append(_Field(name, _automaton(ordered), admitted, ()))
            else:
                self.entries.append(
                    _Field(name, None, (), tuple(zip(ordered, admitted, strict=True)))
                )
        self.fields = frozenset(e.name for e in self.entries)

    def candidates(self, low: Mapping[str, str]) -> list[int]:
        """Positions of the rules that may match, in order (hot: one call per record)."""
        hits: set[int] = set()
        for entry in self.entries:
            value = low.get(entry.name)
            if value is None:
                continue
            if entry.automaton is None:
                for text, codes in entry.pairs:
                    if text in value:
                        hits |= codes
            else:
                found = entry.automaton.Match(value)
                if found:
                    rules = entry.rules
                    for index in found:
                        hits |= rules[index]
        if not hits:
            return self.always
        satisfied: dict[int, int] = {}
        for code in hits:
            position = code // MAX_CLAUSES
            satisfied[position] = satisfied.get(position, 0) + 1
        need = self.need
        result = [p for p, count in satisfied.items() if count == need[p]]
        if self.always:
            result.extend(self.always)
        result.sort()
        return result


__all__ = ["Clause", "Prefilter", "clauses"]
