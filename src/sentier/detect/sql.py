"""Hunting: a rule's condition as a DuckDB SQL expression over stored records.

Records are rows with their fields in one ``MAP(VARCHAR, VARCHAR)`` column, ``fields``; a
field absent from a record reads NULL. Every leaf is wrapped in ``COALESCE(..., FALSE)`` so
that SQL's three-valued logic cannot make ``not`` differ from the stream (where an absent
field simply fails a test).

Regular expressions run on DuckDB's RE2 (linear time: no timeout needed); pySigma accepts
only patterns RE2 parses, so every rule that loads runs here. IPv6 ranges go through
``sentier_ipv6_in``, a Python function registered on the connection (DuckDB's ``inet``
extension would have to be downloaded); everything else is plain SQL.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from sentier.detect.ir import ANY, NUMBER_PATTERN, ONE, And, Leaf, Node, Not, Or

# IPv4 dotted quad -> integer, NULL for anything else (as ir.ipv4_value reads it).
IPV4_MACRO = (
    "CREATE OR REPLACE MACRO sentier_ipv4(s) AS CASE WHEN regexp_full_match(s, "
    "'[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}') AND "
    + " AND ".join(f"CAST(split_part(s, '.', {i}) AS BIGINT) <= 255" for i in range(1, 5))
    + " THEN "
    + " + ".join(f"CAST(split_part(s, '.', {i}) AS BIGINT) * {256 ** (4 - i)}" for i in range(1, 5))
    + " END"
)


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("\x00", "").replace("'", "''") + "'"


def column(name: str) -> str:
    return f"fields[{quote(name)}]"


def _like(parts: tuple[str, ...], cased: bool) -> str:
    out = []
    for part in parts:
        if part == ANY:
            out.append("%")
        elif part == ONE:
            out.append("_")
        else:
            text = part if cased else part.lower()
            out.append(text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_"))
    return "".join(out)


def _number(field: str) -> str:
    return (
        f"TRY_CAST(CASE WHEN regexp_full_match({field}, {quote(NUMBER_PATTERN)}) "
        f"THEN {field} END AS DOUBLE)"
    )


def _double(value: float) -> str:
    return f"CAST({quote(repr(value))} AS DOUBLE)"


class SqlCompiler:
    """Compiles conditions into SQL expressions over the ``fields`` map — or, for the fields
    ``columns`` names, over columns ``c{i}`` (the value) and ``l{i}`` (lower-cased) that a
    table of one log source's records holds already extracted (see ``hunt``)."""

    def __init__(self, columns: Mapping[str, int] | None = None) -> None:
        self.columns = dict(columns or {})

    def _raw(self, name: str) -> str:
        index = self.columns.get(name)
        return column(name) if index is None else f"c{index}"

    def _low(self, name: str) -> str:
        index = self.columns.get(name)
        return f"lower({column(name)})" if index is None else f"l{index}"

    def expression(self, node: Node) -> str:
        if isinstance(node, Leaf):
            return f"COALESCE({self._leaf(node)}, FALSE)"
        if isinstance(node, Not):
            return f"(NOT {self.expression(node.item)})"
        joiner = " AND " if isinstance(node, And) else " OR "
        assert isinstance(node, And | Or)
        return "(" + joiner.join(self.expression(i) for i in node.items) + ")"

    def _leaf(self, leaf: Leaf) -> str:
        field = self._raw(leaf.field)
        if leaf.op == "glob":
            parts: tuple[str, ...] = leaf.value
            if parts == (ANY,):
                return f"({field} IS NOT NULL)"
            target = field if leaf.cased else self._low(leaf.field)
            if all(p not in (ANY, ONE) for p in parts):
                text = "".join(parts)
                return f"({target} = {quote(text if leaf.cased else text.lower())})"
            return f"({target} LIKE {quote(_like(parts, leaf.cased))} ESCAPE '\\')"
        if leaf.op == "regex":
            return f"regexp_matches({field}, {quote(leaf.value)})"
        if leaf.op == "cidr":
            version, first, last = leaf.value
            if version == 4:
                return f"(sentier_ipv4({field}) BETWEEN {first} AND {last})"
            return f"sentier_ipv6_in({field}, {quote(str(first))}, {quote(str(last))})"
        if leaf.op == "number":
            return f"({_number(field)} = {_double(leaf.value)})"
        if leaf.op == "compare":
            op, bound = leaf.value
            return f"({_number(field)} {op} {_double(bound)})"
        if leaf.op == "null":
            return f"({field} IS NULL)"
        if leaf.op == "exists":
            return f"({field} IS {'NOT ' if leaf.value else ''}NULL)"
        if leaf.op == "fieldref":
            return f"({field} = {self._raw(leaf.value)})"
        raise ValueError(f"unknown leaf operation {leaf.op}")  # pragma: no cover


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Register sentier's SQL helpers on ``con`` (the IPv4 macro, the IPv6 range test)."""
    from duckdb.func import FunctionNullHandling

    from sentier.detect.ir import ipv6_value

    con.execute(IPV4_MACRO)

    def sentier_ipv6_in(value: str | None, first: str, last: str) -> bool:
        number = ipv6_value(value) if value is not None else None
        return number is not None and int(first) <= number <= int(last)

    known = con.execute(
        "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'sentier_ipv6_in'"
    ).fetchall()
    if not known[0][0]:
        con.create_function(
            "sentier_ipv6_in",
            sentier_ipv6_in,
            ["VARCHAR", "VARCHAR", "VARCHAR"],
            "BOOLEAN",
            null_handling=FunctionNullHandling.SPECIAL,
        )


__all__ = ["SqlCompiler", "column", "prepare", "quote"]
