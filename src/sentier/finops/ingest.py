"""FOCUS ingestion: billing files in, Parquet facts out, a billing period replaced atomically.

Each file is read once by DuckDB through the normalising query (``normalise``), streamed in
Arrow batches and split into two tables per billing period and billing account (a *slice*):

- ``lines``: one narrow row per charge (dates, costs, quantities, ``line_key``);
- ``keys``: one row per distinct description of a charge (account, resource, service, SKU,
  tags and the tagging plan's keys as columns), shared by all charges with that ``line_key``.

Reports group the narrow lines by ``line_key`` first and join the few keys after, which is
what keeps showback sub-second on 10 million lines.

A file with an error is quarantined: none of its rows land, and the slices it shares with
other files of the run are held back rather than replaced by a partial month. Every other
slice the run covers replaces the stored one in one manifest swap, together with the
bookkeeping rows and CloudEvents of the run in the same SQL transaction.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Engine, select

from sentier.analytics import Dataset, FactStore, Slice
from sentier.finops.adapters import PROVIDER_FORMATS, source_columns
from sentier.finops.columns import (
    LINE_KEY,
    PERIOD,
    key_columns,
    keys_schema,
    line_columns,
)
from sentier.finops.errors import FinOpsError, Problem
from sentier.finops.normalise import ERRORS, SLICE, WARNINGS, Plan, build_plan
from sentier.finops.sources import (
    ParallelRefused,
    check_parallel,
    describe,
    discover,
    reader_sql,
    reading_error,
    reading_errors,
    sql_literal,
)
from sentier.finops.tags import TagCache, add_tag_columns, plan_or_default
from sentier.tagging import TaggingPlan

DATASET = "finops"
BATCH_ROWS = 65_536
ROW_GROUP_ROWS = 262_144
MAX_REPORTED_ROWS = 5
MONTHLY_SUMS = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "ConsumedQuantity",
    "PricingQuantity",
)

Progress = Callable[[str, int], None]


@dataclass
class FileReport:
    """What happened to one file: ``landed``, ``quarantined`` or ``held`` (see module doc)."""

    path: str
    sha256: str = ""
    size: int = 0
    status: str = "landed"
    version: str | None = None
    rows: int = 0
    periods: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # currency -> {"billed": Decimal, "effective": Decimal}
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.status,
            "version": self.version,
            "rows": self.rows,
            "periods": self.periods,
            "problems": [p.as_dict() for p in self.problems],
            "totals": _json_totals(self.totals),
        }


@dataclass
class SliceReport:
    period: str
    slice_id: str
    provider: str | None
    billing_account: str | None
    rows: int
    totals: dict[str, dict[str, Decimal]]
    status: str = "replaced"  # or "held"


@dataclass
class IngestReport:
    ingestion_id: int | None
    files: list[FileReport]
    slices: list[SliceReport]

    @property
    def ok(self) -> bool:
        return all(f.status == "landed" for f in self.files)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.slices if s.status == "replaced")

    @property
    def status(self) -> str:
        landed = sum(1 for f in self.files if f.status == "landed")
        if landed == len(self.files):
            return "landed"
        return "partial" if landed else "quarantined"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ingestion_id": self.ingestion_id,
            "status": self.status,
            "rows": self.rows,
            "files": [f.as_dict() for f in self.files],
            "slices": [
                {
                    "period": s.period,
                    "slice": s.slice_id,
                    "provider": s.provider,
                    "billing_account": s.billing_account,
                    "rows": s.rows,
                    "status": s.status,
                    "totals": _json_totals(s.totals),
                }
                for s in self.slices
            ],
        }


def _json_totals(totals: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, str]]:
    return {cur: {k: str(v) for k, v in values.items()} for cur, values in totals.items()}


def slice_id_of(slice_text: str) -> str:
    """A short stable name for a (provider, billing account) pair, usable in file names."""
    return hashlib.sha1(slice_text.encode("utf-8")).hexdigest()[:12]


def _slice_parts(slice_text: str) -> tuple[str | None, str | None]:
    """(provider, billing account) of a slice; a file-named slice has neither."""
    kind, _, rest = slice_text.partition("|")
    if kind == "file":
        return None, None
    return kind or None, rest or None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def connect_duckdb(temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for ingestion: UTC, bounded memory, spilling under SENTIER_HOME."""
    from sentier.analytics.connection import DEFAULT_MEMORY_LIMIT

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    con.execute(f"SET memory_limit='{DEFAULT_MEMORY_LIMIT}'")
    if temp_dir is not None:
        con.execute(f"SET temp_directory='{temp_dir}'")
    return con


