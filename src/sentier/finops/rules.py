"""Allocation rules: a YAML file saying, in order, how a cost line finds its owner.

Rule kinds (one key each, plus an optional ``name``):

- ``tag: KEY``: the tagging plan's key names a catalog entity (of the key's ``catalog_kind``,
  or ``kind:`` given here); with ``via_annotation:``, the entity whose annotation carries the
  value (e.g. groups with ``sentier.io/cost-center``).
- ``annotation: NAME``: a Resource (or any entity) lists the line's ResourceId there.
- ``resource_pattern: [{pattern: GLOB, owner: REF}]``: ResourceId matching a glob.
- ``sub_account: {ID_OR_NAME: REF}``: a sub-account's owner; accounts listed in the
  ``sentier.io/cloud-accounts`` annotation of groups and systems count too.

``shared`` pools take lines out of direct allocation and split them (``even``,
``proportional`` to each owner's direct cost, ``fixed`` percentages, or a ``metric`` file).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from sentier.finops.errors import FinOpsError


class PatternOwner(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: str
    owner: str


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    tag: str | None = None
    kind: str | None = None
    via_annotation: str | None = None
    annotation: str | None = None
    resource_pattern: list[PatternOwner] | None = None
    sub_account: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [
            k
            for k in ("tag", "annotation", "resource_pattern", "sub_account")
            if getattr(self, k) is not None
        ]
        if len(kinds) != 1:
            raise ValueError(
                "a rule has exactly one of tag, annotation, resource_pattern, sub_account"
                f" (got {', '.join(kinds) or 'none'})"
            )
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.tag:
            return f"tag:{self.tag}"
        if self.annotation:
            return f"annotation:{self.annotation}"
        return "resource-pattern" if self.resource_pattern is not None else "sub-account"


class Match(BaseModel):
    """Which lines a shared pool takes; every given field must match (values within: any)."""

    model_config = ConfigDict(extra="forbid")

    service_name: list[str] | None = None
    service_category: list[str] | None = None
    charge_category: list[str] | None = None
    sub_account: list[str] | None = None
    resource_pattern: list[str] | None = None
    tag: dict[str, list[str]] | None = None


class SharedPool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    match: Match
    split: Literal["even", "proportional", "fixed", "metric"] = "proportional"
    targets: list[str] | None = None
    weights: dict[str, float] | None = None
    metric_file: str | None = None

    @model_validator(mode="after")
    def _split_inputs(self) -> SharedPool:
        if self.split == "fixed":
            if not self.weights:
                raise ValueError("a fixed split needs weights (owner -> percentage)")
            total = sum(self.weights.values())
            if abs(total - 100) > 1e-6:
                raise ValueError(f"fixed weights must add up to 100, not {total:g}")
        if self.split == "metric" and not self.metric_file:
            raise ValueError("a metric split needs metric_file (CSV: period, owner, value)")
        return self


class Commitments(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unused: Literal["report", "redistribute"] = "report"


class AllocationRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    rules: list[Rule] = Field(default_factory=list)
    shared: list[SharedPool] = Field(default_factory=list)
    commitments: Commitments = Field(default_factory=Commitments)
    source: str | None = None

    def fingerprint(self) -> str:
        import hashlib

        return hashlib.sha1(self.model_dump_json().encode("utf-8")).hexdigest()


def default_rules_path() -> Path:
    from sentier.config import get_settings

    local = get_settings().home / "allocation.yaml"
    if local.is_file():
        return local
    return Path(str(resources.files("sentier.finops").joinpath("data/default-allocation.yaml")))


def load_rules(path: Path | None = None) -> AllocationRules:
    """Read allocation rules; errors name the file, the line and the field."""
    path = path or default_rules_path()
    try:
        text = path.read_text(encoding="utf-8")
        data: Any = yaml.safe_load(text)
    except OSError as error:
        raise FinOpsError(f"cannot read: {error.strerror}", file=str(path)) from error
    except yaml.MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark else None
        raise FinOpsError(
            f"YAML syntax error: {error.problem}", file=str(path), row=line
        ) from error
    try:
        rules = AllocationRules.model_validate(data or {})
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(p) for p in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise FinOpsError(
            message, file=str(path), row=_line_of(text, first["loc"]), column=field
        ) from error
    rules.source = str(path)
    base = path.parent
    for pool in rules.shared:
        if pool.metric_file and not Path(pool.metric_file).is_absolute():
            pool.metric_file = str(base / pool.metric_file)
    return rules


def _line_of(text: str, location: tuple[Any, ...]) -> int | None:
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    line = node.start_mark.line
    for part in location:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1
