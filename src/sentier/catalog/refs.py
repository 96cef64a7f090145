"""Entity references: ``[kind:][namespace/]name``, parsed and printed the way Backstage does.

References compare case-insensitively; sentier keeps them lower-cased (``group:default/team-a``)
wherever they are stored or joined.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_NAMESPACE = "default"


class RefError(ValueError):
    """A reference that does not follow ``[kind:][namespace/]name``."""


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @property
    def key(self) -> str:
        """The lower-cased string form, used for storage and comparison."""
        return str(self)


def parse_ref(
    ref: str,
    *,
    default_kind: str | None = None,
    default_namespace: str = DEFAULT_NAMESPACE,
) -> EntityRef:
    """Parse a string reference, filling in Backstage's contextual defaults.

    Follows Backstage's ``parseEntityRef``: a ``/`` before the first ``:`` makes the rest the
    name; empty parts are refused; a missing kind is an error unless the context gives one.
    """
    if not isinstance(ref, str):
        raise RefError(f"entity reference must be a string, got {type(ref).__name__}")
    ref = ref.strip()
    colon = ref.find(":")
    slash = ref.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = None if colon == -1 else ref[:colon]
    namespace = None if slash == -1 else ref[colon + 1 : slash]
    name = ref[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise RefError(
            f'entity reference "{ref}" was not on the form [<kind>:][<namespace>/]<name>'
        )
    kind = kind or default_kind
    if not kind:
        raise RefError(
            f'entity reference "{ref}" had missing or empty kind '
            '(e.g. did not start with "component:" or similar)'
        )
    return EntityRef(kind.lower(), (namespace or default_namespace).lower(), name.lower())


def ref_key(kind: str, namespace: str, name: str) -> str:
    """The stored form of an entity's own reference."""
    return f"{kind}:{namespace}/{name}".lower()
