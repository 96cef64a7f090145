"""sentier's models of Backstage's kinds, applying Backstage's schemas and runtime rules.

The models validate; they are not kept. Entities stay plain dicts in Backstage's shape, so that
what a descriptor said (including fields these models do not know) is stored unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from sentier.catalog import formats

NonEmpty = Annotated[str, StringConstraints(min_length=1)]
RefList = list[NonEmpty]


def _check(predicate: Callable[[str], bool], describe: Callable[[str], str]) -> AfterValidator:
    def validate(value: str) -> str:
        if not predicate(value):
            raise ValueError(describe(value))
        return value

    return AfterValidator(validate)


Tag = Annotated[
    str,
    _check(
        formats.is_valid_tag,
        lambda v: (
            f'tag "{v}" is not valid; expected lower-case sequences of [a-z0-9:+#] '
            "separated by [-], at most 63 characters"
        ),
    ),
]
LabelKey = Annotated[
    str, _check(formats.is_valid_prefixed_key, lambda v: f'"{v}" is not a valid label key')
]
LabelValue = Annotated[
    str, _check(formats.is_valid_label_value, lambda v: f'"{v}" is not a valid label value')
]
AnnotationKey = Annotated[
    str, _check(formats.is_valid_prefixed_key, lambda v: f'"{v}" is not a valid annotation key')
]


class _Strict(BaseModel):
    # Strict: YAML's `version: 1.0` is a float, and Backstage's schemas would refuse it too.
    model_config = ConfigDict(extra="allow", strict=True)


class Link(_Strict):
    url: NonEmpty
    title: NonEmpty | None = None
    icon: NonEmpty | None = None
    type: NonEmpty | None = None


class Metadata(_Strict):
    name: str
    namespace: str = "default"
    title: NonEmpty | None = None
    description: str | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[AnnotationKey, str] = Field(default_factory=dict)
    tags: list[Tag] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if len(value) > formats.MAX_NAME:
            raise ValueError(
                f'"{value[:20]}…" is {len(value)} characters long, the limit is {formats.MAX_NAME}'
            )
        if not formats.is_valid_object_name(value):
            raise ValueError(
                f'"{value}" is not valid; expected a string that is sequences of [a-zA-Z0-9] '
                "separated by any of [-_.], at most 63 characters in total"
            )
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not formats.is_valid_namespace(value):
            raise ValueError(
                f'"{value}" is not valid; expected a string that is sequences of [a-z0-9] '
                "separated by [-], at most 63 characters in total"
            )
        return value


class ComponentSpec(_Strict):
    type: NonEmpty
    lifecycle: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    subcomponentOf: NonEmpty | None = None
    providesApis: RefList | None = None
    consumesApis: RefList | None = None
    dependsOn: RefList | None = None
    dependencyOf: RefList | None = None


class Remote(_Strict):
    type: NonEmpty
    url: NonEmpty


class ApiSpec(_Strict):
    # APIs of these types describe themselves by endpoints instead of a definition document.
    REMOTE_TYPES: ClassVar[frozenset[str]] = frozenset({"mcp-server", "ai-model-server"})

    type: NonEmpty
    lifecycle: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    definition: NonEmpty | None = None
    remotes: list[Remote] | None = None

    @model_validator(mode="after")
    def _definition_or_remotes(self) -> ApiSpec:
        if self.type in self.REMOTE_TYPES:
            if not self.remotes:
                raise _missing("remotes", f"required for APIs of type {self.type}")
        elif self.definition is None:
            raise _missing("definition", "required")
        return self


class ResourceSpec(_Strict):
    type: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    dependsOn: RefList | None = None
    dependencyOf: RefList | None = None


class SystemSpec(_Strict):
    owner: NonEmpty
    domain: NonEmpty | None = None
    type: NonEmpty | None = None


class DomainSpec(_Strict):
    owner: NonEmpty
    subdomainOf: NonEmpty | None = None
    type: NonEmpty | None = None


class Profile(_Strict):
    displayName: NonEmpty | None = None
    email: NonEmpty | None = None
    picture: NonEmpty | None = None


class GroupSpec(_Strict):
    type: NonEmpty
    children: RefList
    parent: NonEmpty | None = None
    members: RefList | None = None
    profile: Profile | None = None


class UserSpec(_Strict):
    memberOf: RefList
    profile: Profile | None = None


class LocationSpec(_Strict):
    type: NonEmpty | None = None
    target: NonEmpty | None = None
    targets: RefList | None = None
    presence: Literal["required", "optional"] | None = None


class TemplateSpec(_Strict):
    type: NonEmpty
    steps: list[dict[str, Any]]
    owner: NonEmpty | None = None
    lifecycle: NonEmpty | None = None
    parameters: dict[str, Any] | list[dict[str, Any]] | None = None
    output: dict[str, Any] | None = None


class AiResourceSpec(_Strict):
    # Fields each AiResource type requires beyond the common ones (Backstage's per-type schemas).
    TYPE_REQUIRES: ClassVar[dict[str, tuple[str, ...]]] = {
        "plugin": ("skills",),
        "marketplace": ("plugins",),
        "rule": ("category", "rationale"),
    }

    type: NonEmpty
    lifecycle: NonEmpty
    owner: NonEmpty
    system: NonEmpty | None = None
    skills: RefList | None = None
    plugins: RefList | None = None
    dependsOn: RefList | None = None
    version: NonEmpty | None = None
    disciplines: list[NonEmpty] | None = None
    categories: list[NonEmpty] | None = None
    agents: list[NonEmpty] | None = None
    allowedTools: NonEmpty | None = None
    license: NonEmpty | None = None
    compatibility: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    category: NonEmpty | None = None
    rationale: NonEmpty | None = None

    @model_validator(mode="after")
    def _per_type(self) -> AiResourceSpec:
        for name in self.TYPE_REQUIRES.get(self.type, ()):
            if getattr(self, name, None) is None:
                raise _missing(name, f"required for AI resources of type {self.type}")
        return self


class _MissingField(ValueError):
    """Raised by cross-field checks so that the error names the missing field itself."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _missing(field: str, message: str) -> _MissingField:
    return _MissingField(field, message)


V1 = ("backstage.io/v1alpha1", "backstage.io/v1beta1")

# kind -> (accepted apiVersions, spec model, whether spec is required)
KINDS: dict[str, tuple[tuple[str, ...], type[_Strict], bool]] = {
    "Component": (V1, ComponentSpec, True),
    "API": (V1, ApiSpec, True),
    "Resource": (V1, ResourceSpec, True),
    "System": (V1, SystemSpec, True),
    "Domain": (V1, DomainSpec, True),
    "Group": (V1, GroupSpec, True),
    "User": (V1, UserSpec, True),
    "Location": (V1, LocationSpec, False),
    "Template": (("scaffolder.backstage.io/v1beta3",), TemplateSpec, True),
    "AiResource": (("backstage.io/v1alpha1",), AiResourceSpec, True),
}

ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "relations", "status"})
