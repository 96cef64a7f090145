"""Validation without writes: what ``sentier catalog validate`` and pre-commit hooks run."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentier.catalog.boundary import root_of
from sentier.catalog.descriptors import locate_in_file
from sentier.catalog.discovery import walk_descriptors
from sentier.catalog.problems import Problem
from sentier.catalog.reader import ParsedEntity, read_descriptor
from sentier.catalog.refs import EntityRef
from sentier.catalog.relations import derive
from sentier.catalog.validate import validate_document


@dataclass
class CheckResult:
    files: int = 0
    entities: int = 0
    problems: list[Problem] = field(default_factory=list)
    # The entities read, in reading order (only when asked: a dry run shows them).
    found: list[ParsedEntity] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def check_paths(
    roots: Sequence[Path], *, boundary: Path | None = None, keep_entities: bool = False
) -> CheckResult:
    """Read every descriptor reachable from ``roots`` (Locations followed) and report problems.

    Files named by descriptors must lie inside ``boundary``, by default each root (a file
    root: its directory). ``keep_entities`` keeps what was read in ``found``.
    """
    result = CheckResult()
    seen_files: set[str] = set()
    seen_entities: dict[str, str] = {}
    queue: deque[tuple[Path, Path]] = deque()
    for root in roots:
        if not root.exists():
            result.problems.append(Problem("error", "no such file or directory", file=str(root)))
            continue
        top = boundary if boundary is not None else root_of(root)
        queue.extend((path, top) for path in walk_descriptors(root))
    while queue:
        path, top = queue.popleft()
        if str(path) in seen_files:
            continue
        seen_files.add(str(path))
        try:
            data = path.read_bytes()
        except OSError as error:
            result.problems.append(
                Problem("error", f"cannot read: {error.strerror}", file=str(path))
            )
            continue
        parsed = read_descriptor(path, data, root=top)
        result.problems.extend(parsed.problems)
        for entity in parsed.entities:
            first = seen_entities.get(entity.key)
            if first:
                result.problems.append(
                    Problem(
                        "error",
                        f"duplicate entity {entity.key}, already defined at {first}",
                        file=parsed.path,
                        line=locate_in_file(parsed.path, entity.line, "metadata.name"),
                        field="metadata.name",
                        entity_ref=entity.key,
                        code="duplicate",
                    )
                )
                continue
            seen_entities[entity.key] = f"{parsed.path}:{entity.line}"
            result.entities += 1
            if keep_entities:
                result.found.append(entity)
        queue.extend((Path(target), top) for target in parsed.location_targets)
    result.files = len(seen_files)
    return result


def check_entity(document: Any) -> list[Problem]:
    """Every problem of one entity given as data (not read from a file): its shape, as
    :func:`validate_document` checks it, then its references to other entities."""
    entity, issues = validate_document(document)
    if entity is None:
        return [Problem("error", i.message, field=i.field or None) for i in issues]
    metadata = entity["metadata"]
    self_ref = EntityRef(
        entity["kind"].lower(), metadata["namespace"].lower(), metadata["name"].lower()
    )
    _, ref_errors = derive(entity, self_ref)
    return [
        Problem("error", message, field=where, entity_ref=self_ref.key, code="bad-reference")
        for where, message in ref_errors
    ]
