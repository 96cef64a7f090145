"""Which header format a log file has, told from its first lines.

``sentier logs parse`` without ``--log-format`` splits each line's header (time, level, host,
component...) from its message before mining, so that templates are made of messages only.
Three kinds of input are recognised:

- line formats, regular expressions with typed fields (``header-formats.yaml``: syslog RFC
  3164 and 5424, Kubernetes CRI, Apache/nginx, Log4j/Logback/Spring Boot, and the systems of
  the Loghub-2k corpus); the one matching most of the first lines wins if it matches at least
  ``min_share`` of them;
- JSON lines (Docker's json-file driver, ``journalctl -o json``, structured loggers): each
  line an object, its message under ``message``, ``msg``, ``log``, ``MESSAGE``...; the other
  scalar keys become fields;
- systemd's journal export format (``journalctl -o export``): ``KEY=value`` lines, one record
  per blank-line-separated block, its message in ``MESSAGE``.

Nothing recognised: the whole line is the message, as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

import yaml

from sentier.aiops.errors import AIOpsError
from sentier.aiops.logs.headers import LogFormat, compile_format

MESSAGE_KEYS = ("message", "msg", "MESSAGE", "log", "@message", "text", "short_message", "event")
MAX_FIELDS = 24
_KEY_VALUE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


class HeaderFormat(Protocol):
    """What the parser needs of a header format: its fields, records, and how to split one."""

    @property
    def text(self) -> str: ...

    @property
    def fields(self) -> tuple[str, ...]: ...

    def split(self, line: str) -> dict[str, str] | None: ...

    def records(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]: ...


@dataclass(frozen=True)
class NamedFormat:
    """A line format from the catalogue: a typed regular expression with a ``Content`` group."""

    name: str
    title: str
    regex: re.Pattern[str]
    matches: tuple[str, ...] = ()
    ignores: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.name

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(self.regex.groupindex)

    def split(self, line: str) -> dict[str, str] | None:
        found = self.regex.match(line)
        return found.groupdict(default="") if found else None

    def records(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
        return enumerate(lines, start=1)


@dataclass(frozen=True)
class JsonLines:
    """One JSON object per line; the message under the first of ``MESSAGE_KEYS`` it has."""

    name: str = "json-lines"
    title: str = "JSON lines"
    keys: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.name

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.keys, "Content")

    def split(self, line: str) -> dict[str, str] | None:
        document = _object(line)
        if document is None:
            return None
        message = next((document[k] for k in MESSAGE_KEYS if k in document), None)
        if message is None:
            return None
        out = {key: _scalar(document.get(key)) for key in self.keys}
        out["Content"] = _scalar(message).rstrip("\n")
        return out

    def records(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
        return enumerate(lines, start=1)


@dataclass(frozen=True)
class JournalExport(JsonLines):
    """``journalctl -o export``: blank-line-separated blocks of ``KEY=value`` lines.

    Each block is handed on as one JSON object (numbered by its first line). Binary fields
    (a name alone on its line, then a length and raw bytes) cannot be read as text: they are
    skipped up to the next ``KEY=value`` line.
    """

    name: str = "journald-export"
    title: str = "systemd journal export format"

    def records(self, lines: Iterable[str]) -> Iterator[tuple[int, str]]:
        record: dict[str, str] = {}
        first = 0
        for number, line in enumerate(lines, start=1):
            if not line:
                if record:
                    yield first, json.dumps(record)
                record = {}
                continue
            if _KEY_VALUE.match(line):
                key, _, value = line.partition("=")
                if not record:
                    first = number
                record[key] = value
        if record:
            yield first, json.dumps(record)


@dataclass
class Detection:
    """What detection found: the format (None: no header), and how many sample lines fit."""

    format: HeaderFormat | None
    title: str
    matched: int = 0
    sampled: int = 0
    tried: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format.text if self.format else None,
            "title": self.title,
            "matched": self.matched,
            "sampled": self.sampled,
        }


@dataclass(frozen=True)
class Catalogue:
    formats: tuple[NamedFormat, ...]
    min_share: float
    sample_lines: int

    def named(self, name: str) -> NamedFormat | None:
        return next((f for f in self.formats if f.name == name), None)


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    """The header formats shipped with sentier (``header-formats.yaml``)."""
    text = resources.files("sentier.aiops.logs").joinpath("header-formats.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    formats = []
    for index, item in enumerate(data["formats"]):
        where = f"header-formats.yaml formats[{index}]"
        try:
            regex = re.compile(str(item["pattern"]))
        except (KeyError, re.error) as error:
            raise AIOpsError(f"bad header format: {error}", field=where) from error
        if "Content" not in regex.groupindex:
            raise AIOpsError("a header format needs a Content group", field=where)
        formats.append(
            NamedFormat(
                str(item["name"]),
                str(item.get("title", item["name"])),
                regex,
                tuple(str(m) for m in item.get("matches", ())),
                tuple(str(m) for m in item.get("ignores", ())),
            )
        )
    return Catalogue(tuple(formats), float(data["min_share"]), int(data["sample_lines"]))


def resolve_format(text: str | None, sample: list[str]) -> Detection:
    """The header format to use: ``text`` if given (a catalogue name, ``none``, or a format in
    the Loghub notation), else the one detected from ``sample``."""
    if text is None or text == "auto":
        return detect(sample)
    if text == "none":
        return Detection(None, "none (whole lines)")
    named = catalogue().named(text)
    if named is not None:
        return Detection(named, named.title)
    if text == JournalExport.name:
        return Detection(JournalExport(keys=_journal_keys(sample)), JournalExport.title)
    if text == JsonLines.name:
        documents = [d for d in map(_object, sample) if d and any(k in d for k in MESSAGE_KEYS)]
        return Detection(JsonLines(keys=_json_keys(documents)), JsonLines.title)
    compiled: LogFormat = compile_format(text)
    return Detection(compiled, f"given: {text}")


def detect(sample: list[str]) -> Detection:
    """The header format of the lines ``sample`` (the first lines of a file)."""
    config = catalogue()
    lines = [line for line in sample if line.strip()][: config.sample_lines]
    if not lines:
        return Detection(None, "none (no lines)")
    needed = max(1, -(-int(config.min_share * 1000) * len(lines) // 1000))
    if _journal(lines):
        return Detection(
            JournalExport(keys=_journal_keys(lines)), JournalExport.title, len(lines), len(lines)
        )
    objects = [_object(line) for line in lines]
    with_message = [o for o in objects if o is not None and any(k in o for k in MESSAGE_KEYS)]
    if len(with_message) >= needed:
        return Detection(
            JsonLines(keys=_json_keys(with_message)),
            JsonLines.title,
            len(with_message),
            len(lines),
        )
    best: NamedFormat | None = None
    tried: dict[str, int] = {}
    for candidate in config.formats:
        count = sum(1 for line in lines if candidate.regex.match(line))
        tried[candidate.name] = count
        if count >= needed and (best is None or count > tried[best.name]):
            best = candidate
    if best is None:
        return Detection(None, "none detected (whole lines)", 0, len(lines), tried)
    return Detection(best, best.title, tried[best.name], len(lines), tried)


def _journal(lines: list[str]) -> bool:
    keyed = sum(1 for line in lines if _KEY_VALUE.match(line))
    return keyed >= 0.9 * len(lines) and any(
        line.startswith(("__CURSOR=", "__REALTIME_TIMESTAMP=")) for line in lines
    )


def _journal_keys(lines: list[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for line in lines:
        key = line.partition("=")[0]
        if _KEY_VALUE.match(line) and key != "MESSAGE" and key not in keys:
            keys.append(key)
    return tuple(keys[:MAX_FIELDS])


def _json_keys(documents: list[dict[str, Any]]) -> tuple[str, ...]:
    keys: list[str] = []
    for document in documents:
        message = next(k for k in MESSAGE_KEYS if k in document)
        for key, value in document.items():
            if key != message and key not in keys and not isinstance(value, dict | list):
                keys.append(key)
    return tuple(keys[:MAX_FIELDS])


def _object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
