"""``/api/v1/events``, ``/api/v1/webhooks``, ``/api/v1/deliveries`` over HTTP, on both databases:
the catalogue, listing and replay, subscriptions with their permissions, SSRF refusals,
deliveries to a real receiver, redelivery, and the dispatcher inside ``sentier serve``."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from sentier import events
from sentier.api import create_app
from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import AuditEvent
from tests.api.conftest import Tokens
from tests.events.conftest import Receiver, run_dispatcher

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def quick_events(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fast retries; the serve-time dispatcher off unless a test turns it on."""
    for key, value in {
        "DISPATCH_IN_SERVE": "0",
        "BACKOFF_BASE_SECONDS": "0.05",
        "BACKOFF_MAX_SECONDS": "0.2",
        "POLL_INTERVAL_SECONDS": "0.02",
        "LEASE_SECONDS": "2",
    }.items():
        monkeypatch.setenv(f"SENTIER_EVENTS_{key}", value)
    get_settings.cache_clear()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


def _subscribe(client: TestClient, tokens: Tokens, url: str, **body: object) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/webhooks", json={"url": url, **body}, headers=tokens.header("admin")
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _actions(engine: Engine, prefix: str) -> list[tuple[str, dict | None]]:  # type: ignore[type-arg]
    with session_scope(engine) as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        ).all()
    return [(action, details) for action, details in rows]


def test_event_type_catalogue_is_served_with_json_schemas(
    client: TestClient, tokens: Tokens
) -> None:
    assert client.get("/api/v1/events/types").status_code == 401
    catalogue = client.get("/api/v1/events/types", headers=tokens.header("viewer")).json()
    by_type = {entry["type"]: entry for entry in catalogue}
    updated = by_type["io.sentier.catalog.entity.updated"]
    assert updated["documented"] and updated["domain"] == "catalog"
    assert updated["dataschema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "io.sentier.events.delivery.deadlettered" in by_type


def test_event_log_filters_by_glob_and_subject_and_pages_for_replay(
    client: TestClient, tokens: Tokens
) -> None:
    viewer = tokens.header("viewer")
    everything = client.get("/api/v1/events", params={"limit": 1000}, headers=viewer).json()
    added = [e for e in everything["items"] if e["type"] == "io.sentier.catalog.entity.added"]
    assert len(added) == 8  # the catalog of the fixture: one event per entity, in commit order
    assert all(e["specversion"] == "1.0" and e["source"] for e in added)
    first = client.get(
        "/api/v1/events", params={"type": "io.sentier.catalog.*", "limit": 3}, headers=viewer
    ).json()
    assert len(first["items"]) == 3 and first["next"] == int(first["items"][-1]["sequence"])
    rest = client.get(
        "/api/v1/events",
        params={"type": "io.sentier.catalog.*", "after": first["next"], "limit": 1000},
        headers=viewer,
    ).json()
    sequences = [e["sequence"] for e in first["items"] + rest["items"]]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences) >= 8
    assert rest["next"] is None
    one = client.get(
        "/api/v1/events", params={"subject": "component:default/checkout"}, headers=viewer
    ).json()
    assert [e["subject"] for e in one["items"]] == ["component:default/checkout"]
    assert one["items"][0]["ownerref"] == "group:default/team-a"
    newest = client.get(
        "/api/v1/events", params={"newest_first": True, "limit": 2}, headers=viewer
    ).json()
    assert [e["sequence"] for e in newest["items"]] == sorted(sequences)[::-1][:2]
    nothing = client.get("/api/v1/events", params={"type": "io.sentier.nope.*"}, headers=viewer)
    assert nothing.json() == {"items": [], "next": None}
    bad = client.get("/api/v1/events", params={"limit": 0}, headers=viewer)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


