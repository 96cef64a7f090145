"""The catalog through the JSON API, and the Backstage-compatible endpoints."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier import events
from sentier.store import session_scope
from sentier.store.models import OutboxEvent
from tests.api.conftest import Tokens, wait_for_job
from tests.catalog.builders import component


def test_list_filters_paginates_and_projects(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    page = client.get(
        "/api/v1/entities", params={"kind": "component", "limit": 1}, headers=h
    ).json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next_cursor"]
    rest = client.get(
        "/api/v1/entities",
        params={"kind": "component", "limit": 1, "cursor": page["next_cursor"]},
        headers=h,
    ).json()
    assert [e["metadata"]["name"] for e in page["items"] + rest["items"]] == ["billing", "checkout"]
    assert rest["next_cursor"] is None
    projected = client.get(
        "/api/v1/entities", params={"owner": "team-b", "fields": "kind,metadata.name"}, headers=h
    ).json()
    assert projected["items"] == [{"kind": "Component", "metadata": {"name": "billing"}}]
    backstage_style = client.get(
        "/api/v1/entities", params={"filter": "kind=api,spec.type=openapi"}, headers=h
    )
    assert [e["metadata"]["name"] for e in backstage_style.json()["items"]] == ["checkout-api"]
    bad = client.get("/api/v1/entities", params={"cursor": "%%%"}, headers=h)
    assert bad.status_code == 400 and bad.json()["type"] == "urn:sentier:problem:invalid-cursor"


def test_entity_relations_and_graphs(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    entity = client.get("/api/v1/entities/component/default/checkout", headers=h).json()
    assert entity["metadata"]["uid"] and entity["spec"]["owner"] == "team-a"
    relations = client.get(
        "/api/v1/entities/Component/default/checkout/relations", headers=h
    ).json()
    assert {"type": "dependsOn", "targetRef": "resource:default/orders-db"} in relations
    graph = client.get("/api/v1/systems/default/shop/graph", headers=h).json()
    assert {
        "source": "component:default/checkout",
        "type": "dependsOn",
        "target": "resource:default/orders-db",
    } in graph["edges"]
    neighbourhood = client.get(
        "/api/v1/entities/component/default/checkout/graph?depth=2", headers=h
    ).json()
    assert "group:default/team-a" in {n["ref"] for n in neighbourhood["nodes"]}
    missing = client.get("/api/v1/entities/component/default/ghost", headers=h)
    assert (
        missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    )
    assert missing.json()["type"] == "urn:sentier:problem:entity-not-found"


def test_group_owned_includes_child_groups_and_search(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    owned = client.get("/api/v1/groups/default/team-a/owned", headers=h).json()
    assert owned["groups"] == ["group:default/team-a", "group:default/team-a1"]
    assert [e["name"] for e in owned["owned"]["Resource"]] == ["orders-db"]
    found = client.get("/api/v1/search", params={"q": "checkout"}, headers=h).json()
    assert found["items"][0]["ref"] == "component:default/checkout"
    facets = client.get("/api/v1/facets", params={"facet": ["kind"]}, headers=h).json()
    assert {"value": "Group", "count": 3} in facets["facets"]["kind"]
    narrowed = client.get(
        "/api/v1/facets",
        params={"facet": ["kind", "spec.type"], "kind": "component", "q": "checkout"},
        headers=h,
    ).json()["facets"]
    # Each facet counts what the other filters keep: the kind facet ignores kind=component.
    kinds = {f["value"]: f["count"] for f in narrowed["kind"]}
    assert kinds["Component"] == 1 and "Group" not in kinds
    assert narrowed["spec.type"] == [{"value": "service", "count": 1}]


def test_backstage_compatible_endpoints(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    listed = client.get(
        "/api/catalog/entities",
        params={"filter": ["kind=component,spec.type=service", "kind=api"]},
        headers=h,
    )
    assert sorted(e["metadata"]["name"] for e in listed.json()) == [
        "billing",
        "checkout",
        "checkout-api",
    ]
    assert all(
        "uid" in e["metadata"] and all("targetRef" in r for r in e["relations"])
        for e in listed.json()
    )
    one = client.get("/api/catalog/entities/by-name/component/default/checkout", headers=h).json()
    assert one["kind"] == "Component"
    by_uid = client.get(f"/api/catalog/entities/by-uid/{one['metadata']['uid']}", headers=h).json()
    assert by_uid["metadata"]["name"] == "checkout"
    missing = client.get("/api/catalog/entities/by-name/component/default/ghost", headers=h)
    assert missing.status_code == 404 and missing.json()["error"]["name"] == "NotFoundError"
    facets = client.get(
        "/api/catalog/entity-facets", params={"facet": "spec.type"}, headers=h
    ).json()
    assert {"value": "service", "count": 2} in facets["facets"]["spec.type"]
    filtered = client.get(
        "/api/catalog/entity-facets",
        params={"facet": "kind", "filter": "spec.owner=team-b"},
        headers=h,
    )
    assert filtered.json()["facets"]["kind"] == [{"value": "Component", "count": 1}]


def test_source_lifecycle_register_refresh_unregister(
    client: TestClient, tokens: Tokens, tmp_path: Path, app_engine: Engine
) -> None:
    h = tokens.header("admin")
    root = tmp_path / "more"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(yaml.safe_dump(component("search", owner="team-b")))
    accepted = client.post("/api/v1/sources", headers=h, json={"name": "more", "path": str(root)})
    assert accepted.status_code == 202
    job = wait_for_job(client, accepted.json()["job"], h)
    assert job["status"] == "succeeded" and job["summary"]["added"] == 1
    source_id = accepted.json()["source"]["id"]
    assert (
        client.post(
            "/api/v1/sources", headers=h, json={"name": "more", "path": str(root)}
        ).status_code
        == 409
    )
    assert (
        client.post(
            "/api/v1/sources", headers=h, json={"name": "x", "path": "/no/such/dir"}
        ).status_code
        == 400
    )
    again = wait_for_job(
        client, client.post(f"/api/v1/sources/{source_id}/refresh", headers=h).json()["job"], h
    )
    assert again["summary"]["unchanged"] == 1 and again["summary"]["added"] == 0
    removed = client.delete(f"/api/v1/sources/{source_id}", headers=h).json()
    assert removed == {"source": "more", "removed": 1}
    assert client.get("/api/v1/entities/component/default/search", headers=h).status_code == 404
    with session_scope(app_engine) as session:
        types = [
            e.type
            for e in session.scalars(
                select(OutboxEvent).where(OutboxEvent.subject == "component:default/search")
            )
        ]
    assert types == [events.CATALOG_ENTITY_ADDED, events.CATALOG_ENTITY_REMOVED]


def test_push_replaces_the_pushed_set(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("editor")
    doc = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
    first = client.post(
        "/api/v1/sources/push",
        headers=h,
        json={
            "name": "pushed",
            "files": {"a.yaml": doc.format("one"), "b.yaml": doc.format("two")},
        },
    )
    wait_for_job(client, first.json()["job"], h)
    second = client.post(
        "/api/v1/sources/push",
        headers=h,
        json={"name": "pushed", "files": {"a.yaml": doc.format("one")}},
    )
    job = wait_for_job(client, second.json()["job"], h)
    assert (job["summary"]["removed"], job["summary"]["unchanged"]) == (1, 1)
    traversal = client.post(
        "/api/v1/sources/push",
        headers=h,
        json={"name": "evil", "files": {"../../x.yaml": doc.format("x")}},
    )
    assert (
        traversal.status_code == 400
        and traversal.json()["type"] == "urn:sentier:problem:bad-file-name"
    )


def test_health_ready_and_metrics(client: TestClient, tokens: Tokens) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}
    assert client.get("/metrics").status_code == 401
    client.get("/api/v1/entities", headers=tokens.header("viewer"))
    text = client.get("/metrics", headers=tokens.header("viewer")).text
    assert 'sentier_catalog_entities{kind="Component"} 2.0' in text
    assert 'sentier_http_requests_total{method="GET",route="/api/v1/entities",status="200"}' in text


def test_validation_errors_are_problems(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/entities", params={"limit": 0}, headers=tokens.header("viewer"))
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "urn:sentier:problem:invalid-request" and body["detail"].startswith(
        "query.limit:"
    )


def test_source_ids_beyond_64_bits_are_refused_not_a_server_error(
    client: TestClient, tokens: Tokens
) -> None:
    h = tokens.header("admin")
    huge = 2**63
    assert client.delete(f"/api/v1/sources/{huge}", headers=h).status_code == 422
    assert client.post(f"/api/v1/sources/{huge}/refresh", headers=h).status_code == 422
