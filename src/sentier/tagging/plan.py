"""The tagging plan: which tag keys every cloud resource must carry, and which values are allowed.

One file shared by the policy engine (tagging rules on IaC before deploy) and FinOps (coverage
and allocation of billing lines after), so both judge a resource's tags the same way. Real tags
are messy (``env``/``Environment``/`` environment``, ``prod``/``Production``): the plan says how
to read them into canonical keys and values before judging.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sentier.errors import LocatedError

ViolationKind = Literal["missing", "not-allowed", "pattern"]


class TaggingError(LocatedError):
    """A tagging plan that cannot be used; names the file, line and field."""

    unnamed_input = "<tagging plan>"


class KeyRule(BaseModel):
    """What the plan says about one canonical tag key."""

    model_config = ConfigDict(extra="forbid")

    required: bool = False
    description: str | None = None
    aliases: list[str] = Field(default_factory=list)
    allowed: list[str] | None = None
    pattern: str | None = None
    value_aliases: dict[str, str] = Field(default_factory=dict)
    # The catalog kind a value names (group, component, system...), for allocation.
    catalog_kind: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"not a valid regular expression: {error}") from error
        return value

    @model_validator(mode="after")
    def _value_aliases_land_on_allowed(self) -> KeyRule:
        if self.allowed is not None:
            allowed = {v.lower() for v in self.allowed}
            for alias, target in self.value_aliases.items():
                if target.lower() not in allowed:
                    raise ValueError(
                        f"value alias {alias!r} maps to {target!r}, not an allowed value"
                    )
        return self


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    keys: dict[str, KeyRule]
    value_case: Literal["lower", "preserve"] = "lower"
    defaults_by_sub_account: dict[str, dict[str, str]] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TagViolation:
    key: str
    kind: ViolationKind
    value: str | None
    message: str


@functools.lru_cache(maxsize=8192)
def canonical_key_text(key: str) -> str:
    """How tag keys compare: trimmed, lower-cased, ``_`` and spaces read as ``-``.

    Cached: the same few spellings come back on hundreds of thousands of tag sets.
    """
    return _SEPARATORS.sub("-", key.strip().lower())


_SEPARATORS = re.compile(r"[\s_]+")


@dataclass(frozen=True)
class TaggingPlan:
    """A loaded, ready-to-use plan; build with ``load_plan`` or ``TaggingPlan.from_data``."""

    model: PlanModel
    source: str | None = None

    @classmethod
    def from_data(cls, data: Any, *, source: str | None = None) -> TaggingPlan:
        try:
            model = PlanModel.model_validate(data)
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            field = ".".join(str(p) for p in first["loc"])
            message = str(first["msg"]).removeprefix("Value error, ")
            raise TaggingError(message, file=source, field=field) from error
        plan = cls(model, source)
        plan._check_alias_clashes()
        return plan

    def _check_alias_clashes(self) -> None:
        seen: dict[str, str] = {}
        for key, rule in self.model.keys.items():
            for name in (key, *rule.aliases):
                text = canonical_key_text(name)
                if text in seen and seen[text] != key:
                    raise TaggingError(
                        f"alias {name!r} is claimed by both {seen[text]!r} and {key!r}",
                        file=self.source,
                        field=f"keys.{key}.aliases",
                    )
                seen[text] = key

    @property
    def keys(self) -> dict[str, KeyRule]:
        return self.model.keys

    @property
    def required_keys(self) -> list[str]:
        return [key for key, rule in self.model.keys.items() if rule.required]

    def key_aliases(self) -> dict[str, str]:
        """Every accepted spelling (canonical form) -> canonical key; for SQL generation too.

        Computed once per plan: FinOps normalises hundreds of thousands of tag sets with it.
        """
        cached: dict[str, str] | None = self.__dict__.get("_key_aliases")
        if cached is None:
            cached = {}
            for key, rule in self.model.keys.items():
                for name in (key, *rule.aliases):
                    cached[canonical_key_text(name)] = key
            object.__setattr__(self, "_key_aliases", cached)
        return cached

    def canonical_key(self, key: str) -> str | None:
        return self.key_aliases().get(canonical_key_text(key))

    def normalise_value(self, key: str, value: str) -> str:
        text = value.strip()
        if self.model.value_case == "lower":
            text = text.lower()
        return self._value_aliases(key).get(text.lower(), text)

    def _value_aliases(self, key: str) -> dict[str, str]:
        """A key's value aliases, lower-cased once per plan (they are read on every value)."""
        cache: dict[str, dict[str, str]] = self.__dict__.setdefault("_value_alias_cache", {})
        aliases = cache.get(key)
        if aliases is None:
            rule = self.model.keys[key]
            aliases = cache[key] = {k.strip().lower(): v for k, v in rule.value_aliases.items()}
        return aliases

    def normalise(
        self, tags: Mapping[str, Any] | None, *, sub_account: str | None = None
    ) -> dict[str, str]:
        """Tags read into the plan's canonical keys and values; defaults fill what is missing.

        Keys the plan does not know are kept (trimmed) so nothing is lost; empty values count
        as absent.
        """
        aliases = self.key_aliases()
        out: dict[str, str] = {}
        for raw_key, raw_value in (tags or {}).items():
            if raw_value is None or str(raw_value).strip() == "":
                continue
            key = aliases.get(canonical_key_text(str(raw_key)))
            if key is None:
                out.setdefault(str(raw_key).strip(), str(raw_value).strip())
                continue
            out.setdefault(key, self.normalise_value(key, str(raw_value)))
        if sub_account is not None:
            for key, value in self.model.defaults_by_sub_account.get(sub_account, {}).items():
                canonical = aliases.get(canonical_key_text(key), key)
                out.setdefault(canonical, value)
        return out

    def check(
        self, tags: Mapping[str, Any] | None, *, sub_account: str | None = None
    ) -> list[TagViolation]:
        """What is wrong with a resource's tags under this plan (empty: fully compliant)."""
        return self.violations_of(self.normalise(tags, sub_account=sub_account))

    def violations_of(self, normalised: Mapping[str, str]) -> list[TagViolation]:
        """``check`` on tags already through ``normalise`` (FinOps has them both at hand)."""
        violations: list[TagViolation] = []
        for key, rule in self.model.keys.items():
            value = normalised.get(key)
            if value is None:
                if rule.required:
                    violations.append(
                        TagViolation(key, "missing", None, f"required tag {key!r} is missing")
                    )
                continue
            if rule.allowed is not None and value.lower() not in self._allowed(key):
                violations.append(
                    TagViolation(
                        key,
                        "not-allowed",
                        value,
                        f"tag {key!r} has value {value!r}, allowed: {', '.join(rule.allowed)}",
                    )
                )
            elif rule.pattern is not None and not re.fullmatch(rule.pattern, value):
                violations.append(
                    TagViolation(
                        key,
                        "pattern",
                        value,
                        f"tag {key!r} value {value!r} does not match {rule.pattern}",
                    )
                )
        return violations

    def _allowed(self, key: str) -> set[str]:
        """A key's allowed values, lower-cased once per plan."""
        cache: dict[str, set[str]] = self.__dict__.setdefault("_allowed_cache", {})
        allowed = cache.get(key)
        if allowed is None:
            allowed = cache[key] = {v.lower() for v in self.model.keys[key].allowed or []}
        return allowed

    def is_compliant(
        self, tags: Mapping[str, Any] | None, *, sub_account: str | None = None
    ) -> bool:
        return not self.check(tags, sub_account=sub_account)


def load_plan(path: Path) -> TaggingPlan:
    """Read a tagging plan file; errors name the file, the line and the field."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise TaggingError(f"cannot read: {error.strerror}", file=source) from error
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise TaggingError(
            f"YAML syntax error: {error.problem}", file=source, line=mark.line + 1 if mark else None
        ) from error
    try:
        return TaggingPlan.from_data(data, source=source)
    except TaggingError as error:
        raise TaggingError(
            error.message, file=source, line=_line_of(text, error.field), field=error.field
        ) from error


def _line_of(text: str, field: str | None) -> int | None:
    """Line of a dotted field in a YAML text (closest existing parent for missing ones)."""
    if not field:
        return None
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = node.start_mark.line if node else 0
    for part in field.split("."):
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
        if match is None:
            break
        line, node = match[0].start_mark.line, match[1]
    return line + 1
