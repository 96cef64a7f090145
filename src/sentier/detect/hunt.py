"""Hunting: the same rules as SQL over stored records, in DuckDB.

A table (or view) of records has one row per record: ``seq`` (its order), ``ts``, ``origin``,
the log source (``product``, ``services``, ``category``), ``kind``, ``hints`` and the text view
of its fields as ``MAP(VARCHAR, VARCHAR)``. Each rule becomes one ``SELECT seq`` whose WHERE
is its log source and its condition (``sql.SqlCompiler``); each correlation one query over
those matches with window functions, computing exactly what ``engine.CorrelationState``
computes as records stream by (same tumbling windows, same firing record).

Why not ``pysigma-backend-duckdb``: it requires pySigma < 2 (sentier uses pySigma 2), emits
``ILIKE`` patterns without escaping ``%`` and ``_`` in the rule's own text (so ``user_name``
also matches ``userXname``), and its correlation windows are not the stream's. Sentier's
backend is small because both engines share the condition tree of ``ir``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from sentier.detect.engine import Detection
from sentier.detect.records import Record
from sentier.detect.rules import Correlation, Rule, RuleSet
from sentier.detect.sql import SqlCompiler, column, prepare, quote

RECORD_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("origin", pa.string()),
        ("product", pa.string()),
        ("services", pa.list_(pa.string())),
        ("category", pa.string()),
        ("kind", pa.string()),
        ("hints", pa.string()),  # JSON list of [kind, value]
        ("fields", pa.map_(pa.string(), pa.string())),
    ]
)


def records_table(records: Iterable[Record]) -> pa.Table:
    """Records as an Arrow table of ``RECORD_SCHEMA`` (for a DuckDB view or a Parquet file)."""
    columns: dict[str, list[Any]] = {name: [] for name in RECORD_SCHEMA.names}
    for record in records:
        columns["seq"].append(record.seq)
        columns["ts"].append(record.at)
        columns["origin"].append(record.origin)
        columns["product"].append(record.product)
        columns["services"].append(list(record.services))
        columns["category"].append(record.category)
        columns["kind"].append(record.kind)
        columns["hints"].append(json.dumps([list(h) for h in record.hints]))
        columns["fields"].append(list(record.fields.items()))
    return pa.table(columns, schema=RECORD_SCHEMA)


def record_of(row: Sequence[Any]) -> Record:
    """A record read back from the table (columns in ``RECORD_SCHEMA`` order)."""
    seq, ts, origin, product, services, category, kind, hints, fields = row
    if isinstance(fields, dict):
        values = {str(k): str(v) for k, v in fields.items()}
    else:
        values = {str(k): str(v) for k, v in (fields or [])}
    moment = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return Record(
        moment.astimezone(UTC),
        values,
        origin,
        product=product,
        services=tuple(services or ()),
        category=category,
        kind=kind,
        hints=tuple(tuple(h) for h in json.loads(hints or "[]")),
        seq=int(seq),
    )


def _logsource_sql(rule: Rule) -> list[str]:
    out = []
    if rule.product:
        out.append(f"product = {quote(rule.product)}")
    if rule.service:
        out.append(f"list_contains(services, {quote(rule.service)})")
    if rule.category:
        out.append(f"category = {quote(rule.category)}")
    return out


def rule_sql(rule: Rule, table: str = "records", columns: Mapping[str, int] | None = None) -> str:
    """The query of one rule: the ``seq`` of every record it matches (``columns``: fields
    ``table`` holds extracted, see ``SqlCompiler``)."""
    where = [*_logsource_sql(rule), SqlCompiler(columns).expression(rule.condition)]
    return f"SELECT seq FROM {table} WHERE " + " AND ".join(where)


def _window_sql(seconds: int, column_name: str = "ts") -> str:
    return f"CAST(floor(epoch_ms({column_name}) / {seconds * 1000}.0) AS BIGINT) * {seconds}"


def _group_sql(correlation: Correlation, name: str) -> str:
    cases = " ".join(
        f"WHEN {quote(rule_id)} THEN {column(correlation.group_field(name, rule_id))}"
        for rule_id in correlation.rules
    )
    return f"CASE rule_id {cases} END"


def correlation_sql(correlation: Correlation, table: str = "records") -> str:
    """The query of one correlation over the ``matches`` table (rule_id, seq): rows of
    (seq of the firing record, group values as a list, window start, count)."""
    rule_ids = ", ".join(quote(r) for r in correlation.rules)
    order = " ".join(f"WHEN {quote(r)} THEN {i}" for i, r in enumerate(correlation.rules))
    groups = [_group_sql(correlation, name) for name in correlation.group_by]
    group_list = "[" + ", ".join(groups) + "]::VARCHAR[]" if groups else "[]::VARCHAR[]"
    not_null = " AND ".join(f"g[{i + 1}] IS NOT NULL" for i in range(len(groups))) or "TRUE"
    value = (
        _group_sql(correlation, correlation.value_field)
        if correlation.type == "value_count" and correlation.value_field
        else "NULL"
    )
    base = f"""
        WITH hits AS (
            SELECT m.rule_id, r.seq, r.ts, CASE m.rule_id {order} END AS position
            FROM matches m JOIN {table} r ON r.seq = m.seq
            WHERE m.rule_id IN ({rule_ids})
        ), rows AS (
            SELECT h.*, {group_list} AS g, {value} AS v,
                   {_window_sql(correlation.timespan, "h.ts")} AS w
            FROM hits h JOIN {table} r ON r.seq = h.seq
        )"""
    if correlation.type == "temporal":
        wanted = len(set(correlation.rules))
        return (
            base
            + f""", firsts AS (
            SELECT g, w, rule_id, min(struct_pack(ts := ts, seq := seq)) AS first
            FROM rows WHERE {not_null}
            GROUP BY g, w, rule_id
        )
        SELECT struct_extract(max(first), 'seq') AS seq, g, w, count(*) AS n FROM firsts
        GROUP BY g, w HAVING count(*) = {wanted}"""
        )
    # One row per record: the first of this correlation's rules it matched.
    single = f"""
        , single AS (
            SELECT * FROM rows WHERE {not_null}
            QUALIFY row_number() OVER (PARTITION BY seq ORDER BY position) = 1
        )"""
    if correlation.type == "value_count":
        counted = """
        , counted AS (
            SELECT *, row_number() OVER (PARTITION BY g, w, v ORDER BY ts, seq) = 1 AS fresh
            FROM single WHERE v IS NOT NULL
        )"""
        if correlation.op in ("gte", "gt"):
            k = _threshold(correlation)
            return (
                base
                + single
                + counted
                + f"""
        SELECT seq, g, w, {k} AS n FROM (
            SELECT *, row_number() OVER (PARTITION BY g, w ORDER BY ts, seq) AS k
            FROM counted WHERE fresh
        ) WHERE k = {k}"""
            )
        return (
            base
            + single
            + counted
            + f"""
        SELECT struct_extract(max(struct_pack(ts := ts, seq := seq)), 'seq') AS seq, g, w,
               count(DISTINCT v) AS n FROM counted
        GROUP BY g, w HAVING {_having(correlation, "count(DISTINCT v)")}"""
        )
    if correlation.op in ("gte", "gt"):
        k = _threshold(correlation)
        return (
            base
            + single
            + f"""
        SELECT seq, g, w, {k} AS n FROM (
            SELECT *, row_number() OVER (PARTITION BY g, w ORDER BY ts, seq) AS k FROM single
        ) WHERE k = {k}"""
        )
    return (
        base
        + single
        + f"""
        SELECT struct_extract(max(struct_pack(ts := ts, seq := seq)), 'seq') AS seq, g, w,
               count(*) AS n FROM single
        GROUP BY g, w HAVING {_having(correlation, "count(*)")}"""
    )


def _threshold(correlation: Correlation) -> int:
    """The count at which ``gte``/``gt`` first hold (the rank of the firing record)."""
    bound = correlation.count or 0.0
    if correlation.op == "gt":
        return max(1, math.floor(bound) + 1)
    return max(1, math.ceil(bound))


def _having(correlation: Correlation, measure: str) -> str:
    op = {"lte": "<=", "lt": "<", "eq": "="}[correlation.op or "eq"]
    return f"{measure} {op} {correlation.count or 0.0!r}"


RULES_PER_STATEMENT = 50


@dataclass
class HuntResult:
    detections: list[Detection]
    records: int
    queries: int


class HuntEngine:
    """Runs a rule set as SQL over a table of records on one DuckDB connection."""

    def __init__(self, ruleset: RuleSet, con: duckdb.DuckDBPyConnection | None = None) -> None:
        self.ruleset = ruleset
        self.con = con or duckdb.connect()
        self.con.execute("SET TimeZone='UTC'")
        prepare(self.con)

    def load(self, records: Iterable[Record], name: str = "records") -> None:
        """Records held in memory as the table ``name`` (tests, the parity check)."""
        table = records_table(records)
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
        self.con.unregister(f"{name}_arrow")

    def run(self, table: str = "records", since: datetime | None = None) -> HuntResult:
        scope = table
        if since is not None:
            # A view cannot take a prepared parameter: the time is written as a literal, from
            # a datetime (never from text a user typed).
            moment = since if since.tzinfo else since.replace(tzinfo=UTC)
            literal = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            self.con.execute(
                f"CREATE OR REPLACE TEMP VIEW hunt_scope AS SELECT * FROM {table} "
                f"WHERE ts >= TIMESTAMPTZ '{literal}'"
            )
            scope = "hunt_scope"
        self.con.execute("CREATE OR REPLACE TEMP TABLE matches (rule_id VARCHAR, seq BIGINT)")
        queries = 0
        # Rules of one log source run over that log source's records only, copied once into
        # a table of their own with the fields they read extracted as columns (and
        # lower-cased once): each rule then scans a part of the records, reading plain
        # columns instead of looking each field up in every row's map.
        by_source: dict[tuple[str | None, str | None, str | None], list[Rule]] = {}
        for rule in self.ruleset.rules:
            by_source.setdefault((rule.product, rule.service, rule.category), []).append(rule)
        for same_source in by_source.values():
            part, columns = scope, None
            where = _logsource_sql(same_source[0])
            if len(same_source) > 1 and where:
                part = "hunt_part"
                columns = {
                    n: i for i, n in enumerate(sorted({f for r in same_source for f in r.fields}))
                }
                extracted = "".join(
                    f", {column(n)} AS c{i}, lower({column(n)}) AS l{i}" for n, i in columns.items()
                )
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {part} AS SELECT seq, product, services, "
                    f"category{extracted} FROM {scope} WHERE {' AND '.join(where)}"
                )
            # One statement for several rules: DuckDB plans and runs them together.
            for start in range(0, len(same_source), RULES_PER_STATEMENT):
                chunk = same_source[start : start + RULES_PER_STATEMENT]
                union = " UNION ALL ".join(
                    f"SELECT {quote(rule.id)} AS rule_id, seq "
                    f"FROM ({rule_sql(rule, part, columns)})"
                    for rule in chunk
                )
                self.con.execute(f"INSERT INTO matches {union}")
                queries += len(chunk)
            if part != scope:
                self.con.execute(f"DROP TABLE {part}")
        found: list[tuple[str, int, tuple[tuple[str, str], ...], int | None, int | None]] = []
        by_id = {r.id: r for r in self.ruleset.rules}
        for rule_id, seq in self.con.execute("SELECT rule_id, seq FROM matches").fetchall():
            found.append((rule_id, int(seq), (), None, None))
        for correlation in self.ruleset.correlations:
            queries += 1
            rows = self.con.execute(correlation_sql(correlation, scope)).fetchall()
            for seq, group, window, count in rows:
                pairs = tuple(zip(correlation.group_by, group or [], strict=True))
                found.append((correlation.id, int(seq), pairs, int(window), int(count)))
        total_row = self.con.execute(f"SELECT count(*) FROM {scope}").fetchall()[0]
        records = self._records({seq for _, seq, _, _, _ in found}, scope)
        infos = {c.id: c.info for c in self.ruleset.correlations}
        detections = []
        for rule_id, seq, group, window, count in found:
            record = records[seq]
            matched = by_id.get(rule_id)
            if matched is not None:
                detections.append(
                    Detection(
                        matched.info,
                        record.at,
                        record.origin,
                        record=record,
                        generate=matched.generate,
                    )
                )
            else:
                detections.append(
                    Detection(
                        infos[rule_id],
                        record.at,
                        record.origin,
                        kind="correlation",
                        group=group,
                        window=window,
                        count=count,
                        record=record,
                    )
                )
        detections.sort(key=lambda d: (d.record.seq if d.record else 0, d.kind, d.rule.id))
        return HuntResult(detections, int(total_row[0]) if total_row else 0, queries)

    def _records(self, seqs: set[int], table: str) -> dict[int, Record]:
        if not seqs:
            return {}
        # The wanted numbers as one Arrow column (``executemany`` inserts row by row: seconds
        # for a few thousand detections).
        wanted = pa.table({"seq": pa.array(sorted(seqs), pa.int64())})
        self.con.register("hunt_wanted", wanted)
        columns = ", ".join(RECORD_SCHEMA.names)
        try:
            rows = self.con.execute(
                f"SELECT {columns} FROM {table} WHERE seq IN (SELECT seq FROM hunt_wanted)"
            ).fetchall()
        finally:
            self.con.unregister("hunt_wanted")
        return {int(row[0]): record_of(row) for row in rows}


__all__ = [
    "RECORD_SCHEMA",
    "HuntEngine",
    "HuntResult",
    "correlation_sql",
    "records_table",
    "rule_sql",
]