# -- streaming one file ------------------------------------------------------------------------


class _SliceWriter:
    """Parquet writers of one slice for one file: lines appended, new keys appended."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.lines_path = directory / f"lines-{stem}.parquet"
        self.keys_path = directory / f"rawkeys-{stem}.parquet"
        self._lines: pq.ParquetWriter | None = None
        self._keys: pq.ParquetWriter | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self.seen = np.empty(0, dtype=np.int64)
        self.rows = 0

    def add(self, lines: pa.Table, keys: pa.Table) -> None:
        # Copy now: Arrow arrays from DuckDB keep their whole (wide) batch alive otherwise.
        self._pending.append(pa.concat_tables([lines, lines.slice(0, 0)]).combine_chunks())
        self._pending_rows += len(lines)
        self.rows += len(lines)
        if self._pending_rows >= ROW_GROUP_ROWS:
            self.flush()
        # Most batches describe charges already seen: a binary search in the sorted keys seen
        # so far drops those, then the first row of each new key is kept.
        values = keys.column(LINE_KEY).to_numpy()
        if len(self.seen):
            position = np.searchsorted(self.seen, values)
            known = self.seen[np.minimum(position, len(self.seen) - 1)] == values
            if known.all():
                return
            unseen = np.flatnonzero(~known)
            unique, first = np.unique(values[unseen], return_index=True)
            rows = unseen[first]
        else:
            unique, rows = np.unique(values, return_index=True)
        self.seen = np.union1d(self.seen, unique)
        fresh = keys.take(pa.array(rows))
        if self._keys is None:
            self._keys = pq.ParquetWriter(self.keys_path, fresh.schema, compression="lz4")
        self._keys.write_table(fresh)

    def flush(self) -> None:
        if not self._pending:
            return
        table = pa.concat_tables(self._pending).combine_chunks()
        self._pending, self._pending_rows = [], 0
        if self._lines is None:
            self._lines = pq.ParquetWriter(
                self.lines_path,
                table.schema,
                compression="zstd",
                store_decimal_as_integer=True,
                write_statistics=[PERIOD, "ChargePeriodStart", "BillingPeriodStart"],
            )
        self._lines.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> None:
        self.flush()
        if self._lines is not None:
            self._lines.close()
        if self._keys is not None:
            self._keys.close()

    def discard(self) -> None:
        self._pending = []
        for writer in (self._lines, self._keys):
            if writer is not None:
                writer.close()
        for path in (self.lines_path, self.keys_path):
            path.unlink(missing_ok=True)


@dataclass
class _FileResult:
    report: FileReport
    # (period, slice text) -> writer
    writers: dict[tuple[str, str], _SliceWriter] = field(default_factory=dict)
    slice_totals: dict[tuple[str, str], dict[str, dict[str, Decimal]]] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)


def _add_totals(
    target: dict[str, dict[str, Decimal]], currency: str, billed: Decimal, effective: Decimal
) -> None:
    entry = target.setdefault(currency, {"billed": Decimal(0), "effective": Decimal(0)})
    entry["billed"] += billed
    entry["effective"] += effective


def _stream_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    plan: Plan,
    staging: Path,
    file_index: int,
    progress: Progress | None,
) -> _FileResult:
    """Stream one file into staged Parquet; on any error, nothing of it stays staged."""
    result = _FileResult(FileReport(str(path)))
    try:
        _stream_into(result, con, path, plan, staging, file_index, progress)
    except BaseException:
        for writer in result.writers.values():
            writer.discard()
        result.writers.clear()
        raise
    return result


def _stream_into(
    result: _FileResult,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    plan: Plan,
    staging: Path,
    file_index: int,
    progress: Progress | None,
) -> None:
    report = result.report
    line_names = [PERIOD, LINE_KEY] + [c.name for c in line_columns()]
    key_names = [PERIOD, LINE_KEY] + [c.name for c in key_columns()]
    warnings = 0
    currencies: dict[tuple[str, str], set[str]] = defaultdict(set)
    reader = con.sql(plan.select_sql).to_arrow_reader(BATCH_ROWS)
    failed = False
    for batch in reader:
        table = pa.Table.from_batches([batch])
        if pc.any(pc.not_equal(table.column(ERRORS), 0)).as_py():
            failed = True
            break
        warnings += pc.sum(pc.not_equal(table.column(WARNINGS), 0).cast(pa.int64())).as_py() or 0
        periods = pc.unique(table.column(PERIOD)).to_pylist()
        slices = pc.unique(table.column(SLICE)).to_pylist()
        if len(periods) == 1 and len(slices) == 1:
            pairs = [(periods[0], slices[0])]
        else:
            parts = table.group_by([PERIOD, SLICE]).aggregate([])
            pairs = list(
                zip(parts.column(PERIOD).to_pylist(), parts.column(SLICE).to_pylist(), strict=True)
            )
        for period, slice_text in pairs:
            part = (
                table
                if len(pairs) == 1
                else table.filter(
                    pc.and_(
                        pc.equal(table.column(PERIOD), period),
                        pc.equal(table.column(SLICE), slice_text),
                    )
                )
            )
            key = (period, slice_text)
            writer = result.writers.get(key)
            if writer is None:
                stem = f"{file_index:04d}-{slice_id_of(slice_text)}-{period}"
                writer = result.writers[key] = _SliceWriter(staging, stem)
            writer.add(part.select(line_names), part.select(key_names))
        report.rows += len(table)
        if progress:
            progress(str(path), report.rows)
    reader.close()
    for writer in result.writers.values():
        writer.close() if not failed else writer.discard()
    if failed:
        result.writers.clear()
        report.problems.extend(_diagnose(con, path, plan))
        result.touched = _touched_slices(con, plan)
        return
    # Totals per slice and currency, from the files just written (narrow, fast to read).
    for key, writer in result.writers.items():
        if not writer.keys_path.exists():
            continue
        sums = con.execute(
            f"SELECT k.BillingCurrency, k.BillingAccountId, sum(l.BilledCost), "
            f"sum(l.EffectiveCost) FROM read_parquet({sql_literal(str(writer.lines_path))}) l "
            f"JOIN read_parquet({sql_literal(str(writer.keys_path))}) k USING ({LINE_KEY}) "
            f"GROUP BY ALL"
        ).fetchall()
        slice_totals = result.slice_totals.setdefault(key, {})
        for currency, account, billed, effective in sums:
            currencies[(key[0], account or "")].add(currency)
            _add_totals(slice_totals, currency, billed, effective)
            _add_totals(report.totals, currency, billed, effective)
    for (period, account), found in sorted(currencies.items()):
        if len(found) > 1:
            report.problems.append(
                Problem(
                    "error",
                    f"billing account {account or '(none)'} has lines in several currencies in "
                    f"{period}: {', '.join(sorted(found))}",
                    file=str(path),
                    column="BillingCurrency",
                )
            )
    if warnings:
        report.problems.extend(_diagnose(con, path, plan, severity="warning"))
    report.periods = sorted({period for period, _ in result.writers})
    result.touched = set(result.writers)


def _diagnose(
    con: duckdb.DuckDBPyConnection, path: Path, plan: Plan, *, severity: str = "error"
) -> list[Problem]:
    """Per failed check: how many rows, and the first rows with their offending values."""
    checks = [c for c in plan.checks if c.severity == severity]
    mask = ERRORS if severity == "error" else WARNINGS
    counts_sql = ", ".join(f"count(*) FILTER (WHERE ({mask} & {1 << c.bit}) <> 0)" for c in checks)
    counts = con.execute(f"SELECT {counts_sql} FROM ({plan.diagnostic_sql})").fetchone() or ()
    problems: list[Problem] = []
    for check, count in zip(checks, counts, strict=True):
        if not count:
            continue
        raw = check.raw or "NULL"
        rows = con.execute(
            f"SELECT __row, CAST({raw} AS VARCHAR) FROM ({plan.diagnostic_sql}) "
            f"WHERE ({mask} & {1 << check.bit}) <> 0 ORDER BY __row LIMIT {MAX_REPORTED_ROWS}"
        ).fetchall()
        first_row, first_value = rows[0]
        shown = f"{first_value!r} " if first_value is not None else ""
        problems.append(
            Problem(
                severity,  # type: ignore[arg-type]
                f"{shown}{check.message}",
                file=str(path),
                row=int(first_row),
                column=check.column,
                count=int(count),
            )
        )
    return problems


def _touched_slices(con: duckdb.DuckDBPyConnection, plan: Plan) -> set[tuple[str, str]]:
    try:
        rows = con.execute(
            f"SELECT DISTINCT {PERIOD}, {SLICE} FROM ({plan.select_sql}) WHERE {PERIOD} IS NOT NULL"
        ).fetchall()
    except reading_errors():
        return set()
    return {(str(p), str(s)) for p, s in rows}


# -- the run ----------------------------------------------------------------------------------


def ingest(
    engine: Engine,
    paths: Sequence[Path],
    *,
    provider_format: str = "focus",
    tagging_plan: TaggingPlan | None = None,
    default_currency: str | None = None,
    store: FactStore | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest billing files (or directories of them) into the fact store.

    Raises ``FinOpsError`` only for a run that cannot start (no such path, unknown format);
    problems with a file quarantine that file and are in the report.
    """
    if provider_format not in PROVIDER_FORMATS:
        raise FinOpsError(
            f"unknown provider format {provider_format!r}; "
            f"expected one of {', '.join(PROVIDER_FORMATS)}"
        )
    files = discover(list(paths))
    if not files:
        raise FinOpsError(f"no billing files found in {', '.join(str(p) for p in paths)}")
    plan_of_tags = tagging_plan or plan_or_default()
    store = store or FactStore.default()
    dataset = store.dataset(DATASET)
    staging = dataset.staging()
    temp = Path(tempfile.mkdtemp(prefix="duckdb-", dir=staging))
    con = connect_duckdb(temp)
    try:
        results = [
            _read_file(con, path, index, staging, provider_format, default_currency, progress)
            for index, path in enumerate(files)
        ]
        return _commit(engine, dataset, staging, results, plan_of_tags, provider_format, con)
    finally:
        con.close()
        shutil.rmtree(staging, ignore_errors=True)


