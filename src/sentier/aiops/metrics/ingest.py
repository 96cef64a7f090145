"""Reading metric samples: Prometheus text exposition, labelled CSV, plain timestamp,value CSV.

Hand-written rather than prometheus_client's parser: that one stops at the first bad line
and keeps no line numbers, while an ingestion here must count a malformed line, say where it
was, and carry on with the next.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sentier.aiops.errors import AIOpsError

MAX_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of one series; ``series`` is a stable key built from name and labels."""

    name: str
    labels: tuple[tuple[str, str], ...]
    timestamp: datetime | None
    value: float
    line: int

    @property
    def series(self) -> str:
        if not self.labels:
            return self.name
        inner = ",".join(f'{k}="{v}"' for k, v in self.labels)
        return f"{self.name}{{{inner}}}"


@dataclass
class IngestReport:
    source: str
    lines: int = 0
    samples: int = 0
    malformed: int = 0
    examples: list[AIOpsError] = field(default_factory=list)

    def bad(self, line: int, message: str, field_name: str | None = None) -> None:
        self.malformed += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(AIOpsError(message, file=self.source, line=line, field=field_name))

    def as_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "lines": self.lines,
            "samples": self.samples,
            "malformed": self.malformed,
            "examples": [str(e) for e in self.examples],
        }


_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?\s*$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(value: str) -> str:
    return value.replace(r"\"", '"').replace(r"\n", "\n").replace(r"\\", "\\")


def _float(text: str) -> float:
    lowered = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    return float(text)


def parse_prometheus(lines: Iterable[str], report: IngestReport) -> Iterator[Sample]:
    """Samples of the Prometheus text exposition format (timestamps in milliseconds)."""
    for number, raw in enumerate(lines, start=1):
        report.lines += 1
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        found = _METRIC.match(line)
        if not found:
            report.bad(number, f"not a sample line: {line[:80]!r}")
            continue
        name, _, inner, value_text, stamp = found.groups()
        labels: list[tuple[str, str]] = []
        if inner:
            position = 0
            ok = True
            while position < len(inner):
                label = _LABEL.match(inner, position)
                if not label:
                    ok = False
                    break
                labels.append((label.group(1), _unescape(label.group(2))))
                position = label.end()
            if not ok:
                report.bad(number, f"bad labels {{{inner[:60]}}}", "labels")
                continue
        try:
            value = _float(value_text)
        except ValueError:
            report.bad(number, f"value is not a number: {value_text!r}", "value")
            continue
        timestamp = datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp else None
        report.samples += 1
        yield Sample(name, tuple(sorted(labels)), timestamp, value, number)


def parse_timestamp(text: str) -> datetime:
    """Unix seconds or milliseconds, or ISO 8601 (naive means UTC)."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if number > 1e11:
        number /= 1000.0
    return datetime.fromtimestamp(number, UTC)


def parse_csv(text_lines: Iterable[str], report: IngestReport) -> Iterator[Sample]:
    """CSV with ``timestamp`` and ``value`` columns; any other column is a label of the series.

    ``__name__`` (or ``metric``/``name``) names the series, as in a Prometheus remote-read
    export; without one the file name does.
    """
    reader = csv.reader(text_lines)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    report.lines += 1
    lowered = [h.lower() for h in header]
    if "timestamp" not in lowered or "value" not in lowered:
        raise AIOpsError(
            "a metrics CSV needs 'timestamp' and 'value' columns", file=report.source, line=1
        )
    t_index, v_index = lowered.index("timestamp"), lowered.index("value")
    name_index = next(
        (lowered.index(n) for n in ("__name__", "metric", "name") if n in lowered), None
    )
    label_columns = [
        (i, h) for i, h in enumerate(header) if i not in (t_index, v_index, name_index)
    ]
    default_name = report.source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    for number, row in enumerate(reader, start=2):
        report.lines += 1
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            report.bad(number, f"{len(row)} columns where the header has {len(header)}")
            continue
        try:
            timestamp = parse_timestamp(row[t_index])
        except (ValueError, OverflowError, OSError):
            report.bad(number, f"bad timestamp {row[t_index]!r}", "timestamp")
            continue
        try:
            value = _float(row[v_index])
        except ValueError:
            report.bad(number, f"value is not a number: {row[v_index]!r}", "value")
            continue
        name = row[name_index].strip() if name_index is not None else default_name
        labels = tuple(sorted((h, row[i].strip()) for i, h in label_columns if row[i].strip()))
        report.samples += 1
        yield Sample(name, labels, timestamp, value, number)


def sniff_format(first_line: str) -> str:
    """``csv`` when the first line is a CSV header with a timestamp column, else ``prom``."""
    lowered = first_line.lower()
    return "csv" if "," in lowered and "timestamp" in lowered else "prom"


def parse_text(text: str, source: str, fmt: str | None = None) -> tuple[list[Sample], IngestReport]:
    report = IngestReport(source)
    lines = io.StringIO(text)
    first = text.split("\n", 1)[0]
    kind = fmt or sniff_format(first)
    parser = parse_csv if kind == "csv" else parse_prometheus
    return list(parser(lines, report)), report
