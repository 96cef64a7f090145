"""Ingestion reconciles a source with the catalog: add, update, remove, atomically, with events."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from sentier import events
from sentier.catalog import as_backstage, get_entity, ingest_source, relations_of
from sentier.store import session_scope
from sentier.store.models import Entity, OutboxEvent
from tests.catalog.builders import Writer, component, group, resource, system


def _ingest(engine: Engine, *roots: Path, name: str | None = None):  # type: ignore[no-untyped-def]
    with session_scope(engine) as session:
        return ingest_source(session, list(roots), name=name)


def _events(engine: Engine) -> list[OutboxEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))


def _count(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(Entity)) or 0


@pytest.fixture
def tree(write: Writer, tmp_path: Path) -> Path:
    write("org/catalog-info.yaml", [group("team-a"), group("team-b", parent="team-a")])
    write(
        "payments/catalog-info.yaml",
        [
            system("payments"),
            component("checkout", system="payments", dependsOn=["resource:orders-db"]),
        ],
    )
    write("payments/db.catalog.yaml", [resource("orders-db", system="payments")])
    return tmp_path / "tree"


def test_first_ingestion_adds_entities_relations_and_one_event_each(
    engine: Engine, tree: Path
) -> None:
    report = _ingest(engine, tree)
    assert report.ok and report.problems == []
    assert (report.files_total, report.added, report.updated, report.removed) == (3, 5, 0, 0)
    added = [e for e in _events(engine) if e.type == events.CATALOG_ENTITY_ADDED]
    assert sorted(e.subject for e in added) == [
        "component:default/checkout",
        "group:default/team-a",
        "group:default/team-b",
        "resource:default/orders-db",
        "system:default/payments",
    ]
    checkout = next(e for e in added if e.subject == "component:default/checkout")
    assert checkout.owner_ref == "group:default/team-a"
    assert checkout.data is not None and checkout.data["after"]["metadata"]["name"] == "checkout"
    with session_scope(engine) as session:
        relations = {
            (r.type, r.target_ref) for r in relations_of(session, "component:default/checkout")
        }
        assert relations == {
            ("ownedBy", "group:default/team-a"),
            ("partOf", "system:default/payments"),
            ("dependsOn", "resource:default/orders-db"),
        }
        # The incoming side is visible on the targets, as in Backstage.
        owner = {(r.type, r.target_ref) for r in relations_of(session, "group:default/team-a")}
        assert ("ownerOf", "component:default/checkout") in owner
        assert ("parentOf", "group:default/team-b") in owner


def test_reingestion_without_change_parses_nothing_and_emits_nothing(
    engine: Engine, tree: Path
) -> None:
    _ingest(engine, tree)
    before = len(_events(engine))
    report = _ingest(engine, tree)
    assert (report.files_parsed, report.added, report.updated, report.removed) == (0, 0, 0, 0)
    assert report.unchanged == 5
    assert len(_events(engine)) == before


def test_changed_file_updates_in_place_keeping_the_uid(
    engine: Engine, tree: Path, write: Writer
) -> None:
    _ingest(engine, tree)
    with session_scope(engine) as session:
        uid = get_entity(session, "component:default/checkout").id  # type: ignore[union-attr]
    changed = component("checkout", owner="team-b", system="payments")
    write("payments/catalog-info.yaml", [system("payments"), changed])
    report = _ingest(engine, tree)
    assert (
        report.files_parsed,
        report.added,
        report.updated,
        report.removed,
        report.unchanged,
    ) == (1, 0, 1, 0, 4)
    with session_scope(engine) as session:
        entity = get_entity(session, "component:default/checkout")
        assert (
            entity is not None and entity.id == uid and entity.owner_ref == "group:default/team-b"
        )
        shown = as_backstage(entity, relations_of(session, entity.ref))
        assert shown["metadata"]["uid"] == uid
        assert {"type": "dependsOn", "targetRef": "resource:default/orders-db"} not in shown[
            "relations"
        ]
    (update,) = [e for e in _events(engine) if e.type == events.CATALOG_ENTITY_UPDATED]
    assert update.data is not None
    assert update.data["before"]["spec"]["owner"] == "team-a"
    assert update.data["after"]["spec"]["owner"] == "team-b"


def test_removed_file_and_removed_document_remove_their_entities(
    engine: Engine, tree: Path, write: Writer
) -> None:
    _ingest(engine, tree)
    (tree / "payments" / "db.catalog.yaml").unlink()
    write("org/catalog-info.yaml", [group("team-a")])
    report = _ingest(engine, tree)
    assert (report.removed, report.files_removed) == (2, 1)
    removed = sorted(
        e.subject or "" for e in _events(engine) if e.type == events.CATALOG_ENTITY_REMOVED
    )
    assert removed == ["group:default/team-b", "resource:default/orders-db"]
    with session_scope(engine) as session:
        assert get_entity(session, "resource:default/orders-db") is None
        rels = {(r.type, r.target_ref) for r in relations_of(session, "group:default/team-a")}
        assert ("parentOf", "group:default/team-b") not in rels


def test_bad_input_keeps_valid_entities_and_reports_file_line_field(
    engine: Engine, tree: Path, write: Writer
) -> None:
    bad = component("refunds")
    del bad["spec"]["owner"]
    path = write("refunds/catalog-info.yaml", [bad, component("payouts")])
    report = _ingest(engine, tree)
    assert not report.ok
    (error,) = report.errors
    assert (error.file, error.line, error.field, error.message) == (
        str(path.resolve()),
        8,
        "spec.owner",
        "required",
    )
    assert report.added == 6
    failed = [e for e in _events(engine) if e.type == events.CATALOG_INGESTION_FAILED]
    assert len(failed) == 1 and failed[0].data is not None and failed[0].data["errors"] == 1
    # The unchanged bad file keeps being reported on the next run, not silently forgotten.
    again = _ingest(engine, tree)
    assert [str(e) for e in again.errors] == [str(error)]


def test_two_sources_claiming_one_entity_is_a_conflict(
    engine: Engine, write: Writer, tmp_path: Path
) -> None:
    first = write("a/catalog-info.yaml", [component("shared")])
    second = write("b/catalog-info.yaml", [component("shared", owner="team-b")])
    assert _ingest(engine, first).ok
    report = _ingest(engine, second)
    (error,) = report.errors
    assert error.code == "conflict" and str(first.resolve()) in error.message
    with session_scope(engine) as session:
        assert get_entity(session, "component:default/shared").owner_ref == "group:default/team-a"  # type: ignore[union-attr]


def test_failure_midway_rolls_back_and_keeps_what_was_stored(
    engine: Engine, tree: Path, write: Writer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingest(engine, tree)
    before_events = len(_events(engine))
    write("payments/catalog-info.yaml", [system("payments"), component("checkout", owner="team-b")])
    write("new/catalog-info.yaml", [component("brand-new")])

    import sentier.catalog.ingest as ingest_module

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingest_module, "bulk_insert", explode)
    with pytest.raises(RuntimeError):
        _ingest(engine, tree)
    monkeypatch.undo()
    with session_scope(engine) as session:
        assert get_entity(session, "component:default/brand-new") is None
        assert get_entity(session, "component:default/checkout").owner_ref == "group:default/team-a"  # type: ignore[union-attr]
    assert len(_events(engine)) == before_events
    # And the next run, which succeeds, sees the changes as changes.
    report = _ingest(engine, tree)
    assert (report.added, report.updated) == (1, 1)


def test_locations_are_followed_with_globs_and_cycles_read_once(
    engine: Engine, write: Writer, tmp_path: Path
) -> None:
    location = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "root"},
        "spec": {"targets": ["./teams/*.yaml", "./loop.yaml"]},
    }
    loop = {**location, "metadata": {"name": "loop"}, "spec": {"target": "./root.yaml"}}
    root = write("root.yaml", [location])
    write("loop.yaml", [loop])
    write("teams/a.yaml", [group("team-a")])
    write("teams/b.yaml", [group("team-b")])
    report = _ingest(engine, root)
    assert report.ok, [str(p) for p in report.problems]
    assert (report.files_total, report.added) == (4, 4)


def test_placeholder_target_change_is_seen_without_touching_the_descriptor(
    engine: Engine, write: Writer, tmp_path: Path
) -> None:
    doc = component("docs")
    doc["metadata"]["description"] = {"$text": "./README.txt"}
    path = write("docs/catalog-info.yaml", [doc])
    (path.parent / "README.txt").write_text("first")
    _ingest(engine, path)
    (path.parent / "README.txt").write_text("second")
    report = _ingest(engine, path)
    assert report.updated == 1
    with session_scope(engine) as session:
        assert (
            get_entity(session, "component:default/docs").body["metadata"]["description"]
            == "second"
        )  # type: ignore[union-attr]


def test_dangling_relations_are_kept_and_reported_with_their_line(
    engine: Engine, write: Writer
) -> None:
    path = write(
        "svc/catalog-info.yaml",
        [component("lonely", owner="team-nobody", dependsOn=["resource:ghost"])],
    )
    report = _ingest(engine, path)
    dangling = sorted((p.field, p.line, p.message) for p in report.warnings)
    assert dangling == [
        (
            "spec.dependsOn[0]",
            13,
            "dependsOn resource:default/ghost: no such entity (dangling relation)",
        ),
        ("spec.owner", 11, "ownedBy group:default/team-nobody: no such entity (dangling relation)"),
    ]
    with session_scope(engine) as session:
        assert {r.type for r in relations_of(session, "component:default/lonely")} == {
            "ownedBy",
            "dependsOn",
        }


def test_a_thousand_entities_give_a_thousand_events(engine: Engine, write: Writer) -> None:
    write("many/catalog-info.yaml", [component(f"svc-{i:04d}") for i in range(1000)])
    report = _ingest(
        engine, write("many/catalog-info.yaml", [component(f"svc-{i:04d}") for i in range(1000)])
    )
    assert report.added == 1000
    assert _count(engine) == 1000
    assert len([e for e in _events(engine) if e.type == events.CATALOG_ENTITY_ADDED]) == 1000


def test_duplicate_of_an_entity_in_an_unchanged_file_is_caught(
    engine: Engine, write: Writer, tmp_path: Path
) -> None:
    write("a/catalog-info.yaml", [component("shared", owner="team-a")])
    root = tmp_path / "tree"
    assert _ingest(engine, root).ok
    # A new file, read after the unchanged one, defines the same entity again.
    write("b/catalog-info.yaml", [component("shared", owner="team-b")])
    report = _ingest(engine, root)
    (error,) = report.errors
    assert error.code == "duplicate" and error.file == str(
        (root / "b" / "catalog-info.yaml").resolve()
    )
    assert "already defined at" in error.message and "/a/catalog-info.yaml" in error.message
    with session_scope(engine) as session:
        assert get_entity(session, "component:default/shared").owner_ref == "group:default/team-a"  # type: ignore[union-attr]
    # Nothing changed since: the error is still reported, and the entity still comes from a/.
    again = _ingest(engine, root)
    assert [e.code for e in again.errors] == ["duplicate"] and again.files_parsed == 0
