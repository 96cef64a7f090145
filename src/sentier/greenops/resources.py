"""What billing does not say about a resource: its instance type, how busy its CPUs were.

Two inputs, both keyed by the cloud ResourceId the billing lines carry:

- a CSV (``resource_id`` and any of ``period``, ``instance_type``, ``cpu_utilization`` as a
  fraction 0-1 or ``cpu_percent`` 0-100, ``samples``), e.g. exported from an inventory or a
  monitoring system;
- metric files as the AIOps metrics reader takes them (Prometheus text exposition, labelled
  CSV): samples of one metric are averaged per resource label and month.

The AIOps metrics store keeps no per-resource utilisation (it scans series for anomalies and
stores none), so this is the path by which measured averages replace the 50 % default.
Imports are stored per source and replace that source's previous import (idempotent).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sentier.greenops.errors import GreenOpsError

ALL_PERIODS = ""


@dataclass(frozen=True)
class ResourceFact:
    resource_id: str
    period: str = ALL_PERIODS
    instance_type: str | None = None
    cpu_utilization: float | None = None
    samples: int = 0


@dataclass
class ResourceFacts:
    """Resource facts merged over sources: lookups by resource id (and period)."""

    instance_types: dict[str, str] = field(default_factory=dict)
    utilization: dict[tuple[str, str], float] = field(default_factory=dict)
    fingerprint: str = "none"

    def utilization_of(self, resource_id: str | None, period: str) -> float | None:
        if not resource_id:
            return None
        found = self.utilization.get((resource_id, period))
        if found is None:
            found = self.utilization.get((resource_id, ALL_PERIODS))
        return found

    @classmethod
    def of(cls, facts: Iterable[ResourceFact]) -> ResourceFacts:
        import hashlib

        out = cls()
        digest = hashlib.sha1()
        for fact in facts:
            digest.update(repr(fact).encode("utf-8"))
            if fact.instance_type:
                out.instance_types[fact.resource_id] = fact.instance_type
            if fact.cpu_utilization is not None:
                out.utilization[(fact.resource_id, fact.period)] = fact.cpu_utilization
        out.fingerprint = digest.hexdigest()[:16]
        return out


def _period(value: str, *, file: str, line: int) -> str:
    text = value.strip()
    if not text:
        return ALL_PERIODS
    try:
        datetime.strptime(text, "%Y-%m")
    except ValueError as error:
        raise GreenOpsError(
            f"{text!r} is not a billing period (YYYY-MM)", file=file, line=line, field="period"
        ) from error
    return text


def _fraction(value: str, *, percent: bool, file: str, line: int, column: str) -> float | None:
    text = value.strip().rstrip("%")
    if not text:
        return None
    try:
        number = float(text)
    except ValueError as error:
        raise GreenOpsError(
            f"{value!r} is not a number", file=file, line=line, field=column
        ) from error
    if percent:
        number /= 100
    if not 0 <= number <= 1:
        expected = "0 to 100" if percent else "0 to 1 (use cpu_percent for percentages)"
        raise GreenOpsError(f"{value!r} is outside {expected}", file=file, line=line, field=column)
    return number


def read_resource_csv(path: Path) -> list[ResourceFact]:
    """Rows of a resource CSV; the first bad row stops the import with file, line and column."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise GreenOpsError(f"cannot read: {error.strerror}", file=name) from error
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "resource_id" not in header:
        raise GreenOpsError("missing column 'resource_id'", file=name, line=1, field="resource_id")
    if not {"instance_type", "cpu_utilization", "cpu_percent"} & set(header):
        raise GreenOpsError(
            "nothing to import: add instance_type, cpu_utilization or cpu_percent",
            file=name,
            line=1,
        )
    out: list[ResourceFact] = []
    seen: dict[tuple[str, str], int] = {}
    for row in reader:
        line = reader.line_num
        values = {str(k).strip().lower(): (v or "") for k, v in row.items() if k is not None}
        resource = values.get("resource_id", "").strip()
        if not resource:
            raise GreenOpsError("empty resource_id", file=name, line=line, field="resource_id")
        period = _period(values.get("period", ""), file=name, line=line)
        if (resource, period) in seen:
            raise GreenOpsError(
                f"{resource} {period or '(all periods)'} already given on line "
                f"{seen[(resource, period)]}",
                file=name,
                line=line,
                field="resource_id",
            )
        seen[(resource, period)] = line
        utilization = None
        if values.get("cpu_utilization", "").strip():
            utilization = _fraction(
                values["cpu_utilization"],
                percent=False,
                file=name,
                line=line,
                column="cpu_utilization",
            )
        elif values.get("cpu_percent", "").strip():
            utilization = _fraction(
                values["cpu_percent"], percent=True, file=name, line=line, column="cpu_percent"
            )
        samples_text = values.get("samples", "").strip()
        try:
            samples = int(samples_text) if samples_text else 0
        except ValueError as error:
            raise GreenOpsError(
                f"{samples_text!r} is not a count", file=name, line=line, field="samples"
            ) from error
        instance_type = values.get("instance_type", "").strip() or None
        out.append(ResourceFact(resource, period, instance_type, utilization, samples))
    return out


