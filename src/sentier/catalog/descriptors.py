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

import ryaml
import yaml

from sentier.catalog.boundary import OutsideRoot, resolve_inside
from sentier.catalog.nesting import MAX_FLOW_DEPTH, too_deep_line

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

PLACEHOLDERS = ("$text", "$json", "$yaml")
# The problem code of a document refused before parsing for its nesting (see ``nesting``).
TOO_DEEP = "too-deep"
TOO_DEEP_MESSAGE = (
    f"flow collections ([ ] or {{ }}) nested more than {MAX_FLOW_DEPTH} deep: "
    "refused before parsing"
)


@dataclass(slots=True)
class RawDocument:
    """One YAML document: its first line in the file (1-based), its text and parsed value."""

    line: int
    text: str
    data: Any = None
    error: str | None = None
    error_line: int | None = None
    error_code: str = "syntax"
    # The document composed with positions, once, for the first problem that needs a line.
    node: Any = None
    composed: bool = False


_MARKER = re.compile(r"^(?:---|\.\.\.)(?:[ \t].*)?\r?$", re.MULTILINE)
_CONTENT = re.compile(r"^[ \t]*[^\s#]", re.MULTILINE)


def split_documents(text: str) -> list[tuple[int, str]]:
    """Split a YAML stream on document markers; returns (first line, text) per document.

    Documents holding only comments or blank lines are dropped, as YAML parsers drop them.
    """
    documents: list[tuple[int, str]] = []
    position, line = 0, 1
    for marker in _MARKER.finditer(text):
        chunk = text[position : marker.start()]
        if _CONTENT.search(chunk):
            documents.append((line, chunk))
        line += chunk.count("\n") + 1
        position = marker.end() + 1
        rest = marker.group(0)[3:].strip()
        if marker.group(0).startswith("---") and rest and not rest.startswith("#"):
            # `--- value` carries content on the marker's own line: keep it, indented away.
            documents.append((line - 1, " " * 4 + rest + "\n"))
    chunk = text[position:]
    if _CONTENT.search(chunk):
        documents.append((line, chunk))
    return documents


def _first_content_line(text: str, start: int) -> int:
    for offset, line in enumerate(text.splitlines()):
        if line.strip() and not line.lstrip().startswith("#"):
            return start + offset
    return start


_ERROR_AT = re.compile(r",? (?:while [^,]*?)?\bat line (\d+) column \d+")
_WHILE = re.compile(r"while ([^,]*?) at line (\d+) column \d+")


def _syntax_error(message: str, chunk: str, start: int) -> tuple[str, int]:
    """A readable message and the file line of a parser error (context line past the end)."""
    lines = [int(n) for n in re.findall(r"at line (\d+) column", message)]
    last_line = len(chunk.rstrip().splitlines())
    line = lines[0] if lines else 1
    if len(lines) > 1 and line > last_line:
        line = lines[1]  # ran off the end: point where the unfinished construct began
    context = _WHILE.search(message)
    problem = _ERROR_AT.sub("", message).strip()
    if context and context.group(1) not in problem:
        problem = f"{problem} ({context.group(1)})"
    return f"YAML syntax error: {problem}", start + line - 1


def parse_documents(text: str) -> Iterator[RawDocument]:
    """Parse each document of ``text``; syntax errors are reported per document.

    ``ryaml`` (YAML 1.2 core schema, as Backstage's own YAML parser uses) does the parsing: it
    is several times faster than PyYAML's C loader, and ``on``/``2024-01-01`` stay strings.
    """
    for start, chunk in split_documents(text):
        document = RawDocument(_first_content_line(chunk, start), chunk)
        deep = too_deep_line(chunk)
        if deep is not None:
            document.error, document.error_line = TOO_DEEP_MESSAGE, start + deep - 1
            document.error_code = TOO_DEEP
            yield document
            continue
        try:
            document.data = ryaml.loads(chunk)
        except ryaml.InvalidYamlError as error:
            document.error, document.error_line = _syntax_error(str(error), chunk, start)
        yield document


# PyYAML composes a node a few microseconds, in one call that holds the interpreter: past about
# this many nodes (a huge inline definition, a flow-collection flood) a problem is located at its
# document's first line instead of spending seconds to find the field's own.
MAX_LOCATE_NODES = 20_000


def compose_for_lines(text: str) -> Any:
    """The document composed by PyYAML (with line marks), or None when it is too large to be
    worth it or does not compose."""
    if sum(text.count(mark) for mark in ":-[{,") > MAX_LOCATE_NODES:
        return None
    try:
        return yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None


