"""Reading descriptor files: multi-document YAML, lines, ``$text``/``$json``/``$yaml`` placeholders.

Documents are split on ``---`` lines before parsing, so a syntax error in one document does not
hide the others, and each document knows the line it starts on. The fast C loader parses;
only when a document has a problem is it parsed again with positions, to find the field's line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

_DOC_START = re.compile(r"^---(?:[ \t].*)?$")
_DOC_END = re.compile(r"^\.\.\.\s*$")
PLACEHOLDERS = ("$text", "$json", "$yaml")


@dataclass(slots=True)
class RawDocument:
    """One YAML document: its first line in the file (1-based), its text and parsed value."""

    line: int
    text: str
    data: Any = None
    error: str | None = None
    error_line: int | None = None


def split_documents(text: str) -> list[tuple[int, str]]:
    """Split a YAML stream on document markers; returns (first line, text) per document."""
    documents: list[tuple[int, str]] = []
    start = 1
    buffer: list[str] = []
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        stripped = line.rstrip("\r\n")
        if _DOC_START.match(stripped) or _DOC_END.match(stripped):
            if any(part.strip() and not part.lstrip().startswith("#") for part in buffer):
                documents.append((start, "".join(buffer)))
            buffer = []
            start = number + 1
            rest = stripped[3:].strip() if stripped.startswith("---") else ""
            if rest and not rest.startswith("#"):  # `--- value` carries content on its line
                buffer.append(" " * 4 + rest + "\n")
                start = number
            continue
        buffer.append(line)
    if any(part.strip() and not part.lstrip().startswith("#") for part in buffer):
        documents.append((start, "".join(buffer)))
    return documents


def _first_content_line(text: str, start: int) -> int:
    for offset, line in enumerate(text.splitlines()):
        if line.strip() and not line.lstrip().startswith("#"):
            return start + offset
    return start


def parse_documents(text: str) -> Iterator[RawDocument]:
    """Parse each document of ``text``; syntax errors are reported per document."""
    for start, chunk in split_documents(text):
        document = RawDocument(_first_content_line(chunk, start), chunk)
        try:
            document.data = yaml.load(chunk, Loader=_Loader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            last_line = len(chunk.rstrip().splitlines()) - 1
            if error.context_mark and mark and mark.line > last_line:
                mark = error.context_mark  # ran off the end: point where the construct began
            document.error = f"YAML syntax error: {error.problem or error}"
            if error.context and error.problem:
                document.error = f"YAML syntax error: {error.problem} ({error.context})"
            document.error_line = start + mark.line if mark else start
        except yaml.YAMLError as error:
            document.error = f"YAML error: {error}"
            document.error_line = start
        yield document


def locate(document: RawDocument, field: str) -> int:
    """Line of ``field`` (``spec.owner``, ``spec.dependsOn[2]``) in the document.

    For a missing field, the line of its closest existing parent; for the root, the document.
    """
    try:
        node = yaml.compose(document.text, Loader=_Loader)
    except yaml.YAMLError:
        return document.line
    chunk_start = document.line - _first_content_line(document.text, 0)
    best = node.start_mark.line if node is not None else 0
    for part in _split_field(field):
        if node is None:
            break
        child = None
        if isinstance(part, int) and isinstance(node, yaml.SequenceNode):
            if 0 <= part < len(node.value):
                child = node.value[part]
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    best = key.start_mark.line
                    child = value
                    break
        if child is None:
            break
        node = child
        best = node.start_mark.line if isinstance(part, int) else best
    return chunk_start + best


def _split_field(field: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in field.split("."):
        if not piece:
            continue
        name, *indexes = piece.split("[")
        if name:
            parts.append(name)
        parts.extend(int(index.rstrip("]")) for index in indexes if index.rstrip("]").isdigit())
    return parts


def has_placeholders(text: str) -> bool:
    return "$text" in text or "$json" in text or "$yaml" in text


@dataclass(frozen=True, slots=True)
class PlaceholderNote:
    field: str
    message: str
    severity: str


def resolve_placeholders(
    value: Any, base_dir: Path, field: str = "", read_files: dict[str, str] | None = None
) -> tuple[Any, list[PlaceholderNote]]:
    """Replace ``{$text: ./file}`` mappings by the file's content (local files only).

    Remote targets are not fetched (sentier works offline): the URL string stays in place and a
    warning says so, as the issue asks; an unreadable local file is an error.
    """
    notes: list[PlaceholderNote] = []

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, target),) = node.items()
                if key in PLACEHOLDERS:
                    return substitute(key, target, where)
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(item, f"{where}[{i}]") for i, item in enumerate(node)]
        return node

    def substitute(kind: str, target: Any, where: str) -> Any:
        if not isinstance(target, str) or not target:
            notes.append(
                PlaceholderNote(where, f"placeholder {kind} needs a string target", "error")
            )
            return None
        if "://" in target:
            notes.append(
                PlaceholderNote(
                    where,
                    f"placeholder {kind} points at {target}, which is not fetched (offline); "
                    "the URL is kept in its place",
                    "warning",
                )
            )
            return target
        path = (base_dir / target).resolve()
        try:
            raw = path.read_bytes()
            content = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            notes.append(
                PlaceholderNote(
                    where, f"placeholder {kind} could not read {target}: {reason}", "error"
                )
            )
            return None
        if read_files is not None:
            read_files[str(path)] = hashlib.sha256(raw).hexdigest()
        try:
            if kind == "$json":
                return json.loads(content)
            if kind == "$yaml":
                return yaml.load(content, Loader=_Loader)
        except (ValueError, yaml.YAMLError) as error:
            notes.append(
                PlaceholderNote(
                    where, f"placeholder {kind} could not parse {target}: {error}", "error"
                )
            )
            return None
        return content

    return walk(value, field), notes


def locate_in_file(path: str, document_line: int, field: str) -> int:
    """Line of ``field`` in the document of ``path`` that starts at ``document_line``."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return document_line
    for start, chunk in split_documents(text):
        document = RawDocument(_first_content_line(chunk, start), chunk)
        if document.line == document_line:
            return locate(document, field)
    return document_line