def read_metric_files(
    paths: Sequence[Path], *, metric: str, label: str = "resource_id", percent: bool = False
) -> tuple[list[ResourceFact], list[str]]:
    """Average CPU utilisation per resource and month from metric files (AIOps readers).

    Returns the facts and the problems met (malformed lines are counted, not fatal, as the
    AIOps ingestion does).
    """
    from sentier.aiops.errors import AIOpsError
    from sentier.aiops.metrics import parse_text

    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    problems: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise GreenOpsError(f"cannot read: {error.strerror}", file=str(path)) from error
        try:
            samples, report = parse_text(text, str(path))
        except AIOpsError as error:
            raise GreenOpsError(str(error)) from error
        problems += [str(e) for e in report.examples]
        for sample in samples:
            if sample.name != metric:
                continue
            labels = dict(sample.labels)
            resource = labels.get(label)
            if not resource:
                continue
            value = sample.value / 100 if percent else sample.value
            if not 0 <= value <= 1:
                problems.append(
                    f"{path}:{sample.line}: value {sample.value} outside "
                    + ("0-100" if percent else "0-1 (use --percent for percentages)")
                )
                continue
            period = sample.timestamp.strftime("%Y-%m") if sample.timestamp else ALL_PERIODS
            entry = sums[(resource, period)]
            entry[0] += value
            entry[1] += 1
    facts = [
        ResourceFact(resource, period, None, total / count, int(count))
        for (resource, period), (total, count) in sorted(sums.items())
        if count
    ]
    return facts, problems


def store_resource_facts(
    session: Session, source: str, facts: Sequence[ResourceFact]
) -> dict[str, Any]:
    """Replace ``source``'s facts with ``facts`` (one transaction, with its event)."""
    from sentier import events
    from sentier.events import types
    from sentier.store import bulk_insert
    from sentier.store.models import GreenopsResourceFact
    from sentier.store.models.base import utcnow

    table = GreenopsResourceFact.__table__
    session.execute(delete(GreenopsResourceFact).where(GreenopsResourceFact.source == source))
    now = utcnow()
    bulk_insert(
        session,
        table,  # type: ignore[arg-type]
        [
            {
                "source": source,
                "resource_id": f.resource_id,
                "period": f.period,
                "instance_type": f.instance_type,
                "cpu_utilization": f.cpu_utilization,
                "samples": f.samples,
                "updated_at": now,
            }
            for f in facts
        ],
    )
    summary = {
        "source": source,
        "rows": len(facts),
        "resources": len({f.resource_id for f in facts}),
        "periods": sorted({f.period for f in facts if f.period}),
        "with_instance_type": sum(1 for f in facts if f.instance_type),
        "with_utilization": sum(1 for f in facts if f.cpu_utilization is not None),
    }
    events.record(
        session, types.GREENOPS_RESOURCES_IMPORTED, f"greenops:resources/{source}", summary
    )
    return summary


def load_resource_facts(session: Session) -> ResourceFacts:
    """Every source merged; for one resource and period, the most recent import wins."""
    from sentier.store.models import GreenopsResourceFact

    rows = session.execute(
        select(
            GreenopsResourceFact.resource_id,
            GreenopsResourceFact.period,
            GreenopsResourceFact.instance_type,
            GreenopsResourceFact.cpu_utilization,
            GreenopsResourceFact.samples,
        ).order_by(GreenopsResourceFact.updated_at, GreenopsResourceFact.id)
    ).all()
    return ResourceFacts.of(ResourceFact(r[0], r[1], r[2], r[3], r[4]) for r in rows)


def resource_sources(session: Session) -> list[dict[str, Any]]:
    """What was imported, per source."""
    from sqlalchemy import func

    from sentier.store.models import GreenopsResourceFact

    t = GreenopsResourceFact
    rows = session.execute(
        select(
            t.source,
            func.count(),
            func.count(t.instance_type),
            func.count(t.cpu_utilization),
            func.max(t.updated_at),
        )
        .group_by(t.source)
        .order_by(t.source)
    ).all()
    return [
        {
            "source": r[0],
            "rows": r[1],
            "with_instance_type": r[2],
            "with_utilization": r[3],
            "updated_at": r[4].isoformat() if r[4] else None,
        }
        for r in rows
    ]