def locate(document: RawDocument, field: str, node: Any = None) -> int:
    """Line of ``field`` (``spec.owner``, ``spec.dependsOn[2]``) in the document.

    For a missing field, the line of its closest existing parent; for the root, the document.
    ``node`` is the document already composed by PyYAML (positions), when the caller has it.
    """
    if node is None:
        if not document.composed:
            document.node, document.composed = compose_for_lines(document.text), True
        node = document.node
        if node is None:
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


class FileLocator:
    """Finds field lines in files on disk, reading and composing each document only once."""

    def __init__(self) -> None:
        self._documents: dict[str, dict[int, RawDocument]] = {}
        self._nodes: dict[tuple[str, int], Any] = {}

    def line(self, path: str, document_line: int, field: str) -> int:
        documents = self._documents.get(path)
        if documents is None:
            try:
                text = Path(path).read_text(encoding="utf-8-sig")
            except (OSError, UnicodeDecodeError):
                text = ""
            documents = {}
            for start, chunk in split_documents(text):
                document = RawDocument(_first_content_line(chunk, start), chunk)
                documents[document.line] = document
            self._documents[path] = documents
        found = documents.get(document_line)
        if found is None:
            return document_line
        key = (path, document_line)
        if key not in self._nodes:
            self._nodes[key] = compose_for_lines(found.text)
        if self._nodes[key] is None:
            return document_line
        return locate(found, field, self._nodes[key])


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


# Nesting allowed in a $json/$yaml file: the document around it nests up to 128 levels (the
# YAML parser's limit) and the JSON columns and hashes stop at 254.
MAX_PLACEHOLDER_DEPTH = 100


def _deeper_than(value: Any, limit: int) -> bool:
    """Does ``value`` nest more than ``limit`` lists/mappings deep? (walked without recursion)"""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def resolve_placeholders(
    value: Any,
    base_dir: Path,
    field: str = "",
    read_files: dict[str, str] | None = None,
    *,
    root: Path | None = None,
) -> tuple[Any, list[PlaceholderNote]]:
    """Replace ``{$text: ./file}`` mappings by the file's content (local files only).

    Remote targets are not fetched (sentier works offline): the URL string stays in place and a
    warning says so, as the issue asks; an unreadable local file is an error, and so is one
    outside ``root`` (the source's root; by default ``base_dir``), see :mod:`boundary`.
    ``$yaml`` is read like descriptors (YAML 1.2, alias bombs refused by the parser).
    """
    notes: list[PlaceholderNote] = []
    boundary = root if root is not None else base_dir

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

    def error(where: str, message: str) -> None:
        notes.append(PlaceholderNote(where, message, "error"))

    def substitute(kind: str, target: Any, where: str) -> Any:
        if not isinstance(target, str) or not target:
            error(where, f"placeholder {kind} needs a string target")
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
        try:
            path = resolve_inside(base_dir, target, boundary)
        except OutsideRoot as refused:
            error(where, f"placeholder {kind} target {refused}")
            return None
        try:
            if not path.is_file():
                error(where, f"placeholder {kind} could not read {target}: not a regular file")
                return None
            raw = path.read_bytes()
            content = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as failure:
            reason = getattr(failure, "strerror", None) or str(failure)
            error(where, f"placeholder {kind} could not read {target}: {reason}")
            return None
        if read_files is not None:
            read_files[str(path)] = hashlib.sha256(raw).hexdigest()
        if kind == "$text":
            return content
        if kind == "$yaml" and too_deep_line(content) is not None:
            error(where, f"placeholder {kind} could not parse {target}: {TOO_DEEP_MESSAGE}")
            return None
        try:
            parsed = json.loads(content) if kind == "$json" else ryaml.loads(content)
        except RecursionError:
            error(where, f"placeholder {kind} could not parse {target}: nested too deeply")
            return None
        except (ValueError, ryaml.InvalidYamlError) as failure:
            error(where, f"placeholder {kind} could not parse {target}: {failure}")
            return None
        if _deeper_than(parsed, MAX_PLACEHOLDER_DEPTH):
            error(
                where,
                f"placeholder {kind} could not parse {target}: nested too deeply "
                f"(more than {MAX_PLACEHOLDER_DEPTH} levels)",
            )
            return None
        return parsed

    return walk(value, field), notes


def locate_in_file(path: str, document_line: int, field: str) -> int:
    """Line of ``field`` in the document of ``path`` that starts at ``document_line``."""
    return FileLocator().line(path, document_line, field)