def _read_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    index: int,
    staging: Path,
    provider_format: str,
    default_currency: str | None,
    progress: Progress | None,
) -> _FileResult:
    """Read one file, with DuckDB's parallel CSV reader first and its sequential one when the
    parallel one refuses the file (see ``sources``); any reader error quarantines the file."""
    try:
        digest, size = _sha256(path), path.stat().st_size
    except OSError as error:
        report = FileReport(str(path), status="quarantined")
        reason = error.strerror or type(error).__name__
        report.problems.append(Problem("error", f"cannot read the file: {reason}", file=str(path)))
        return _FileResult(report)
    read = (con, path, index, staging, provider_format, default_currency, progress)
    try:
        return _read_with(*read, FileReport(str(path), sha256=digest, size=size), parallel=True)
    except ParallelRefused:
        return _read_with(*read, FileReport(str(path), sha256=digest, size=size), parallel=False)


def _read_with(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    index: int,
    staging: Path,
    provider_format: str,
    default_currency: str | None,
    progress: Progress | None,
    report: FileReport,
    *,
    parallel: bool,
) -> _FileResult:
    try:
        columns = describe(con, path, parallel=parallel)
        mapping, unknown = source_columns(provider_format, columns, file=str(path))
        plan = build_plan(
            mapping,
            source_sql=reader_sql(path, parallel=parallel),
            file=str(path),
            default_currency=default_currency,
            unknown=unknown,
        )
    except FinOpsError as error:
        report.status = "quarantined"
        report.problems.append(
            Problem(
                "error",
                error.message,
                file=str(path),
                row=error.row,
                column=error.column,
            )
        )
        return _FileResult(report)
    report.version = plan.version
    if any(p.severity == "error" for p in plan.problems):
        report.status = "quarantined"
        report.problems.extend(plan.problems)
        return _FileResult(report)
    try:
        result = _stream_file(con, path, plan, staging, index, progress)
    except reading_errors() as error:
        check_parallel(error, parallel)
        located = reading_error(error, path)
        report.status = "quarantined"
        report.problems.extend(plan.problems)
        report.problems.append(Problem("error", located.message, file=str(path), row=located.row))
        return _FileResult(report)
    result.report.sha256, result.report.size = report.sha256, report.size
    result.report.version = plan.version
    result.report.problems[:0] = plan.problems
    if result.report.errors:
        result.report.status = "quarantined"
        for writer in result.writers.values():
            writer.discard()
        result.writers.clear()
    return result


