"""The one resource model every loader produces and every rule reads.

Terraform HCL, plan/state JSON and Kubernetes manifests all become ``Resource`` objects whose
attributes are plain Python data (dicts, lists, scalars) so rules evaluate quickly, with a
parallel map from attribute path to (file, line) so a finding can point at the exact line.
Values a static reading cannot know stay ``Unknown`` (carrying which resources they refer to),
never guessed as safe or unsafe.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]
Loc = tuple[str, int]  # (file, 1-based line)


class Unknown:
    """A value that cannot be known before apply; ``refs`` names the resources it depends on."""

    __slots__ = ("reason", "refs")

    def __init__(self, refs: frozenset[str] = frozenset(), reason: str = "") -> None:
        self.refs = refs
        self.reason = reason

    def __repr__(self) -> str:
        inside = ", ".join(sorted(self.refs)) or self.reason
        return f"<unknown {inside}>" if inside else "<unknown>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown) and other.refs == self.refs

    def __hash__(self) -> int:
        return hash(("unknown", self.refs))

    def to_json(self) -> str:
        return "${unknown" + (":" + ",".join(sorted(self.refs)) if self.refs else "") + "}"


UNKNOWN = Unknown()


def is_unknown(value: Any) -> bool:
    return isinstance(value, Unknown)


def contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_unknown(v) for v in value)
    return False


def refs_in(value: Any) -> set[str]:
    """Every resource address an (unknown) value refers to, searched through containers."""
    out: set[str] = set()
    if isinstance(value, Unknown):
        out.update(value.refs)
    elif isinstance(value, dict):
        for item in value.values():
            out |= refs_in(item)
    elif isinstance(value, list):
        for item in value:
            out |= refs_in(item)
    return out


def plain(value: Any) -> Any:
    """A JSON-safe copy of a value (unknowns written as ``${unknown}`` markers)."""
    if isinstance(value, Unknown):
        return value.to_json()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


@dataclass(slots=True)
class Resource:
    """One resource (or data source, module call, Kubernetes object) with located attributes.

    ``address`` is unique within a scan (``module.db.aws_db_instance.this[0]``);
    ``base_address`` drops instance keys, which is what references name.
    """

    type: str
    name: str
    address: str
    file: str
    line: int
    attrs: dict[str, Any]
    locs: dict[Path, Loc] = field(default_factory=dict)
    kind: str = "resource"  # resource | data | module | k8s | plan | state
    source: str = "terraform"  # terraform | plan | state | kubernetes
    module_path: str = ""  # "module.a.module.b" or ""
    base_address: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    end_line: int | None = None

    def loc_of(self, path: Path) -> Loc:
        """Where ``path`` is set, or the closest existing parent; the resource itself at worst."""
        locs = self.locs
        probe = path
        while probe:
            found = locs.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return (self.file, self.line)

    def has_loc(self, path: Path) -> bool:
        return path in self.locs

    def get(self, path: Path, default: Any = None) -> Any:
        value: Any = self.attrs
        for step in path:
            if isinstance(value, dict):
                if step not in value:
                    return default
                value = value[step]
            elif isinstance(value, list) and isinstance(step, int):
                if step >= len(value):
                    return default
                value = value[step]
            else:
                return default
        return value

    @property
    def provider(self) -> str:
        """``aws``, ``azurerm``, ``google``, ``kubernetes``... from the type prefix."""
        if self.source == "kubernetes":
            return "kubernetes"
        return self.type.split("_", 1)[0]


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """A file (or part of one) that could not be read; becomes a finding of its own."""

    file: str
    line: int
    message: str
    column: int = 0
    remediation: str = ""  # what to do, when it is not "fix the syntax error"


@dataclass(slots=True)
class LoadResult:
    """What the loaders produced for a set of paths."""

    resources: list[Resource] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    file_texts: dict[str, list[str]] = field(default_factory=dict)

    def extend(self, other: LoadResult) -> None:
        self.resources.extend(other.resources)
        self.problems.extend(other.problems)
        self.files.extend(other.files)
        self.file_texts.update(other.file_texts)

    def by_type(self) -> dict[str, list[Resource]]:
        out: dict[str, list[Resource]] = {}
        for resource in self.resources:
            out.setdefault(resource.type, []).append(resource)
        return out


def walk_paths(value: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every (path, value) pair in a nested value, depth first, containers included."""
    yield prefix, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_paths(item, (*prefix, index))
