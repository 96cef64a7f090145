"""Backstage's example catalogs ingest cleanly, with the entities and relations Backstage derives.

Expected counts are derived by hand from the files (see each breakdown). The root Location
entities that Backstage generates for registered locations (``generated-<hash>``) are not
counted: they are not in the files.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from sentier.catalog import ingest_source
from sentier.store import session_scope
from sentier.store.models import Entity, Relation


def _ingest_all(engine: Engine, roots: list[Path]) -> list:  # type: ignore[type-arg]
    reports = []
    with session_scope(engine) as session:
        for root in roots:
            reports.append(ingest_source(session, [root], check_dangling=False))
    return reports


def _counts(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    with session_scope(engine) as session:
        kinds = dict(session.execute(select(Entity.kind, func.count()).group_by(Entity.kind)).all())
        # Relations as Backstage shows them: distinct (type, target) on each existing entity.
        visible = (
            select(Relation.source_ref, Relation.type, Relation.target_ref)
            .join(Entity, Entity.ref == Relation.source_ref)
            .distinct()
            .subquery()
        )
        types = dict(
            session.execute(select(visible.c.type, func.count()).group_by(visible.c.type)).all()
        )
    return kinds, types


def test_backstage_example_catalog(engine: Engine, corpora: Path) -> None:
    root = corpora / "backstage" / "backstage-catalog-model"
    reports = _ingest_all(engine, [root / "all.yaml", root / "acme-corp.yaml"])
    assert [str(e) for r in reports for e in r.errors] == []
    kinds, types = _counts(engine)
    # all.yaml: itself + 6 Location files; 3 AI resources, 11 APIs, 13 components, 3 domains,
    # 1 resource, 3 systems. acme-corp.yaml: itself + example-groups in acme/org.yaml; 8 groups;
    # 17 users (guest exists twice: namespaces default and development).
    assert kinds == {
        "Location": 9,
        "AiResource": 3,
        "API": 11,
        "Component": 13,
        "Domain": 3,
        "Resource": 1,
        "System": 3,
        "Group": 8,
        "User": 17,
    }
    assert sum(kinds.values()) == 68
    assert types == {
        # 34 entities carry spec.owner; every owner exists once acme-corp is in.
        "ownedBy": 34,
        "ownerOf": 34,
        # spec.system 11 + subcomponentOf 2 + System.domain 3 + Domain.subdomainOf 2.
        "partOf": 18,
        "hasPart": 18,
        # petstore provides 3 APIs, wayback-archive 1, wayback-search 1.
        "providesApi": 5,
        "apiProvidedBy": 5,
        # wayback-search consumes wayback-archive; www-artist consumes component:artist-lookup.
        "consumesApi": 2,
        "apiConsumedBy": 2,
        # artist-lookup depends on resource:artists-db.
        "dependsOn": 1,
        "dependencyOf": 1,
        # 17 users, one group each.
        "memberOf": 17,
        "hasMember": 17,
        # 7 groups have a parent; the children lists name the same 7 pairs again.
        "childOf": 7,
        "parentOf": 7,
        # code-review-plugin holds 2 skills that are not in the files (dangling, still shown).
        "hasSkill": 2,
    }
    assert sum(types.values()) == 170


def test_create_app_default_catalog(engine: Engine, corpora: Path) -> None:
    root = corpora / "backstage" / "create-app-default"
    # What a new Backstage app registers: examples/entities.yaml, org.yaml, template/template.yaml.
    reports = _ingest_all(
        engine, [root / "entities.yaml", root / "org.yaml", root / "template" / "template.yaml"]
    )
    assert [str(e) for r in reports for e in r.errors] == []
    kinds, types = _counts(engine)
    assert kinds == {"System": 1, "Component": 1, "API": 1, "User": 1, "Group": 1, "Template": 1}
    # System, Component, API and Template are owned (4 pairs); Component and API are part of
    # the system; the component provides the API; the user is a member of guests.
    assert types == {
        "ownedBy": 4,
        "ownerOf": 4,
        "partOf": 2,
        "hasPart": 2,
        "providesApi": 1,
        "apiProvidedBy": 1,
        "memberOf": 1,
        "hasMember": 1,
    }
    assert sum(types.values()) == 16


def test_reingesting_the_example_catalog_changes_nothing(
    sqlite_engine: Engine, corpora: Path
) -> None:
    root = corpora / "backstage" / "backstage-catalog-model"
    _ingest_all(sqlite_engine, [root / "all.yaml", root / "acme-corp.yaml"])
    again = _ingest_all(sqlite_engine, [root / "all.yaml", root / "acme-corp.yaml"])
    assert [(r.files_parsed, r.added, r.updated, r.removed) for r in again] == [
        (0, 0, 0, 0),
        (0, 0, 0, 0),
    ]
    assert sum(r.unchanged for r in again) == 68