def _commit(
    engine: Engine,
    dataset: Dataset,
    staging: Path,
    results: list[_FileResult],
    tagging_plan: TaggingPlan,
    provider_format: str,
    con: duckdb.DuckDBPyConnection,
) -> IngestReport:
    from sentier import events
    from sentier.events import types as event_types
    from sentier.store import session_scope
    from sentier.store.models import FinopsFile, FinopsIngestion, FinopsSlice

    held = {key for r in results if r.report.status == "quarantined" for key in r.touched}
    by_slice: dict[tuple[str, str], list[_SliceWriter]] = defaultdict(list)
    slice_totals: dict[tuple[str, str], dict[str, dict[str, Decimal]]] = {}
    for result in results:
        for key, writer in result.writers.items():
            if key in held:
                result.report.status = "held"
                continue
            by_slice[key].append(writer)
            target = slice_totals.setdefault(key, {})
            for currency, values in result.slice_totals.get(key, {}).items():
                _add_totals(target, currency, values["billed"], values["effective"])
    for result in results:
        if result.report.status == "held":
            result.report.problems.append(
                Problem(
                    "warning",
                    "not landed: it shares a billing period and account with a quarantined "
                    "file of this run, which would have left the period incomplete",
                    file=result.report.path,
                )
            )

    replacements: dict[tuple[str, str], Slice] = {}
    slice_reports: list[SliceReport] = []
    tag_cache: TagCache = {}
    for (period, slice_text), writers in sorted(by_slice.items()):
        slice_id = slice_id_of(slice_text)
        keys_path = staging / f"keys-{slice_id}-{period}-{uuid.uuid4().hex[:8]}.parquet"
        _finish_keys([w.keys_path for w in writers], keys_path, tagging_plan, tag_cache)
        monthly_path = staging / f"monthly-{slice_id}-{period}-{uuid.uuid4().hex[:8]}.parquet"
        _write_monthly(con, [w.lines_path for w in writers], monthly_path)
        provider, account = _slice_parts(slice_text)
        rows = sum(w.rows for w in writers)
        totals = slice_totals.get((period, slice_text), {})
        replacements[(period, slice_id)] = Slice(
            {
                "lines": [str(w.lines_path.relative_to(dataset.root)) for w in writers],
                "keys": [str(keys_path.relative_to(dataset.root))],
                "monthly": [str(monthly_path.relative_to(dataset.root))],
            },
            rows,
            {
                "provider": provider,
                "billing_account": account,
                "source": slice_text,
                "totals": _json_totals(totals),
            },
        )
        slice_reports.append(SliceReport(period, slice_id, provider, account, rows, totals))
    for period, slice_text in sorted(held):
        provider, account = _slice_parts(slice_text)
        slice_reports.append(
            SliceReport(period, slice_id_of(slice_text), provider, account, 0, {}, "held")
        )

    reports = [r.report for r in results]
    report = IngestReport(None, reports, slice_reports)
    with dataset.lock():
        previous = None
        try:
            with session_scope(engine) as session:
                ingestion = FinopsIngestion(
                    provider_format=provider_format,
                    status=report.status,
                    files=len(reports),
                    rows=report.rows,
                    summary={
                        "periods": sorted(
                            {s.period for s in slice_reports if s.status == "replaced"}
                        ),
                        "quarantined": [f.path for f in reports if f.status == "quarantined"],
                        "held": [f.path for f in reports if f.status == "held"],
                    },
                )
                session.add(ingestion)
                session.flush()
                report.ingestion_id = ingestion.id
                for file_report in reports:
                    session.add(
                        FinopsFile(
                            ingestion_id=ingestion.id,
                            path=file_report.path,
                            sha256=file_report.sha256,
                            size=file_report.size,
                            status=file_report.status,
                            focus_version=file_report.version,
                            rows=file_report.rows,
                            periods=file_report.periods,
                            problems=[p.as_dict() for p in file_report.problems[:50]],
                            totals=_json_totals(file_report.totals),
                        )
                    )
                for item in slice_reports:
                    if item.status != "replaced":
                        continue
                    row = session.scalar(
                        select(FinopsSlice).where(
                            FinopsSlice.period == item.period, FinopsSlice.slice_id == item.slice_id
                        )
                    )
                    if row is None:
                        row = FinopsSlice(period=item.period, slice_id=item.slice_id)
                        session.add(row)
                    row.provider, row.billing_account = item.provider, item.billing_account
                    row.rows, row.totals = item.rows, _json_totals(item.totals)
                    row.ingestion_id = ingestion.id
                    from sentier.store.models import utcnow

                    row.updated_at = utcnow()
                pending = [
                    events.PendingEvent(
                        event_types.FINOPS_FILE_QUARANTINED,
                        f"finops:file:{f.path}",
                        {
                            "path": f.path,
                            "sha256": f.sha256,
                            "errors": [p.as_dict() for p in f.errors[:20]],
                        },
                    )
                    for f in reports
                    if f.status == "quarantined"
                ]
                pending.append(
                    events.PendingEvent(
                        event_types.FINOPS_INGESTION_COMPLETED,
                        f"finops:ingestion:{ingestion.id}",
                        {
                            "ingestion_id": ingestion.id,
                            "status": report.status,
                            "rows": report.rows,
                            "files": {
                                status: sum(1 for f in reports if f.status == status)
                                for status in ("landed", "quarantined", "held")
                            },
                            "slices": [
                                {
                                    "period": s.period,
                                    "provider": s.provider,
                                    "billing_account": s.billing_account,
                                    "rows": s.rows,
                                    "status": s.status,
                                    "totals": _json_totals(s.totals),
                                }
                                for s in slice_reports
                            ],
                        },
                    )
                )
                events.record_many(session, pending)
                session.flush()
                previous = dataset.commit(replacements)
        except BaseException:
            if previous is not None:
                dataset.restore(previous)
            raise
    _remove_replaced(dataset, previous, replacements)
    return report


