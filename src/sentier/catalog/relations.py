"""Relations derived from entity specs, exactly as Backstage's built-in processors derive them.

Each spec field yields an outgoing relation from the entity and the incoming one from the
target, e.g. ``spec.owner`` gives ``ownedBy`` here and ``ownerOf`` on the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentier.catalog.refs import EntityRef, RefError, parse_ref

OWNED_BY, OWNER_OF = "ownedBy", "ownerOf"
PART_OF, HAS_PART = "partOf", "hasPart"
DEPENDS_ON, DEPENDENCY_OF = "dependsOn", "dependencyOf"
PROVIDES_API, API_PROVIDED_BY = "providesApi", "apiProvidedBy"
CONSUMES_API, API_CONSUMED_BY = "consumesApi", "apiConsumedBy"
MEMBER_OF, HAS_MEMBER = "memberOf", "hasMember"
PARENT_OF, CHILD_OF = "parentOf", "childOf"
# AiResource relations, as Backstage's AiResource catalog model layer defines them.
HAS_SKILL, SKILL_OF = "hasSkill", "skillOf"
HAS_PLUGIN, PLUGIN_OF = "hasPlugin", "pluginOf"

PAIRS = (
    (OWNED_BY, OWNER_OF),
    (PART_OF, HAS_PART),
    (DEPENDS_ON, DEPENDENCY_OF),
    (PROVIDES_API, API_PROVIDED_BY),
    (CONSUMES_API, API_CONSUMED_BY),
    (MEMBER_OF, HAS_MEMBER),
    (PARENT_OF, CHILD_OF),
    (HAS_SKILL, SKILL_OF),
    (HAS_PLUGIN, PLUGIN_OF),
)
INVERSE = {a: b for a, b in PAIRS} | {b: a for a, b in PAIRS}
RELATION_TYPES = tuple(INVERSE)

_OWNER = ("owner", "Group", OWNED_BY)
_SYSTEM = ("system", "System", PART_OF)
_DEPENDS = ("dependsOn", None, DEPENDS_ON)
_DEPENDENCY = ("dependencyOf", None, DEPENDENCY_OF)

# kind -> (spec field, default kind of its references, outgoing relation type)
RULES: dict[str, tuple[tuple[str, str | None, str], ...]] = {
    "Component": (
        _OWNER,
        ("subcomponentOf", "Component", PART_OF),
        ("providesApis", "API", PROVIDES_API),
        ("consumesApis", "API", CONSUMES_API),
        _DEPENDS,
        _DEPENDENCY,
        _SYSTEM,
    ),
    "API": (_OWNER, _SYSTEM),
    "Resource": (_OWNER, _DEPENDS, _DEPENDENCY, _SYSTEM),
    "System": (_OWNER, ("domain", "Domain", PART_OF)),
    "Domain": (_OWNER, ("subdomainOf", "Domain", PART_OF)),
    "User": (("memberOf", "Group", MEMBER_OF),),
    "Group": (
        ("parent", "Group", CHILD_OF),
        ("children", "Group", PARENT_OF),
        ("members", "User", HAS_MEMBER),
    ),
    "Template": (_OWNER,),
    # AiResource: a plugin holds skills, a marketplace holds plugins, a skill depends on skills.
    "AiResource": (
        _OWNER,
        _SYSTEM,
        ("skills", "AiResource", HAS_SKILL),
        ("plugins", "AiResource", HAS_PLUGIN),
        ("dependsOn", "AiResource", DEPENDS_ON),
    ),
}


@dataclass(frozen=True, slots=True)
class DerivedRelation:
    """An outgoing relation and the spec field it came from (for precise error messages)."""

    field: str
    type: str
    target: EntityRef


def derive(
    entity: dict[str, Any], self_ref: EntityRef
) -> tuple[list[DerivedRelation], list[tuple[str, str]]]:
    """Outgoing relations of ``entity``, and (field, message) for references that do not parse."""
    spec = entity.get("spec") or {}
    relations: list[DerivedRelation] = []
    errors: list[tuple[str, str]] = []
    for field, default_kind, rel_type in RULES.get(entity.get("kind", ""), ()):
        value = spec.get(field)
        if value is None:
            continue
        many = isinstance(value, list)
        for index, target in enumerate(value if many else [value]):
            where = f"spec.{field}[{index}]" if many else f"spec.{field}"
            try:
                ref = parse_ref(
                    target, default_kind=default_kind, default_namespace=self_ref.namespace
                )
            except RefError as error:
                errors.append((where, str(error)))
                continue
            relations.append(DerivedRelation(where, rel_type, ref))
    return relations, errors


def both_directions(
    self_ref: EntityRef, outgoing: list[DerivedRelation]
) -> set[tuple[str, str, str]]:
    """(source, type, target) rows for every outgoing relation and its inverse, de-duplicated."""
    rows: set[tuple[str, str, str]] = set()
    me = self_ref.key
    for relation in outgoing:
        target = relation.target.key
        rows.add((me, relation.type, target))
        rows.add((target, INVERSE[relation.type], me))
    return rows
