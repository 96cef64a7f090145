"""What allocation needs to know of the catalog, read once through its public functions.

A plain snapshot (entities by name, owners, systems, the group tree, cloud resource ids and
accounts declared in annotations) so that allocation itself is a pure function of billing
keys, this snapshot and the rules, and runs the same whatever engine computed the keys.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

RESOURCE_IDS_ANNOTATION = "sentier.io/cloud-resource-ids"
ACCOUNTS_ANNOTATION = "sentier.io/cloud-accounts"
COST_CENTER_ANNOTATION = "sentier.io/cost-center"
UNALLOCATED = "unallocated"


@dataclass(frozen=True)
class EntityInfo:
    ref: str
    kind: str
    name: str
    owner_ref: str | None
    system_ref: str | None
    annotations: dict[str, str] = field(default_factory=dict)
    parent_ref: str | None = None  # groups only


def split_list(value: str | None) -> list[str]:
    """Annotation lists are comma or whitespace separated."""
    return [part for part in (value or "").replace(",", " ").split() if part]


@dataclass
class CatalogSnapshot:
    entities: dict[str, EntityInfo] = field(default_factory=dict)

    @classmethod
    def from_entities(cls, entities: Iterable[EntityInfo]) -> CatalogSnapshot:
        return cls({e.ref: e for e in entities})

    def by_name(self, kinds: Iterable[str]) -> dict[str, EntityInfo]:
        """Lower-cased name -> entity, over ``kinds`` (first kind wins on a clash)."""
        out: dict[str, EntityInfo] = {}
        for kind in reversed(list(kinds)):
            for entity in self.entities.values():
                if entity.kind == kind.lower():
                    out[entity.name.lower()] = entity
        return out

    def with_annotation(self, annotation: str) -> dict[str, EntityInfo]:
        """Each value listed in ``annotation`` (lower-cased) -> the entity declaring it."""
        out: dict[str, EntityInfo] = {}
        for entity in sorted(self.entities.values(), key=lambda e: e.ref):
            for value in split_list(entity.annotations.get(annotation)):
                out.setdefault(value.lower(), entity)
        return out

    def group_parent(self) -> dict[str, str | None]:
        return {e.ref: e.parent_ref for e in self.entities.values() if e.kind == "group"}

    def ancestors(self, ref: str) -> list[str]:
        """The group and its parents up to the root, cycle-safe."""
        parents = self.group_parent()
        chain, current = [], ref
        while current and current not in chain:
            chain.append(current)
            current = parents.get(current) or ""
        return chain

    def fingerprint(self) -> str:
        digest = hashlib.sha1()
        for ref in sorted(self.entities):
            e = self.entities[ref]
            digest.update(
                repr(
                    (ref, e.owner_ref, e.system_ref, e.parent_ref, sorted(e.annotations.items()))
                ).encode("utf-8")
            )
        return digest.hexdigest()


def load_snapshot(session: Session) -> CatalogSnapshot:
    """Groups, systems, components and resources of the catalog, with what allocation uses."""
    from sentier.catalog import EntityFilter, list_entities

    kinds = ["Group", "System", "Component", "Resource", "Domain"]
    infos: list[EntityInfo] = []
    after: str | None = None
    while True:
        page = list_entities(session, EntityFilter(kinds=kinds), limit=1000, after=after)
        for entity in page.items:
            body: dict[str, Any] = entity.body or {}
            metadata = body.get("metadata") or {}
            spec = body.get("spec") or {}
            annotations = {str(k): str(v) for k, v in (metadata.get("annotations") or {}).items()}
            parent = None
            if entity.kind == "Group" and spec.get("parent"):
                parent = _group_ref(str(spec["parent"]), entity.namespace)
            infos.append(
                EntityInfo(
                    entity.ref,
                    entity.kind.lower(),
                    entity.name,
                    entity.owner_ref,
                    entity.system_ref,
                    annotations,
                    parent,
                )
            )
        if page.next_cursor is None:
            break
        after = page.next_cursor
    return CatalogSnapshot.from_entities(infos)


def _group_ref(value: str, namespace: str) -> str:
    from sentier.catalog import RefError, parse_ref

    try:
        return parse_ref(value, default_kind="group", default_namespace=namespace).key
    except RefError:
        return value.lower()
