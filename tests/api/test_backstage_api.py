"""``/api/catalog``: Backstage's catalog routes with their semantics, errors in Backstage's
shape, the API's roles and audit trail, on SQLite and PostgreSQL. (The real Backstage client
runs against a real server in ``test_backstage_client``.)"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier.store import session_scope
from sentier.store.models import AuditEvent
from tests.api.conftest import Tokens, wait_for_job
from tests.catalog.builders import component

API = "/api/catalog"


def _names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["metadata"]["name"] if e else None for e in response.json()]


def _backstage_error(response: Any, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"]["name"] == name and body["response"]["statusCode"] == status
    assert body["request"]["method"] and body["request"]["url"].startswith(API)
    return str(body["error"]["message"])


def test_entities_filters_order_fields_and_paging(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    get = lambda **params: client.get(f"{API}/entities", params=params, headers=h)  # noqa: E731
    assert sorted(_names(get(filter=["kind=component,spec.type=service", "kind=api"]))) == [
        "billing",
        "checkout",
        "checkout-api",
    ]
    assert sorted(_names(get(filter="kind=api,kind=resource"))) == ["checkout-api", "orders-db"]
    ordered = get(filter="kind=group", order="desc:metadata.name", fields="metadata.name,kind")
    assert ordered.json() == [
        {"metadata": {"name": "team-b"}, "kind": "Group"},
        {"metadata": {"name": "team-a1"}, "kind": "Group"},
        {"metadata": {"name": "team-a"}, "kind": "Group"},
    ]
    # Entities without the ordered field come last, in either direction.
    assert (
        _names(get(order=["desc:spec.system", "asc:metadata.name"], filter="kind=component"))[-1]
        == "billing"
    )
    page = get(order="asc:metadata.name", limit=3, offset=1)
    assert _names(page) == ["checkout", "checkout-api", "orders-db"]
    link = page.headers["link"]
    assert link.endswith('>; rel="next"') and "offset" not in link
    following = client.get(link[1 : link.index(">")], headers=h)
    assert _names(following) == ["shop", "team-a", "team-a1"]
    assert "link" in following.headers
    last = client.get(
        following.headers["link"][1 : following.headers["link"].index(">")], headers=h
    )
    assert _names(last) == ["team-b"] and "link" not in last.headers
    everything = get()
    assert everything.headers["content-type"] == "application/json" and len(everything.json()) == 8


def test_entities_are_streamed_without_a_cap(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    from sentier.catalog import ingest_source

    root = tmp_path / "many"
    root.mkdir()
    docs = [component(f"svc-{i:04d}", owner="team-b") for i in range(1234)]
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs))
    with session_scope(app_engine) as session:
        assert ingest_source(session, [root], name="many").ok
    response = client.get(
        f"{API}/entities",
        params={
            "filter": "spec.owner=team-b",
            "fields": "metadata.name",
            "order": "desc:metadata.name",
        },
        headers=tokens.header("viewer"),
    )
    names = _names(response)
    assert len(names) == 1235  # more than any page, more than one batch of the stream
    assert names[0] == "svc-1233" and names[-1] == "billing"
    assert len(set(names)) == len(names)


def test_by_query_pages_both_ways(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    first = client.get(
        f"{API}/entities/by-query",
        params={
            "orderField": "metadata.name,desc",
            "limit": 3,
            "filter": "kind=group,kind=component",
        },
        headers=h,
    ).json()
    assert first["totalItems"] == 5
    assert [e["metadata"]["name"] for e in first["items"]] == ["team-b", "team-a1", "team-a"]
    assert set(first["pageInfo"]) == {"nextCursor"}
    assert "query" not in json.loads(base64.b64decode(first["pageInfo"]["nextCursor"]))
    second = client.get(
        f"{API}/entities/by-query", params={"cursor": first["pageInfo"]["nextCursor"]}, headers=h
    ).json()
    assert [e["metadata"]["name"] for e in second["items"]] == ["checkout", "billing"]
    assert second["totalItems"] == 5 and set(second["pageInfo"]) == {"prevCursor"}
    back = client.get(
        f"{API}/entities/by-query",
        params={"cursor": second["pageInfo"]["prevCursor"], "limit": 3},
        headers=h,
    ).json()
    assert [e["metadata"]["name"] for e in back["items"]] == ["team-b", "team-a1", "team-a"]
    text = client.get(
        f"{API}/entities/by-query",
        params={
            "fullTextFilterTerm": "Checkout",
            "fullTextFilterFields": "metadata.name",
            "fields": "metadata.name",
        },
        headers=h,
    ).json()
    assert text["totalItems"] == 2 and {"metadata": {"name": "checkout-api"}} in text["items"]
    excluded = client.get(
        f"{API}/entities/by-query", params={"totalItems": "exclude", "limit": 1}, headers=h
    ).json()
    assert excluded["totalItems"] == 0 and len(excluded["items"]) == 1


def test_by_query_predicates_by_post(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    body = {
        "query": {
            "$all": [
                {"kind": {"$in": ["component", "resource"]}},
                {"$not": {"spec.owner": "team-b"}},
            ]
        },
        "orderBy": [{"field": "metadata.name", "order": "asc"}],
        "limit": 1,
    }
    first = client.post(f"{API}/entities/by-query", json=body, headers=h).json()
    assert first["totalItems"] == 2 and first["items"][0]["metadata"]["name"] == "checkout"
    cursor = first["pageInfo"]["nextCursor"]
    assert "query" in json.loads(base64.b64decode(cursor))  # the client sends it back by POST
    rest = client.post(f"{API}/entities/by-query", json={"cursor": cursor}, headers=h).json()
    assert [e["metadata"]["name"] for e in rest["items"]] == ["orders-db"]
    refused = client.post(
        f"{API}/entities/by-query", json={"query": {"kind": {"$regex": "x"}}}, headers=h
    )
    assert "$regex" in _backstage_error(refused, 400, "InputError")
    garbage = client.get(f"{API}/entities/by-query", params={"cursor": "!!"}, headers=h)
    _backstage_error(garbage, 400, "InputError")


def test_by_refs_facets_ancestry_and_lookups(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    refs = client.post(
        f"{API}/entities/by-refs",
        params={"filter": "kind=component"},
        json={
            "entityRefs": ["component:default/billing", "api:default/checkout-api", "x:y/z"],
            "fields": ["metadata.name"],
        },
        headers=h,
    )
    assert refs.json() == {"items": [{"metadata": {"name": "billing"}}, None, None]}
    facets = client.post(
        f"{API}/entity-facets",
        json={"facets": ["spec.lifecycle"], "query": {"kind": "component"}},
        headers=h,
    )
    assert facets.json() == {"facets": {"spec.lifecycle": [{"value": "production", "count": 2}]}}
    ancestry = client.get(f"{API}/entities/by-name/component/default/checkout/ancestry", headers=h)
    assert ancestry.json()["rootEntityRef"] == "component:default/checkout"
    assert ancestry.json()["items"][0]["parentEntityRefs"] == []
    missing = client.get(f"{API}/entities/by-name/component/default/ghost/ancestry", headers=h)
    _backstage_error(missing, 404, "NotFoundError")
    uid = client.get(f"{API}/entities/by-name/component/default/checkout", headers=h).json()[
        "metadata"
    ]["uid"]
    assert (
        client.get(f"{API}/entities/by-uid/{uid}", headers=h).json()["metadata"]["name"]
        == "checkout"
    )
    _backstage_error(client.get(f"{API}/entities/by-uid/nope", headers=h), 404, "NotFoundError")


def test_errors_take_backstage_shape_here_and_rfc9457_elsewhere(
    client: TestClient, tokens: Tokens
) -> None:
    _backstage_error(client.get(f"{API}/entities"), 401, "AuthenticationError")
    h = tokens.header("viewer")
    _backstage_error(
        client.get(f"{API}/entities", params={"limit": -1}, headers=h), 400, "InputError"
    )
    assert "order" in _backstage_error(
        client.get(f"{API}/entities", params={"order": "sideways:name"}, headers=h),
        400,
        "InputError",
    )
    _backstage_error(
        client.get(f"{API}/entities", params={"filter": "=x"}, headers=h), 400, "InputError"
    )
    _backstage_error(client.get(f"{API}/no-such-route", headers=h), 404, "NotFoundError")
    _backstage_error(
        client.post(f"{API}/entities/by-refs", content=b"{not json", headers=h), 400, "InputError"
    )
    big = b'{"entityRefs": ["' + b"a" * (5 * 1024 * 1024) + b'"]}'
    _backstage_error(
        client.post(f"{API}/entities/by-refs", content=big, headers=h), 413, "PayloadTooLargeError"
    )
    problem = client.get("/api/v1/entities/component/default/ghost", headers=h)
    assert problem.status_code == 404
    assert problem.headers["content-type"] == "application/problem+json"


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_removal_follows_ownership_and_is_audited(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    viewer, editor = tokens.header("viewer"), tokens.header("editor")
    doc = client.get(f"{API}/entities/by-name/component/default/billing", headers=viewer).json()
    uid = doc["metadata"]["uid"]
    _backstage_error(
        client.delete(f"{API}/entities/by-uid/{uid}", headers=viewer), 403, "NotAllowedError"
    )
    refused = client.delete(f"{API}/entities/by-uid/{uid}", headers=editor)  # team-b's
    _backstage_error(refused, 403, "NotAllowedError")
    with session_scope(app_engine) as session:
        denials = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
        # The viewer's refusal (by role) names the path, the editor's (by owner) the entity;
        # a path longer than the action column is cut there, whole in the target.
        assert {e.target for e in denials} == {
            f"{API}/entities/by-uid/{uid}",
            "component:default/billing",
        }
        assert all(len(e.action) <= 64 for e in denials)
    owned = client.delete(f"{API}/entities/by-name/resource/default/orders-db", headers=editor)
    assert owned.status_code == 204  # team-a1's, a child of team-a
    gone = client.get(f"{API}/entities/by-name/resource/default/orders-db", headers=viewer)
    _backstage_error(gone, 404, "NotFoundError")
    assert [e.target for e in _audit(app_engine, "entity.remove")] == ["resource:default/orders-db"]
    assert client.delete(f"{API}/entities/by-uid/unknown", headers=editor).status_code == 204
    assert (
        client.delete(f"{API}/entities/by-uid/{uid}", headers=tokens.header("admin")).status_code
        == 204
    )


def test_refresh_reads_the_source_again(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    admin = tokens.header("admin")
    descriptor = tmp_path / "catalog" / "catalog-info.yaml"
    descriptor.write_text(descriptor.read_text().replace("The billing service", "Bills people"))
    assert (
        client.post(
            f"{API}/refresh", json={"entityRef": "component:billing"}, headers=admin
        ).status_code
        == 200
    )
    assert [e.target for e in _audit(app_engine, "entity.refresh")] == ["component:default/billing"]
    from sentier.store.models import IngestJob

    with session_scope(app_engine) as session:
        job_id = session.scalars(select(IngestJob.id)).all()[-1]
    assert wait_for_job(client, job_id, admin)["status"] == "succeeded"
    billing = client.get(f"{API}/entities/by-name/component/default/billing", headers=admin).json()
    assert billing["metadata"]["description"] == "Bills people"
    editor = tokens.header("editor")
    denied = client.post(
        f"{API}/refresh", json={"entityRef": "component:default/billing"}, headers=editor
    )
    _backstage_error(denied, 403, "NotAllowedError")
    _backstage_error(
        client.post(f"{API}/refresh", json={"entityRef": "component:ghost"}, headers=admin),
        404,
        "NotFoundError",
    )


def test_locations_lifecycle(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    admin, viewer = tokens.header("admin"), tokens.header("viewer")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "catalog-info.yaml").write_text(yaml.safe_dump(component("search", owner="team-b")))
    body = {"type": "file", "target": str(repo)}
    _backstage_error(
        client.post(f"{API}/locations", json=body, headers=viewer), 403, "NotAllowedError"
    )
    dry = client.post(f"{API}/locations", params={"dryRun": "true"}, json=body, headers=admin)
    assert dry.status_code == 201 and dry.json()["exists"] is False
    assert [e["metadata"]["name"] for e in dry.json()["entities"]] == ["search"]
    assert len(client.get(f"{API}/locations", headers=viewer).json()) == 1  # nothing written
    added = client.post(f"{API}/locations", json=body, headers=admin)
    assert added.status_code == 201
    location = added.json()["location"]
    assert location["type"] == "file" and location["target"] == str(repo.resolve())
    assert [e.target for e in _audit(app_engine, "source.register")][-1].startswith("location-")
    _backstage_error(
        client.post(f"{API}/locations", json=body, headers=admin), 409, "ConflictError"
    )
    listed = client.get(f"{API}/locations", headers=viewer).json()
    assert {"data": location} in listed
    assert client.get(f"{API}/locations/{location['id']}", headers=viewer).json() == location
    _backstage_error(client.get(f"{API}/locations/nope", headers=viewer), 404, "NotFoundError")
    with session_scope(app_engine) as session:
        from sentier.store.models import IngestJob

        job_id = session.scalars(select(IngestJob.id)).all()[-1]
    assert wait_for_job(client, job_id, admin)["status"] == "succeeded"
    by_entity = client.get(f"{API}/locations/by-entity/component/default/search", headers=viewer)
    assert by_entity.json()["id"] == location["id"]
    page = client.post(
        f"{API}/locations/by-query",
        json={"query": {"target": {"$hasPrefix": str(tmp_path)}}},
        headers=viewer,
    ).json()
    assert page["totalItems"] == 2 and page["pageInfo"] == {}
    # Moved onto a folder holding another source's files: refused as registering it would be.
    overlapping = client.put(
        f"{API}/locations/{location['id']}",
        json={"type": "file", "target": str(tmp_path)},
        headers=admin,
    )
    assert "catalog source base" in _backstage_error(overlapping, 409, "ConflictError")
    assert client.get(f"{API}/locations/{location['id']}", headers=viewer).json() == location
    remote = client.put(
        f"{API}/locations/{location['id']}",
        json={"type": "url", "target": "https://x.example/y"},
        headers=admin,
    )
    assert "offline" in _backstage_error(remote, 400, "InputError")
    assert client.delete(f"{API}/locations/{location['id']}", headers=admin).status_code == 204
    _backstage_error(
        client.get(f"{API}/entities/by-name/component/default/search", headers=viewer),
        404,
        "NotFoundError",
    )
    assert [e.details for e in _audit(app_engine, "source.unregister")] == [{"removed": 1}]


def test_validate_entity_answers_backstage_error_lists(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    ok = client.post(
        f"{API}/validate-entity",
        json={"entity": component("x"), "location": "url:https://h/x"},
        headers=h,
    )
    assert ok.status_code == 200 and ok.content == b""
    bad = component("x")
    del bad["spec"]["owner"]
    refused = client.post(
        f"{API}/validate-entity", json={"entity": bad, "location": "url:https://h/x"}, headers=h
    )
    assert refused.status_code == 400
    assert refused.json() == {"errors": [{"name": "InputError", "message": "spec.owner: required"}]}
    no_location = client.post(f"{API}/validate-entity", json={"entity": bad}, headers=h)
    assert (
        no_location.status_code == 400 and "location" in no_location.json()["errors"][0]["message"]
    )


def test_openapi_declares_security_on_every_operation(client: TestClient) -> None:
    from sentier.api import create_app

    document = create_app(background=False).openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["sessionCookie"]["in"] == "cookie"
    public = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if operation["security"] == []:
                public.append((method, path))
                continue
            assert {"401", "403"} <= set(operation["responses"]), (method, path)
            if path.startswith(API):
                error = operation["responses"]["401"]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/BackstageError"}
            else:
                assert "application/problem+json" in operation["responses"]["403"]["content"]
    assert sorted(public) == [("get", "/healthz"), ("get", "/readyz")]
    assert document["paths"][f"{API}/entities/by-refs"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["required"] == ["entityRefs"]


def test_api_v1_filters_share_the_backstage_semantics(client: TestClient, tokens: Tokens) -> None:
    h = tokens.header("viewer")
    listed = client.get("/api/v1/entities", params={"filter": "kind=api,kind=resource"}, headers=h)
    assert sorted(e["metadata"]["name"] for e in listed.json()["items"]) == [
        "checkout-api",
        "orders-db",
    ]
    refused = client.get("/api/v1/entities", params={"filter": "=x"}, headers=h)
    assert refused.status_code == 400
    assert refused.json()["type"] == "urn:sentier:problem:invalid-filter"
