"""Inbound hooks over HTTP on both databases: Alertmanager with its own token (no sentier token),
CloudEvents signed with the hook's HMAC secret (structured, binary, batch), git pushes that
re-ingest a registered source, API tokens and their roles, refusals, idempotence, audit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import AuditEvent
from tests.api.conftest import Tokens
from tests.catalog.builders import component
from tests.events.test_inbound_hooks import ALERT

PROBLEM = "application/problem+json"


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    get_settings.cache_clear()


def _hook(client: TestClient, tokens: Tokens, name: str, kind: str, **body: str) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/inbound-hooks",
        json={"name": name, "kind": kind, **body},
        headers=tokens.header("admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_alertmanager_posts_with_the_hooks_own_token_once_per_notification(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    token = _hook(client, tokens, "alertmanager", "alertmanager")["token"]
    body = json.dumps(ALERT).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    first = client.post("/api/v1/hooks/alertmanager", content=body, headers=headers)
    assert first.status_code == 202 and not first.json()["duplicate"]
    again = client.post("/api/v1/hooks/alertmanager", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    stored = client.get(
        "/api/v1/inbound", params={"kind": "alertmanager"}, headers=tokens.header("viewer")
    ).json()
    assert [m["payload"]["alerts"][0]["fingerprint"] for m in stored] == ["c0ffee"]
    assert "authorization" not in stored[0]["headers"]
    announced = client.get(
        "/api/v1/events",
        params={"type": "io.sentier.hooks.alertmanager.received"},
        headers=tokens.header("viewer"),
    ).json()["items"]
    assert len(announced) == 1 and announced[0]["data"]["message_id"] == first.json()["id"]
    with session_scope(app_engine) as session:
        audited = session.execute(
            select(AuditEvent.actor, AuditEvent.action).where(AuditEvent.action == "hook.receive")
        ).all()
    assert audited == [("hook:alertmanager", "hook.receive")] * 2


def test_hook_credentials_are_checked_failures_audited_and_payloads_validated(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    prod = _hook(client, tokens, "prod-am", "alertmanager")["token"]
    other = _hook(client, tokens, "alertmanager", "alertmanager")["token"]
    body = json.dumps(ALERT).encode()
    wrong = client.post(
        "/api/v1/hooks/alertmanager/prod-am",
        content=body,
        headers={"Authorization": f"Bearer {other}"},  # another hook's token
    )
    assert wrong.status_code == 401 and wrong.headers["content-type"] == PROBLEM
    assert client.post("/api/v1/hooks/alertmanager/prod-am", content=body).status_code == 401
    with session_scope(app_engine) as session:
        failures = session.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "auth.failed")
        ).all()
    assert failures == ["/api/v1/hooks/alertmanager/prod-am"] * 2
    good = {"Authorization": f"Bearer {prod}"}
    broken = json.loads(json.dumps(ALERT))
    broken["alerts"][0]["startsAt"] = 7
    invalid = client.post(
        "/api/v1/hooks/alertmanager/prod-am", content=json.dumps(broken).encode(), headers=good
    )
    assert invalid.status_code == 422
    assert invalid.json()["type"] == "urn:sentier:problem:events-invalid"
    assert invalid.json()["field"] == "alerts.0.startsAt"
    unknown = client.post("/api/v1/hooks/alertmanager/nope", content=body, headers=good)
    assert unknown.status_code == 401  # as a known hook answers a wrong credential
    too_big = client.post(
        "/api/v1/hooks/alertmanager/prod-am", content=b" " * (5 * 2**20 + 1), headers=good
    )
    assert too_big.status_code == 413
    ok = client.post("/api/v1/hooks/alertmanager/prod-am", content=body, headers=good)
    assert ok.status_code == 202 and ok.json()["hook"] == "prod-am"


def test_api_tokens_may_post_to_hooks_with_the_right_role(
    client: TestClient, tokens: Tokens
) -> None:
    _hook(client, tokens, "alertmanager", "alertmanager")
    _hook(client, tokens, "git", "git", source="base")
    body = json.dumps(ALERT).encode()
    as_viewer = client.post(
        "/api/v1/hooks/alertmanager", content=body, headers=tokens.header("viewer")
    )
    assert as_viewer.status_code == 403
    as_editor = client.post(
        "/api/v1/hooks/alertmanager", content=body, headers=tokens.header("editor")
    )
    assert as_editor.status_code == 202
    push = json.dumps({"source": "base"}).encode()
    assert (
        client.post("/api/v1/hooks/git", content=push, headers=tokens.header("editor")).status_code
        == 403
    )
    forged = client.post(
        "/api/v1/hooks/alertmanager", content=body, headers={"Authorization": "Bearer snt_x_y"}
    )
    assert forged.status_code == 401
    long_name = "h" * 64  # a refusal is audited under the hook's name, whatever its length
    refused = client.post(
        f"/api/v1/hooks/alertmanager/{long_name}", content=body, headers=tokens.header("viewer")
    )
    assert refused.status_code == 403


def test_cloudevents_signed_with_the_hmac_secret_in_every_mode(
    client: TestClient, tokens: Tokens
) -> None:
    secret = _hook(client, tokens, "monitoring", "cloudevents", auth="hmac")["secret"]
    signer = Webhook(secret)

    def signed(msg_id: str, body: bytes, **extra: str) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id, now, body.decode()),
            **extra,
        }

    url = "/api/v1/hooks/cloudevents/monitoring"
    event = {"specversion": "1.0", "id": "1", "source": "urn:mon", "type": "com.example.alert"}
    structured = json.dumps({**event, "data": {"severity": "high"}}).encode()
    ce_json = "application/cloudevents+json"
    one = client.post(
        url, content=structured, headers=signed("a", structured, **{"content-type": ce_json})
    )
    assert one.status_code == 202 and [m["sender_id"] for m in one.json()] == ["urn:mon#1"]
    binary = b'{"severity": "low"}'
    binary_headers = {
        "ce-specversion": "1.0",
        "ce-id": "2",
        "ce-source": "urn:mon",
        "ce-type": "com.example.alert",
        "content-type": "application/json",
    }
    two = client.post(url, content=binary, headers=signed("b", binary, **binary_headers))
    assert two.status_code == 202
    batch = json.dumps([{**event, "id": "1"}, {**event, "id": "3"}]).encode()
    both = client.post(
        url,
        content=batch,
        headers=signed("c", batch, **{"content-type": "application/cloudevents-batch+json"}),
    )
    assert both.status_code == 202 and [m["duplicate"] for m in both.json()] == [True, False]
    tampered = client.post(
        url, content=structured.replace(b"high", b"none"), headers=signed("d", structured)
    )
    assert tampered.status_code == 401
    stored = client.get(
        "/api/v1/inbound", params={"kind": "cloudevents"}, headers=tokens.header("viewer")
    ).json()
    assert [m["sender_id"] for m in stored] == ["urn:mon#1", "urn:mon#2", "urn:mon#3"]
    assert stored[1]["payload"]["data"] == {"severity": "low"}


def test_git_push_reingests_the_registered_source_after_answering_once_per_delivery(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    secret = _hook(client, tokens, "git", "git", auth="hmac", source="base")["secret"]
    catalog_file = tmp_path / "catalog" / "catalog-info.yaml"
    documents = list(yaml.safe_load_all(catalog_file.read_text()))
    documents.append(component("ledger", owner="team-b"))
    catalog_file.write_text(yaml.safe_dump_all(documents, sort_keys=False))
    body = json.dumps({"ref": "refs/heads/main", "after": "abc123", "repository": {}}).encode()
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    headers = {
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }
    first = client.post("/api/v1/hooks/git", content=body, headers=headers)
    assert first.status_code == 202, first.text
    ledger = client.get(
        "/api/v1/entities/component/default/ledger", headers=tokens.header("viewer")
    )
    assert ledger.status_code == 200  # ingested by the background task after the answer
    again = client.post("/api/v1/hooks/git", content=body, headers=headers)
    assert again.status_code == 200 and again.json()["status"] == "ingested"
    (push,) = client.get(
        "/api/v1/inbound", params={"kind": "git"}, headers=tokens.header("viewer")
    ).json()
    assert push["status"] == "ingested" and push["result"]["added"] == 1
    unsigned = client.post("/api/v1/hooks/git", content=body, headers={"X-GitHub-Delivery": "d-2"})
    assert unsigned.status_code == 401


def test_hook_management_is_for_admins(client: TestClient, tokens: Tokens) -> None:
    made = client.post(
        "/api/v1/inbound-hooks",
        json={"name": "am", "kind": "alertmanager"},
        headers=tokens.header("editor"),
    )
    assert made.status_code == 403
    created = _hook(client, tokens, "am", "alertmanager")
    assert created["auth"] == "token" and created["token"] and created["secret"] is None
    listed = client.get("/api/v1/inbound-hooks", headers=tokens.header("admin")).json()
    assert [(h["name"], h["kind"]) for h in listed] == [("am", "alertmanager")]
    assert "token" not in listed[0]
    clash = client.post(
        "/api/v1/inbound-hooks",
        json={"name": "am", "kind": "git"},
        headers=tokens.header("admin"),
    )
    assert (
        clash.status_code == 409 and clash.json()["type"] == "urn:sentier:problem:events-conflict"
    )
    assert (
        client.delete("/api/v1/inbound-hooks/am", headers=tokens.header("admin")).status_code == 204
    )
    assert client.get("/api/v1/inbound-hooks", headers=tokens.header("admin")).json() == []
