"""Streaming a log file through a header format and the miner, and writing Loghub's CSVs.

A line that does not have the header is counted and reported by file and line, never fatal;
the structured CSV lists the lines that did, each with its FINAL template (templates sharpen
as the miner sees more, so the file is written after the last line, from a second read).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sentier.aiops.errors import AIOpsError
from sentier.aiops.logs.detect import Detection, HeaderFormat, catalogue, resolve_format
from sentier.aiops.logs.miner import Mined, MinerSettings, TemplateMiner
from sentier.csvsafe import write_rows

MAX_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class ParsedLine:
    line: int
    fields: dict[str, str]
    content: str
    mined: Mined


@dataclass
class ParseReport:
    """What a run saw: lines read, parsed, malformed (with the first few, by line)."""

    source: str
    lines: int = 0
    parsed: int = 0
    malformed: int = 0
    examples: list[AIOpsError] = field(default_factory=list)
    headers: Detection | None = None

    def note_malformed(self, line: int, text: str, reason: str) -> None:
        self.malformed += 1
        if len(self.examples) < MAX_EXAMPLES:
            preview = text if len(text) <= 120 else text[:117] + "..."
            self.examples.append(AIOpsError(f"{reason}: {preview!r}", file=self.source, line=line))

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "lines": self.lines,
            "parsed": self.parsed,
            "malformed": self.malformed,
            "examples": [str(e) for e in self.examples],
            "headers": self.headers.as_dict() if self.headers else None,
        }


def read_lines(path: Path) -> Iterator[str]:
    """Lines of a text file without their ends; undecodable bytes are replaced, not fatal."""
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        for raw in handle:
            yield raw.rstrip("\r\n")


def parse_stream(
    lines: Iterable[str],
    miner: TemplateMiner,
    report: ParseReport,
    log_format: HeaderFormat | None = None,
) -> Iterator[ParsedLine]:
    """Mine each record's message; header-less ones go to ``report`` and are skipped."""
    records = log_format.records(lines) if log_format else enumerate(lines, start=1)
    for number, text in records:
        report.lines += 1
        if log_format is None:
            fields: dict[str, str] = {}
            content = text.strip()
        else:
            split = log_format.split(text)
            if split is None:
                report.note_malformed(number, text, "line does not match the log format")
                continue
            fields = split
            content = split.get("Content", "").strip()
        if not content:
            report.note_malformed(number, text, "empty message")
            continue
        report.parsed += 1
        yield ParsedLine(number, fields, content, miner.add(content))


def first_lines(path: Path, count: int | None = None) -> list[str]:
    """The first lines of a file, to tell its header format from."""
    wanted = count or catalogue().sample_lines
    found: list[str] = []
    try:
        for line in read_lines(path):
            found.append(line)
            if len(found) >= wanted:
                break
    except OSError as error:
        raise AIOpsError(f"cannot read: {error}", file=str(path)) from error
    return found


def load_settings(path: Path) -> MinerSettings:
    """Per-source settings from a YAML file (similarity, extra_masks, ...)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise AIOpsError(f"cannot read settings: {error}", file=str(path)) from error
    if not isinstance(data, dict):
        raise AIOpsError("settings must be a mapping", file=str(path))
    try:
        return MinerSettings.from_dict(data)
    except AIOpsError as error:
        raise AIOpsError(error.message, file=str(path), field=error.field) from error


@dataclass
class FileResult:
    report: ParseReport
    miner: TemplateMiner


def parse_file(
    path: Path,
    miner: TemplateMiner,
    *,
    log_format: str | None = None,
    structured: Path | None = None,
    templates: Path | None = None,
) -> FileResult:
    """Mine a whole file; optionally write the structured and templates CSVs (Loghub style).

    ``log_format``: a format in the Loghub notation, a name from ``header-formats.yaml``,
    ``none`` (whole lines are messages), or None / ``auto``: detected from the first lines.
    """
    sampled = log_format in (None, "auto", "json-lines", "journald-export")
    detection = resolve_format(log_format, first_lines(path) if sampled else [])
    compiled = detection.format
    report = ParseReport(str(path), headers=detection)
    numbers = array("L")
    signatures = array("L")
    try:
        for parsed in parse_stream(read_lines(path), miner, report, compiled):
            if structured is not None:
                numbers.append(parsed.line)
                signatures.append(parsed.mined.signature)
    except OSError as error:
        raise AIOpsError(f"cannot read: {error}", file=str(path)) from error
    miner.refresh()
    if structured is not None:
        _write_structured(path, structured, compiled, miner, numbers, signatures)
    if templates is not None:
        write_templates(templates, miner)
    return FileResult(report, miner)


def event_id(template_id: int) -> str:
    return f"E{template_id}"


def _write_structured(
    source: Path,
    target: Path,
    log_format: HeaderFormat | None,
    miner: TemplateMiner,
    numbers: array[int],
    signatures: array[int],
) -> None:
    header_fields = [f for f in (log_format.fields if log_format else ()) if f != "Content"]
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = read_lines(source)
    records = log_format.records(lines) if log_format else enumerate(lines, start=1)

    def rows() -> Iterator[list[Any]]:
        wanted = iter(zip(numbers, signatures, strict=True))
        next_wanted = next(wanted, None)
        for number, text in records:
            if next_wanted is None:
                break
            if number != next_wanted[0]:
                continue
            fields = (log_format.split(text) if log_format else None) or {}
            content = fields.get("Content", text).strip() if log_format else text.strip()
            template = miner.template_of(next_wanted[1])
            yield [
                number,
                *(fields.get(name, "") for name in header_fields),
                content,
                event_id(template.id) if template else "",
                template.text if template else "",
            ]
            next_wanted = next(wanted, None)

    # Log lines are written by whoever can make a service log: kept from running as
    # spreadsheet formulas (``sentier.csvsafe``).
    with target.open("w", encoding="utf-8", newline="") as handle:
        write_rows(
            handle, ["LineId", *header_fields, "Content", "EventId", "EventTemplate"], rows()
        )


def write_templates(target: Path, miner: TemplateMiner) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", encoding="utf-8", newline="") as handle:
        write_rows(
            handle,
            ["EventId", "EventTemplate", "Occurrences"],
            ([event_id(t.id), t.text, t.count] for t in miner.templates()),
        )