def test_admin_manages_a_subscription_and_every_write_is_audited(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    admin = tokens.header("admin")
    created = _subscribe(
        client,
        tokens,
        "http://127.0.0.1:9/hook?token=abc",
        types=["io.sentier.catalog.*"],
        description="ci bridge",
        allow_private=True,
    )
    assert created["secret"].startswith("whsec_") and created["types"] == ["io.sentier.catalog.*"]
    listed = client.get("/api/v1/webhooks", headers=admin).json()
    assert [(s["id"], s["may_manage"], s["pending"]) for s in listed] == [(created["id"], True, 0)]
    assert "secret" not in listed[0]
    # Viewers read subscriptions, without the query string where a receiver keeps its token.
    seen = client.get(f"/api/v1/webhooks/{created['id']}", headers=tokens.header("viewer")).json()
    assert seen["url"] == "http://127.0.0.1:9/hook?redacted" and not seen["may_manage"]
    patched = client.patch(
        f"/api/v1/webhooks/{created['id']}", json={"status": "disabled"}, headers=admin
    )
    assert patched.json()["status"] == "disabled"
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/secret", headers=admin).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert client.delete(f"/api/v1/webhooks/{created['id']}", headers=admin).status_code == 204
    gone = client.get(f"/api/v1/webhooks/{created['id']}", headers=admin)
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM
    assert gone.json()["type"] == "urn:sentier:problem:events-not-found"
    actions = _actions(app_engine, "webhook.")
    assert [a for a, _ in actions] == [
        "webhook.create",
        "webhook.update",
        "webhook.rotate-secret",
        "webhook.delete",
    ]
    assert actions[0][1] is not None and actions[0][1]["url"] == "http://127.0.0.1:9/hook?redacted"
    assert not any(created["secret"] in str(d) or rotated["secret"] in str(d) for _, d in actions)


def test_ssrf_targets_are_refused_and_private_ones_are_an_admin_decision(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    admin = tokens.header("admin")
    metadata = client.post(
        "/api/v1/webhooks",
        json={"url": "http://169.254.169.254/latest/meta-data", "allow_private": True},
        headers=admin,
    )
    assert metadata.status_code == 403
    assert metadata.json()["type"] == "urn:sentier:problem:events-refused"
    assert metadata.json()["field"] == "url"
    loopback = client.post("/api/v1/webhooks", json={"url": "http://127.0.0.1:9/"}, headers=admin)
    assert loopback.status_code == 403 and "private" in loopback.json()["detail"]
    editor = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/", "group": "team-a", "allow_private": True},
        headers=tokens.header("editor"),
    )
    assert editor.status_code == 403 and "admins" in editor.json()["detail"]
    unknown_field = client.post(
        "/api/v1/webhooks", json={"url": "https://x.example/", "colour": "red"}, headers=admin
    )
    assert unknown_field.status_code == 422
    nul = client.post(
        "/api/v1/webhooks", json={"url": "http://x\u0000.example/"}, headers=tokens.header("editor")
    )
    assert nul.status_code == 422  # refused before anything is stored, or audited
    with session_scope(app_engine) as session:
        denied = session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.action == "post /api/v1/webhooks")
        ).all()
    assert denied == ["denied"]
    assert client.get("/api/v1/webhooks", headers=admin).json() == []


def test_editors_subscribe_and_manage_only_for_their_groups(
    client: TestClient, tokens: Tokens
) -> None:
    editor = tokens.header("editor")  # acts for team-a and its child team-a1
    url = "http://127.0.0.1:9/team"
    org_wide = client.post("/api/v1/webhooks", json={"url": url}, headers=editor)
    assert org_wide.status_code == 403 and "group filter" in org_wide.json()["detail"]
    other = client.post("/api/v1/webhooks", json={"url": url, "group": "team-b"}, headers=editor)
    assert other.status_code == 403
    viewer = client.post(
        "/api/v1/webhooks", json={"url": url, "group": "team-a"}, headers=tokens.header("viewer")
    )
    assert viewer.status_code == 403
    # An admin allowed this team's private receiver; the editor may tune its filters...
    sub = _subscribe(client, tokens, url, group="team-a1", allow_private=True)
    tuned = client.patch(
        f"/api/v1/webhooks/{sub['id']}", json={"types": ["io.sentier.catalog.*"]}, headers=editor
    )
    assert tuned.status_code == 200 and tuned.json()["allow_private"]
    # ...but pointing it elsewhere makes it public-only again, and widening it is refused.
    moved = client.patch(
        f"/api/v1/webhooks/{sub['id']}", json={"url": "http://127.0.0.1:10/"}, headers=editor
    )
    assert moved.status_code == 403 and moved.json()["type"] == "urn:sentier:problem:events-refused"
    widened = client.patch(f"/api/v1/webhooks/{sub['id']}", json={"group": ""}, headers=editor)
    assert widened.status_code == 403
    admins_own = _subscribe(client, tokens, url, allow_private=True)
    assert client.delete(f"/api/v1/webhooks/{admins_own['id']}", headers=editor).status_code == 403
    assert client.delete(f"/api/v1/webhooks/{sub['id']}", headers=editor).status_code == 204