def _write_monthly(con: duckdb.DuckDBPyConnection, lines: list[Path], target: Path) -> None:
    """The slice's lines summed per ``line_key``: whole-month reports read this, not lines."""
    files = "[" + ", ".join(sql_literal(str(p)) for p in lines) + "]"
    con.execute(
        f"COPY (SELECT {PERIOD}, {LINE_KEY}, "
        + ", ".join(f'sum("{c}") AS "{c}"' for c in MONTHLY_SUMS)
        + f", count(*) AS lines FROM read_parquet({files}) GROUP BY ALL ORDER BY {LINE_KEY}) "
        f"TO {sql_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)"
    )


def _finish_keys(raw_paths: list[Path], target: Path, plan: TaggingPlan, cache: TagCache) -> None:
    """Merge the new keys of a slice's files, drop duplicates, add the tagging plan's columns."""
    tables = [pq.read_table(path) for path in raw_paths if path.exists()]
    schema = keys_schema(list(plan.keys))
    if not tables:
        pq.write_table(schema.empty_table(), target)
        return
    keys = pa.concat_tables(tables)
    _, first = np.unique(keys.column(LINE_KEY).to_numpy(), return_index=True)
    keys = keys.take(pa.array(np.sort(first)))
    keys = add_tag_columns(keys, plan, cache).select(schema.names).cast(schema)
    pq.write_table(keys, target, compression="zstd")
    for path in raw_paths:
        path.unlink(missing_ok=True)


def _remove_replaced(
    dataset: Dataset, previous: Any, replacements: dict[tuple[str, str], Slice]
) -> None:
    """Retire the files of the slices this run replaced: a report that read the previous
    manifest (here or in another server) may still open them; a later commit removes them."""
    if previous is None:
        return
    current = {
        relative
        for _, _, item in dataset.manifest().slices()
        for relatives in item.tables.values()
        for relative in relatives
    }
    retired = []
    for period, slice_id in replacements:
        old = previous.partitions.get(period, {}).get(slice_id)
        if old is None:
            continue
        for relatives in old.tables.values():
            retired += [relative for relative in relatives if relative not in current]
    dataset.retire(retired)
