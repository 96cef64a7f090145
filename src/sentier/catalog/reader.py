"""From one descriptor file's bytes to validated entities, their relations and search rows.

Pure apart from reading placeholder targets next to the file: the ingestion decides what to
store, this module only says what the file contains and what is wrong with it.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from sentier.catalog.boundary import OutsideRoot, is_within, join_inside
from sentier.catalog.descriptors import (
    RawDocument,
    has_placeholders,
    locate,
    parse_documents,
    resolve_placeholders,
)
from sentier.catalog.problems import Problem
from sentier.catalog.refs import EntityRef, ref_key
from sentier.catalog.relations import both_directions, derive
from sentier.catalog.validate import validate_document

MANAGED_BY_LOCATION = "backstage.io/managed-by-location"
MANAGED_BY_ORIGIN = "backstage.io/managed-by-origin-location"
# Values longer than this are indexed as present but not filterable, as in Backstage.
MAX_SEARCH_VALUE = 200


@dataclass(slots=True)
class ParsedEntity:
    key: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    line: int
    content_hash: str
    relations: set[tuple[str, str, str]]
    owner_ref: str | None
    system_ref: str | None
    search: list[tuple[str, str | None]]
    search_text: str


@dataclass(slots=True)
class ParsedFile:
    path: str
    sha256: str
    entities: list[ParsedEntity] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    location_targets: list[str] = field(default_factory=list)
    # Files read through $text/$json/$yaml, with their SHA-256: a change there is a change here.
    dependencies: dict[str, str] = field(default_factory=dict)


def content_hash(body: dict[str, Any]) -> str:
    encoded = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha1(encoded, usedforsecurity=False).hexdigest()


def read_descriptor(
    path: Path, data: bytes, *, origin: str | None = None, root: Path | None = None
) -> ParsedFile:
    """Parse and validate every document in a descriptor file.

    ``root`` is the directory of the source it belongs to (by default the file's own): the
    files its placeholders and Location targets name must lie inside it (see :mod:`boundary`).
    """
    display = str(path)
    root = root if root is not None else path.parent
    parsed = ParsedFile(display, hashlib.sha256(data).hexdigest())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        parsed.problems.append(
            Problem(
                "error", f"not UTF-8 text ({error.reason})", file=display, line=1, code="syntax"
            )
        )
        return parsed
    placeholders = has_placeholders(text)
    for document in parse_documents(text):
        if document.error:
            parsed.problems.append(
                Problem(
                    "error",
                    document.error,
                    file=display,
                    line=document.error_line,
                    code=document.error_code,
                )
            )
            continue
        if document.data is None:
            continue
        _read_entity(parsed, path, document, placeholders, origin or f"file:{display}", root)
    return parsed


def _problem(
    parsed: ParsedFile,
    document: RawDocument,
    field: str,
    message: str,
    *,
    severity: str = "error",
    ref: str | None = None,
    code: str = "invalid",
) -> None:
    line = locate(document, field) if field else document.line
    parsed.problems.append(
        Problem(
            "warning" if severity == "warning" else "error",
            message,
            file=parsed.path,
            line=line,
            field=field or None,
            entity_ref=ref,
            code=code,
        )
    )


def _read_entity(
    parsed: ParsedFile,
    path: Path,
    document: RawDocument,
    placeholders: bool,
    origin: str,
    root: Path,
) -> None:
    data = document.data
    if placeholders:
        data, notes = resolve_placeholders(
            data, path.parent, read_files=parsed.dependencies, root=root
        )
        for note in notes:
            _problem(parsed, document, note.field, note.message, severity=note.severity)
        if any(note.severity == "error" for note in notes):
            return
    entity, issues = validate_document(data)
    if entity is None:
        for issue in issues:
            _problem(parsed, document, issue.field, issue.message)
        return
    metadata = entity["metadata"]
    kind, namespace, name = entity["kind"], metadata["namespace"], metadata["name"]
    self_ref = EntityRef(kind.lower(), namespace.lower(), name.lower())
    outgoing, ref_errors = derive(entity, self_ref)
    if ref_errors:
        for where, message in ref_errors:
            _problem(parsed, document, where, message, ref=self_ref.key, code="bad-reference")
        return

    annotations = dict(metadata.get("annotations") or {})
    annotations[MANAGED_BY_LOCATION] = f"file:{parsed.path}"
    annotations[MANAGED_BY_ORIGIN] = origin
    metadata["annotations"] = annotations

    if kind == "Location":
        _follow_location(parsed, path, document, entity, self_ref.key, root)

    owner = next((r.target.key for r in outgoing if r.field == "spec.owner"), None)
    system = next((r.target.key for r in outgoing if r.field == "spec.system"), None)
    relations = both_directions(self_ref, outgoing)
    parsed.entities.append(
        ParsedEntity(
            key=ref_key(kind, namespace, name),
            kind=kind,
            namespace=namespace,
            name=name,
            body=entity,
            line=document.line,
            content_hash=content_hash(entity),
            relations=relations,
            owner_ref=owner,
            system_ref=system,
            search=search_rows(entity),
            search_text=search_text(entity),
        )
    )


def _follow_location(
    parsed: ParsedFile,
    path: Path,
    document: RawDocument,
    entity: dict[str, Any],
    ref: str,
    root: Path,
) -> None:
    spec = entity.get("spec") or {}
    targets: list[tuple[str, str]] = []
    if spec.get("target"):
        targets.append(("spec.target", spec["target"]))
    for index, target in enumerate(spec.get("targets") or []):
        targets.append((f"spec.targets[{index}]", target))
    optional = spec.get("presence") == "optional"
    for where, target in targets:
        if spec.get("type") == "url" or "://" in target:
            _problem(
                parsed,
                document,
                where,
                f"remote location {target} is not fetched (sentier works offline)",
                severity="warning",
                ref=ref,
                code="remote-location",
            )
            continue
        try:
            # Checked before globbing: a pattern climbing out of the root walks nothing.
            pattern = join_inside(path.parent, target, root)
        except OutsideRoot as refused:
            _problem(
                parsed, document, where, f"location target {refused}", ref=ref, code="outside-root"
            )
            continue
        if any(char in target for char in "*?["):
            found = sorted(glob.glob(pattern, recursive=True))  # noqa: PTH207
        else:
            found = [pattern] if Path(pattern).is_file() else []
        matches = [os.path.realpath(match) for match in found if is_within(match, root)]
        if len(matches) < len(found):
            escaped = next(match for match in found if not is_within(match, root))
            _problem(
                parsed,
                document,
                where,
                f"location target {target}: {escaped} is outside the source's root "
                f"({os.path.realpath(root)}) through a symbolic link",
                ref=ref,
                code="outside-root",
            )
            continue
        if not matches:
            _problem(
                parsed,
                document,
                where,
                f"location target {target} does not exist",
                severity="warning" if optional else "error",
                ref=ref,
                code="missing-target",
            )
        parsed.location_targets.extend(matches)


def _flat(value: Any) -> str | None:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (str, int, float)):
        text = str(value)
    else:
        return None
    text = text.lower()
    return text if len(text) <= MAX_SEARCH_VALUE else None


def search_rows(entity: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Flattened ``key = value`` pairs that the generic filters of the API match against."""
    metadata = entity["metadata"]
    # kind, apiVersion, name, namespace and relations.* are answered from the entity's own
    # columns and the relations table (see queries.filtered); no rows needed for them.
    rows: list[tuple[str, str | None]] = []
    if metadata.get("title"):
        rows.append(("metadata.title", _flat(metadata["title"])))
    rows.extend(("metadata.tags", _flat(tag)) for tag in metadata.get("tags") or [])
    for group in ("labels", "annotations"):
        for key, value in (metadata.get(group) or {}).items():
            rows.append((f"metadata.{group}.{key}".lower(), _flat(value)))
    for key, value in (entity.get("spec") or {}).items():
        if isinstance(value, list):
            rows.extend((f"spec.{key}".lower(), _flat(item)) for item in value if _flat(item))
        elif isinstance(value, dict):
            for sub_key, sub_value in value.items():
                flat = _flat(sub_value)
                if flat is not None:
                    rows.append((f"spec.{key}.{sub_key}".lower(), flat))
        else:
            rows.append((f"spec.{key}".lower(), _flat(value)))
    return rows


def search_text(entity: dict[str, Any]) -> str:
    """Lower-cased name, title, description and tags: what full-text search looks at."""
    metadata = entity["metadata"]
    parts = [
        metadata.get("name", ""),
        metadata.get("title") or "",
        metadata.get("description") or "",
        " ".join(str(tag) for tag in metadata.get("tags") or []),
    ]
    return " ".join(str(part) for part in parts if part).lower()
