"""Validation without writes: what ``sentier catalog validate`` and pre-commit hooks run."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentier.catalog.boundary import root_of
from sentier.catalog.descriptors import locate_in_file
from sentier.catalog.discovery import walk_descriptors
from sentier.catalog.problems import Problem
from sentier.catalog.reader import read_descriptor


@dataclass
class CheckResult:
    files: int = 0
    entities: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def check_paths(roots: Sequence[Path], *, boundary: Path | None = None) -> CheckResult:
    """Read every descriptor reachable from ``roots`` (Locations followed) and report problems.

    Files named by descriptors must lie inside ``boundary``, by default each root (a file
    root: its directory).
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
        queue.extend((Path(target), top) for target in parsed.location_targets)
    result.files = len(seen_files)
    return result
