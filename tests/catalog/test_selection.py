"""Backstage's selection semantics in the catalog domain: filter parameters, predicates, order,
keyset pages and streamed lists, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select

from sentier import catalog
from sentier.catalog import Order, Position, SelectionError
from sentier.store import session_scope
from sentier.store.models import CatalogFile, Entity, OutboxEvent
from tests.catalog.builders import api, component, group, resource, system


def _docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        group("team-a"),
        group("team-b"),
        system("shop"),
        component("checkout", system="shop", providesApis=["checkout-api"]),
        api("checkout-api", system="shop"),
        resource("orders-db", owner="team-b", system="shop"),
        component("billing", owner="team-b"),
    ]
    docs[6]["metadata"]["tags"] = ["java", "payments"]
    docs[6]["metadata"]["labels"] = {"tier": "1"}
    # Ties and missing values for the ordering tests: spec.type repeats, systems have none.
    for index in range(12):
        doc = component(f"svc-{index:02d}", owner="team-a" if index % 2 else "team-b")
        doc["spec"]["type"] = ("service", "website", "library")[index % 3]
        docs.append(doc)
    docs.extend(system(f"sys-{index}") for index in range(3))
    return docs


@pytest.fixture
def cat(engine: Engine, tmp_path: Path) -> Engine:
    root = tmp_path / "cat"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(_docs(), sort_keys=False))
    with session_scope(engine) as session:
        assert catalog.ingest_source(session, [root], name="base").ok
    return engine


def _names(engine: Engine, condition: Any) -> list[str]:
    with session_scope(engine) as session:
        query = select(Entity.name).order_by(Entity.name)
        if condition is not None:
            query = query.where(condition)
        return list(session.scalars(query))


def test_filter_parameters_or_and_and_values_of_one_key_or(cat: Engine) -> None:
    names = _names(cat, catalog.filter_condition(["kind=component,spec.type=website", "kind=api"]))
    assert names == ["checkout-api", "svc-01", "svc-04", "svc-07", "svc-10"]
    # Two values for one key in one parameter: either (Backstage), not both (never true).
    assert _names(cat, catalog.filter_condition(["kind=api,kind=resource"])) == [
        "checkout-api",
        "orders-db",
    ]
    # A bare key: the field exists. Case does not matter, neither in keys nor in values.
    assert _names(cat, catalog.filter_condition(["Kind=COMPONENT,spec.system"])) == ["checkout"]
    assert _names(cat, catalog.filter_condition(["metadata.tags=JAVA"])) == ["billing"]
    assert _names(
        cat, catalog.filter_condition(["relations.ownedBy=group:default/team-b,kind=resource"])
    ) == ["orders-db"]
    assert catalog.filter_condition(["", " , "]) is None
    with pytest.raises(SelectionError, match="invalid filter statement '=x'"):
        catalog.filter_condition(["kind=api,=x"])
    with pytest.raises(SelectionError, match="at most"):
        catalog.filter_condition([f"kind=k{i}" for i in range(101)])


def test_predicates_select_like_backstage(cat: Engine) -> None:
    def names(predicate: Any) -> list[str]:
        return _names(cat, catalog.predicate_condition(predicate))

    assert names({"kind": "API"}) == ["checkout-api"]
    assert names({"kind": "component", "spec.owner": "team-b", "spec.type": "service"}) == [
        "billing",
        "svc-00",
        "svc-06",
    ]
    assert names({"$any": [{"kind": "api"}, {"metadata.name": {"$hasPrefix": "ORD"}}]}) == [
        "checkout-api",
        "orders-db",
    ]
    assert names(
        {"$all": [{"kind": "system"}, {"$not": {"metadata.name": {"$in": ["sys-0", "sys-1"]}}}]}
    ) == ["shop", "sys-2"]
    assert names({"kind": "component", "spec.system": {"$exists": True}}) == ["checkout"]
    assert "checkout" not in names({"kind": "component", "spec.system": {"$exists": False}})
    assert names({"metadata.tags": {"$contains": "payments"}}) == ["billing"]
    assert names({"metadata.labels.tier": 1}) == ["billing"]  # numbers compare as text
    assert names({"kind": {"$in": []}}) == []
    assert names({"$all": []}) == _names(cat, None)
    assert names({"$any": []}) == []
    # A % in a prefix is a character, not a wildcard.
    assert names({"metadata.name": {"$hasPrefix": "%"}}) == []


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ([{"kind": "api"}], "must be an object"),
        ({"$all": {"kind": "api"}}, r"\$all takes a list"),
        ({"$all": [], "kind": "api"}, "must stand alone"),
        ({"$regex": "x"}, r"unknown query operator \$regex"),
        ({"kind": {"$regex": ".*"}}, r"kind: expected a value, \$exists, \$in"),
        ({"kind": None}, "kind: expected a value"),
        ({"kind": {"$in": [{"a": 1}]}}, "kind: expected a value"),
    ],
)
def test_malformed_predicates_are_refused_with_the_part_named(predicate: Any, message: str) -> None:
    with pytest.raises(SelectionError, match=message):
        catalog.predicate_condition(predicate)


def test_predicates_are_bounded_in_depth_and_size() -> None:
    deep: Any = {"kind": "api"}
    for _ in range(20):
        deep = {"$not": deep}
    with pytest.raises(SelectionError, match="nests at most"):
        catalog.predicate_condition(deep)
    wide = {"$any": [{"kind": f"k{i}"} for i in range(600)]}
    with pytest.raises(SelectionError, match="at most 500 parts"):
        catalog.predicate_condition(wide)


def test_predicate_matches_records_the_same_way() -> None:
    record = {"id": "12", "type": "file", "target": "/srv/Catalog"}
    assert catalog.predicate_matches({"type": "FILE"}, record)
    assert catalog.predicate_matches({"target": {"$hasPrefix": "/srv/c"}}, record)
    assert catalog.predicate_matches({"id": {"$in": [12, 13]}}, record)
    assert not catalog.predicate_matches({"$not": {"type": "file"}}, record)
    assert catalog.predicate_matches(
        {"$any": [{"type": "url"}, {"missing": {"$exists": False}}]}, record
    )
    with pytest.raises(SelectionError):
        catalog.predicate_matches({"type": {"$nope": 1}}, record)


def _expected(engine: Engine, order: Order | None) -> list[str]:
    """The order Backstage gives: by value, entities without one last, ties by reference in
    the same direction."""
    with session_scope(engine) as session:
        rows = session.execute(select(Entity.ref, Entity.body)).all()
    if order is None:
        return sorted(ref for ref, _ in rows)

    def value(body: dict[str, Any]) -> str | None:
        node: Any = body
        for part in order.field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return None if node is None else str(node).lower()

    present = sorted(
        ((value(body), ref) for ref, body in rows if value(body) is not None),
        reverse=order.descending,
    )
    missing = sorted((ref for ref, body in rows if value(body) is None), reverse=order.descending)
    return [ref for _, ref in present] + missing


@pytest.mark.parametrize(
    "order",
    [None, Order("spec.type"), Order("spec.type", descending=True), Order("metadata.name", True)],
)
def test_keyset_pages_walk_forward_and_back_without_gaps_or_repeats(
    cat: Engine, order: Order | None
) -> None:
    expected = _expected(cat, order)
    forward: list[str] = []
    pages: list[catalog.QueryPage] = []
    position: Position | None = None
    with session_scope(cat) as session:
        while True:
            page = catalog.query_page(session, None, order, limit=4, position=position)
            pages.append(page)
            forward += [d["metadata"]["name"] for d in page.documents]
            assert page.more_before == (position is not None)
            if not page.more_after:
                break
            assert page.last is not None
            position = Position(page.last.value, page.last.ref)
        assert len(forward) == len(expected)
        assert forward == [ref.split("/", 1)[1] for ref in expected]
        # Back from the last page, one page at a time, to the first.
        backward: list[list[str]] = []
        first = pages[-1].first
        while first is not None:
            page = catalog.query_page(
                session, None, order, limit=4, position=Position(first.value, first.ref, True)
            )
            backward.insert(0, [d["metadata"]["name"] for d in page.documents])
            assert page.more_after
            first = page.first if page.more_before else None
        walked = [name for page_names in backward for name in page_names]
        assert walked + [d["metadata"]["name"] for d in pages[-1].documents] == forward


def test_a_first_page_may_start_at_an_offset_and_filter(cat: Engine) -> None:
    condition = catalog.filter_condition(["kind=component"])
    with session_scope(cat) as session:
        page = catalog.query_page(session, condition, Order("metadata.name"), limit=3, offset=2)
        assert [d["metadata"]["name"] for d in page.documents] == ["svc-00", "svc-01", "svc-02"]
        assert page.more_before and page.more_after
        assert catalog.count_selected(session, condition) == 14
        assert catalog.query_page(session, condition, None, limit=0).documents == []


def test_streamed_lists_come_in_batches_in_order(cat: Engine) -> None:
    with session_scope(cat) as session:
        batches = list(
            catalog.stream_documents(
                session, None, [Order("spec.type"), Order("metadata.name", True)], batch=4
            )
        )
        assert all(len(batch) <= 4 for batch in batches) and len(batches) == 6
        refs = [f"{d['kind'].lower()}:default/{d['metadata']['name']}" for b in batches for d in b]
        by_type = _expected(cat, Order("spec.type"))
        assert sorted(refs) == sorted(by_type)
        assert [r for r in refs if r.startswith("component:default/svc")][:4] == [
            "component:default/svc-11",
            "component:default/svc-08",
            "component:default/svc-05",
            "component:default/svc-02",
        ]
        assert all("uid" in d["metadata"] and "relations" in d for b in batches for d in b)
        window = list(
            catalog.stream_documents(session, None, [Order("metadata.name")], offset=3, limit=5)
        )
        assert [d["metadata"]["name"] for b in window for d in b] == [
            "orders-db",
            "shop",
            "svc-00",
            "svc-01",
            "svc-02",
        ]
        assert list(catalog.stream_documents(session, None, limit=0)) == []
        assert catalog.has_more(session, None, 20) and not catalog.has_more(session, None, 22)


def test_documents_by_refs_keep_order_and_say_none(cat: Engine) -> None:
    with session_scope(cat) as session:
        docs = catalog.documents_by_refs(
            session,
            ["api:default/checkout-api", "component:ghost", "not a ref:/", "Component:billing"],
        )
        assert [d["metadata"]["name"] if d else None for d in docs] == [
            "checkout-api",
            None,
            None,
            "billing",
        ]
        only_api = catalog.documents_by_refs(
            session,
            ["component:default/checkout", "api:default/checkout-api"],
            catalog.predicate_condition({"kind": "api"}),
        )
        assert only_api[0] is None and only_api[1] is not None


def test_removing_an_entity_is_an_event_and_the_next_ingestion_heals_it(
    cat: Engine, tmp_path: Path
) -> None:
    with session_scope(cat) as session:
        uid = session.scalar(select(Entity.id).where(Entity.ref == "component:default/billing"))
        assert uid is not None
        assert catalog.remove_entity(session, uid) == "component:default/billing"
        assert catalog.remove_entity(session, uid) is None
    with session_scope(cat) as session:
        assert session.get(Entity, uid) is None
        event = session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject == "component:default/billing")
        ).all()[-1]
        assert event.type == "io.sentier.catalog.entity.removed"
        assert session.scalar(select(CatalogFile.sha256)) == ""
        report = catalog.ingest_source(session, [tmp_path / "cat"], name="base")
        assert report.added == 1 and report.removed == 0
    with session_scope(cat) as session:
        assert catalog.get_entity(session, "component:default/billing") is not None


def test_ancestry_follows_location_entities_up(engine: Engine, tmp_path: Path) -> None:
    root = tmp_path / "tree"
    (root / "a" / "b").mkdir(parents=True)
    location = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": "top"},
        "spec": {"type": "file", "target": "./a/catalog-info.yaml"},
    }
    inner = json.loads(json.dumps(location))
    inner["metadata"]["name"] = "inner"
    inner["spec"]["target"] = "./b/catalog-info.yaml"
    (root / "catalog-info.yaml").write_text(yaml.safe_dump(location))
    (root / "a" / "catalog-info.yaml").write_text(yaml.safe_dump(inner))
    (root / "a" / "b" / "catalog-info.yaml").write_text(yaml.safe_dump(component("deep")))
    with session_scope(engine) as session:
        assert catalog.ingest_source(session, [root], name="tree").ok
    with session_scope(engine) as session:
        items = catalog.ancestry(session, "component:default/deep")
        assert items is not None
        assert [(e["metadata"]["name"], parents) for e, parents in items] == [
            ("deep", ["location:default/inner"]),
            ("inner", ["location:default/top"]),
            ("top", []),
        ]
        assert catalog.ancestry(session, "component:default/ghost") is None
