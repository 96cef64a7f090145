"""The catalog's read side: filters, ownership through child groups, graphs, search, paging."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sentier.catalog import (
    EntityFilter,
    descendant_groups,
    entity_graph,
    facets,
    find_entity,
    fulltext_indexed,
    ingest_source,
    list_entities,
    owned_by_group,
    search,
    system_graph,
)
from sentier.store import session_scope
from tests.catalog.builders import Writer, api, component, group, resource, system


@pytest.fixture
def catalog(engine: Engine, write: Writer, tmp_path: Path) -> Engine:
    write(
        "org.catalog.yaml",
        [
            group("platform"),
            group("payments", parent="platform"),
            group("cards", parent="payments"),
            group("other"),
        ],
    )
    labelled = component(
        "checkout",
        owner="payments",
        system="shop",
        providesApis=["checkout-api"],
        consumesApis=["cards-api"],
        dependsOn=["resource:orders-db"],
    )
    labelled["metadata"]["labels"] = {"tier": "tier-1"}
    labelled["metadata"]["annotations"] = {"backstage.io/kubernetes-id": "checkout"}
    labelled["metadata"]["tags"] = ["java", "pci"]
    write(
        "shop.catalog.yaml",
        [
            system("shop", owner="payments"),
            labelled,
            api("checkout-api", owner="payments", system="shop"),
            resource("orders-db", owner="payments", system="shop"),
        ],
    )
    write(
        "cards.catalog.yaml",
        [
            component(
                "card-vault", owner="cards", providesApis=["cards-api"], lifecycle="experimental"
            ),
            api("cards-api", owner="cards"),
        ],
    )
    write("misc.catalog.yaml", [component("legacy", owner="other", type="website")])
    with session_scope(engine) as session:
        report = ingest_source(session, [tmp_path / "tree"])
    assert report.ok, [str(p) for p in report.problems]
    return engine


def _refs(page_items) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.ref for e in page_items]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (
            EntityFilter(kinds=["component"]),
            [
                "component:default/card-vault",
                "component:default/checkout",
                "component:default/legacy",
            ],
        ),
        (EntityFilter(kinds=["Component"], types=["website"]), ["component:default/legacy"]),
        (EntityFilter(lifecycles=["experimental"]), ["component:default/card-vault"]),
        (EntityFilter(owners=["cards"]), ["api:default/cards-api", "component:default/card-vault"]),
        (
            EntityFilter(systems=["shop"]),
            [
                "api:default/checkout-api",
                "component:default/checkout",
                "resource:default/orders-db",
            ],
        ),
        (EntityFilter(tags=["pci"]), ["component:default/checkout"]),
        (EntityFilter(labels=["tier=tier-1"]), ["component:default/checkout"]),
        (EntityFilter(annotations=["backstage.io/kubernetes-id"]), ["component:default/checkout"]),
        (EntityFilter(text="vault"), ["component:default/card-vault"]),
        (
            EntityFilter(fields={"spec.type": ["openapi"], "spec.owner": ["payments"]}),
            ["api:default/checkout-api"],
        ),
        (
            EntityFilter(fields={"relations.dependson": ["resource:default/orders-db"]}),
            ["component:default/checkout"],
        ),
    ],
)
def test_filters(catalog: Engine, flt: EntityFilter, expected: list[str]) -> None:
    with session_scope(catalog) as session:
        assert _refs(list_entities(session, flt).items) == expected


def test_group_owns_through_child_groups(catalog: Engine) -> None:
    with session_scope(catalog) as session:
        assert descendant_groups(session, "group:default/platform") == [
            "group:default/platform",
            "group:default/payments",
            "group:default/cards",
        ]
        owned = {e.ref for e in owned_by_group(session, "group:default/payments")}
        assert owned == {
            "system:default/shop",
            "component:default/checkout",
            "api:default/checkout-api",
            "resource:default/orders-db",
            "component:default/card-vault",
            "api:default/cards-api",
        }
        direct = {e.ref for e in owned_by_group(session, "group:default/payments", recursive=False)}
        assert "component:default/card-vault" not in direct


def test_system_graph_has_members_and_external_dependencies(catalog: Engine) -> None:
    with session_scope(catalog) as session:
        graph = system_graph(session, "system:default/shop")
    assert ("component:default/checkout", "consumesApi", "api:default/cards-api") in graph.edges
    assert ("component:default/checkout", "dependsOn", "resource:default/orders-db") in graph.edges
    assert graph.nodes["api:default/cards-api"]["external"] is True
    assert graph.nodes["resource:default/orders-db"]["external"] is False


def test_entity_graph_depth(catalog: Engine) -> None:
    with session_scope(catalog) as session:
        one = entity_graph(session, "api:default/cards-api", depth=1)
        two = entity_graph(session, "api:default/cards-api", depth=2)
    assert "component:default/card-vault" in one.nodes
    assert "group:default/cards" in one.nodes
    assert "group:default/payments" not in one.nodes  # the owner's parent: two hops away
    assert "group:default/payments" in two.nodes


def test_pagination_walks_everything_once(catalog: Engine) -> None:
    seen: list[str] = []
    cursor = None
    with session_scope(catalog) as session:
        while True:
            page = list_entities(session, limit=3, after=cursor, with_total=True)
            seen += _refs(page.items)
            assert page.total == 11
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 11


def test_facets_count_entities_per_value(catalog: Engine) -> None:
    with session_scope(catalog) as session:
        assert dict(facets(session, "spec.lifecycle")) == {"production": 4, "experimental": 1}
        assert dict(facets(session, "kind"))["Group"] == 4


def test_search_puts_exact_name_first_and_find_accepts_partial_refs(catalog: Engine) -> None:
    with session_scope(catalog) as session:
        assert search(session, "checkout")[0].name == "checkout"
        assert find_entity(session, "checkout") is not None
        assert find_entity(session, "Component:Checkout") is not None
        assert find_entity(session, "nothing-here") is None


def _names(found) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(e.name for e in found)


def test_search_matches_inside_words_and_follows_changes(
    catalog: Engine, write: Writer, tmp_path: Path
) -> None:
    with session_scope(catalog) as session:
        if catalog.dialect.name == "sqlite":
            assert fulltext_indexed(session), "migration 0004 builds the trigram index"
        else:
            indexes = session.execute(
                text("SELECT indexname FROM pg_indexes WHERE tablename = 'entities'")
            ).scalars()
            assert "ix_entities_search_text_trgm" in set(indexes), "migration 0005"
        assert _names(search(session, "heckou")) == ["checkout", "checkout-api"]
        assert _names(search(session, "vault SERVICE")) == ["card-vault"]
        assert _names(search(session, "pc")) == ["checkout"]  # under three characters: scanned
        for odd in ['"', 'a"b', "*", "OR", "NEAR(", "-x", "%", "_"]:
            search(session, odd)  # FTS5 syntax and LIKE wildcards are plain text
        assert search(session, "%") == []
        page = list_entities(session, EntityFilter(text="vault"), with_total=True)
        assert [e.name for e in page.items] == ["card-vault"] and page.total == 1
    renamed = component("renamed", owner="other")
    renamed["metadata"]["description"] = "Mainframe bridge"
    write("misc.catalog.yaml", [renamed])
    with session_scope(catalog) as session:
        assert ingest_source(session, [tmp_path / "tree"]).ok
    with session_scope(catalog) as session:
        assert _names(search(session, "legacy")) == []
        assert _names(search(session, "mainframe")) == ["renamed"]
    (tmp_path / "tree" / "misc.catalog.yaml").unlink()
    with session_scope(catalog) as session:
        assert ingest_source(session, [tmp_path / "tree"]).ok
    with session_scope(catalog) as session:
        assert search(session, "mainframe") == []