def _record(engine: Engine, count: int) -> list[str]:
    with session_scope(engine) as session:
        return [
            events.record(
                session, "io.sentier.catalog.entity.updated", f"component:default/c{n}", {}
            )
            for n in range(count)
        ]


def test_dead_letter_is_visible_with_its_attempts_and_redelivered_with_the_same_id(
    client: TestClient, tokens: Tokens, app_engine: Engine, receiver: Receiver
) -> None:
    admin = tokens.header("admin")
    sub = _subscribe(client, tokens, receiver.url, allow_private=True)
    receiver.respond = lambda n: 400 if receiver.failures == 0 else 200  # 4xx: not retried
    ids = _record(app_engine, 3)

    def settled() -> bool:
        with session_scope(app_engine) as session:
            sub_now = events.get_subscription(session, sub["id"])
        return sub_now["deliveries"] in ({"dead": 1, "delivered": 2}, {"delivered": 3})

    run_dispatcher(app_engine, settled)
    dead = client.get(
        f"/api/v1/webhooks/{sub['id']}/deliveries", params={"status": "dead"}, headers=admin
    ).json()
    assert [d["event_id"] for d in dead] == ids[:1] and dead[0]["last_status_code"] == 400
    detail = client.get(f"/api/v1/webhooks/{sub['id']}", headers=admin).json()
    assert detail["deliveries"] == {"dead": 1, "delivered": 2}
    assert [d["id"] for d in detail["dead_letters"]] == [dead[0]["id"]]
    attempts = client.get(f"/api/v1/deliveries/{dead[0]['id']}/attempts", headers=admin).json()
    assert [(a["status_code"], a["response_excerpt"][:4]) for a in attempts] == [(400, "nope")]
    assert len(attempts[0]["response_excerpt"]) <= 256  # never more than an excerpt is kept
    refused = client.post(
        f"/api/v1/deliveries/{dead[0]['id']}/redeliver", headers=tokens.header("viewer")
    )
    assert refused.status_code == 403
    queued = client.post(f"/api/v1/deliveries/{dead[0]['id']}/redeliver", headers=admin)
    assert queued.json()["status"] == "pending"
    run_dispatcher(app_engine, settled)
    assert receiver.dedup_log() == [ids[1], ids[2], ids[0]]
    resent = receiver.requests[-1]
    Webhook(sub["secret"]).verify(resent.body, resent.headers)  # a Standard Webhooks receiver
    # Replay from before the subscription existed: the catalog's 8 events are added, ours requeued.
    replay = client.post(
        f"/api/v1/webhooks/{sub['id']}/replay", json={"after": 0}, headers=admin
    ).json()
    assert replay == {"subscription_id": sub["id"], "added": 8, "requeued": 3}
    assert [a for a, _ in _actions(app_engine, "webhook.")] == [
        "webhook.create",
        "webhook.redeliver",
        "webhook.replay",
    ]


def test_sentier_serve_runs_the_dispatcher_unless_turned_off(
    app_engine: Engine, tokens: Tokens, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:  # turned off
        sub = _subscribe(client, tokens, receiver.url, allow_private=True)
        _record(app_engine, 1)
        time.sleep(0.5)
    assert receiver.requests == [] and events.pending_count(app_engine) == 0
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "1")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        ids = _record(app_engine, 2)
        deadline = time.monotonic() + 20
        detail: dict = {}  # type: ignore[type-arg]
        while detail.get("deliveries") != {"delivered": 3} and time.monotonic() < deadline:
            time.sleep(0.05)
            url = f"/api/v1/webhooks/{sub['id']}"
            detail = client.get(url, headers=tokens.header("admin")).json()
    assert detail["deliveries"] == {"delivered": 3}
    # The event committed while the server was down is delivered too, before the new ones.
    assert receiver.dedup_log()[-2:] == ids and len(receiver.dedup_log()) == 3
