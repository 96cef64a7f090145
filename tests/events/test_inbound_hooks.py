"""Inbound hooks: authenticated, schema-validated, idempotent, stored raw for AIOps."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from standardwebhooks import Webhook

from sentier import events
from sentier.store import session_scope

ALERT = {
    "version": "4",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "sentier",
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {"alertname": "HighLatency", "service": "payments"},
    "commonAnnotations": {"summary": "p99 above 1s"},
    "externalURL": "http://alertmanager.local:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "service": "payments"},
            "annotations": {"summary": "p99 above 1s"},
            "startsAt": "2026-11-28T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.local/graph",
            "fingerprint": "c0ffee",
        }
    ],
}


def test_alertmanager_notification_is_stored_once_and_announced(engine: Engine) -> None:
    with session_scope(engine) as session:
        token = events.add_hook(session, "alertmanager", "alertmanager")["token"]
    body = json.dumps(ALERT).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with session_scope(engine) as session:
        first = events.receive_alertmanager(session, headers, body)
    with session_scope(engine) as session:
        again = events.receive_alertmanager(session, headers, body)  # Alertmanager retried
        stored = events.list_inbound(session, kind="alertmanager", unconsumed=True)
        announced = events.list_events(session, type_prefix=events.HOOKS_ALERTMANAGER_RECEIVED)
    assert not first["duplicate"] and again["duplicate"] and again["id"] == first["id"]
    assert len(stored) == 1 and stored[0]["payload"]["alerts"][0]["fingerprint"] == "c0ffee"
    assert "authorization" not in stored[0]["headers"]  # credentials are not kept
    assert len(announced) == 1 and announced[0].data["alerts"] == 1
    assert events.validate_data(announced[0].type, announced[0].data) == []
    with session_scope(engine) as session:
        assert events.mark_consumed(session, [first["id"]]) == 1
        assert events.list_inbound(session, unconsumed=True) == []


def test_alertmanager_refuses_bad_credentials_and_names_the_bad_field(
    sqlite_engine: Engine,
) -> None:
    with session_scope(sqlite_engine) as session:
        token = events.add_hook(session, "am", "alertmanager")["token"]
    good = {"authorization": f"Bearer {token}"}
    with session_scope(sqlite_engine) as session:
        with pytest.raises(events.EventsError) as denied:
            events.receive_alertmanager(session, {"authorization": "Bearer nope"}, b"{}", hook="am")
        assert denied.value.code == "unauthorized"
        broken = json.loads(json.dumps(ALERT))
        broken["alerts"][0]["status"] = "sleeping"
        with pytest.raises(events.EventsError) as invalid:
            events.receive_alertmanager(session, good, json.dumps(broken).encode(), hook="am")
        assert invalid.value.field == "alerts.0.status" and invalid.value.code == "invalid"
        with pytest.raises(events.EventsError, match="line 2"):
            events.receive_alertmanager(session, good, b'{\n  "version": }', hook="am")
        assert events.list_inbound(session) == []


def test_cloudevents_structured_and_binary_modes_dedup_on_source_and_id(
    sqlite_engine: Engine,
) -> None:
    with session_scope(sqlite_engine) as session:
        secret = events.add_hook(session, "ce", "cloudevents", auth="hmac")["secret"]
    structured = json.dumps(
        {
            "specversion": "1.0",
            "id": "42",
            "source": "urn:monitoring",
            "type": "com.example.alert",
            "data": {"severity": "high"},
        }
    ).encode()
    signer = Webhook(secret)
    now = datetime.now(UTC)

    def signed(msg_id: str, body: bytes, extra: dict[str, str]) -> dict[str, str]:
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(msg_id, now, body.decode()),
            **extra,
        }

    binary_body = b'{"severity": "low"}'
    binary_headers = {
        "ce-specversion": "1.0",
        "ce-id": "43",
        "ce-source": "urn:monitoring",
        "ce-type": "com.example.alert",
        "content-type": "application/json",
    }
    with session_scope(sqlite_engine) as session:
        (one,) = events.receive_cloudevents(
            session,
            signed("m1", structured, {"content-type": "application/cloudevents+json"}),
            structured,
            hook="ce",
        )
        (two,) = events.receive_cloudevents(
            session, signed("m2", binary_body, binary_headers), binary_body, hook="ce"
        )
        (again,) = events.receive_cloudevents(
            session,
            signed("m3", structured, {"content-type": "application/cloudevents+json"}),
            structured,
            hook="ce",
        )
        with pytest.raises(events.EventsError, match="signature"):
            events.receive_cloudevents(
                session, {"webhook-id": "x", **binary_headers}, binary_body, hook="ce"
            )
        stored = events.list_inbound(session, kind="cloudevents")
    assert again["duplicate"] and again["id"] == one["id"]
    assert [m["sender_id"] for m in stored] == ["urn:monitoring#42", "urn:monitoring#43"]
    assert stored[1]["payload"]["data"] == {"severity": "low"}
    assert not two["duplicate"]


def test_git_push_reingests_the_named_catalog_source_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from sentier.catalog import ingest_source, list_entities
    from sentier.catalog.queries import EntityFilter

    repo = tmp_path / "repo"
    repo.mkdir()
    descriptor = repo / "catalog-info.yaml"
    component = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-a\n"
    )
    descriptor.write_text(component.format(name="payments"))
    with session_scope(sqlite_engine) as session:
        ingest_source(session, [repo], name="payments-repo")
        secret = events.add_hook(session, "git", "git", auth="hmac", source="payments-repo")[
            "secret"
        ]
    descriptor.write_text(
        component.format(name="payments") + "---\n" + component.format(name="ledger")
    )
    body = json.dumps({"ref": "refs/heads/main", "after": "abc123", "repository": {}}).encode()
    key = __import__("base64").b64decode(secret.removeprefix("whsec_") + "==")
    headers = {
        "X-GitHub-Delivery": "d-1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }
    with session_scope(sqlite_engine) as session:
        received = events.receive_git_push(session, headers, body)
    result = events.reingest_pushed_source(sqlite_engine, received["id"])
    assert result["status"] == "ingested" and result["result"]["added"] == 1
    with session_scope(sqlite_engine) as session:
        again = events.receive_git_push(session, headers, body)
        refs = [e.ref for e in list_entities(session, EntityFilter()).items]
        pushes = events.list_events(session, type_prefix=events.HOOKS_GIT_PUSH_RECEIVED)
    assert again["duplicate"] and again["status"] == "ingested"
    assert "component:default/ledger" in refs
    assert len(pushes) == 1 and pushes[0].data["commit"] == "abc123"
    with session_scope(sqlite_engine) as session, pytest.raises(events.EventsError) as unknown:
        events.receive_git_push(
            session, headers | {"X-GitHub-Delivery": "d-2"}, json.dumps({"source": "nope"}).encode()
        )
    assert unknown.value.code in ("not_found", "unauthorized")


_CE = b'{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": %s}'


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (_CE % b'{"a": "x\\u0000y"}', r"U\+0000", "data.a"),
        (_CE % b'{"a": 123456789012345678901234567890}', "64 bits", "body"),
        (_CE % b'{"a": NaN}', "NaN", "body"),
        (_CE % (b"[" * 250 + b"]" * 250), "nested", "body"),
        (b'{"a": "\xc3\x28"}', "UTF-8", "body"),
    ],
)
def test_payloads_the_database_cannot_keep_are_refused_before_anything_is_stored(
    engine: Engine, body: bytes, message: str, field: str
) -> None:
    with session_scope(engine) as session:
        token = events.add_hook(session, "ce", "cloudevents")["token"]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/cloudevents+json"}
    with session_scope(engine) as session, pytest.raises(events.EventsError, match=message) as e:
        events.receive_cloudevents(session, headers, body, hook="ce")
    assert e.value.code == "invalid" and e.value.field == field  # located where it can be
    with session_scope(engine) as session:
        assert events.list_inbound(session) == []


def test_long_subjects_and_headers_are_cut_to_their_columns_on_both_backends(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        token = events.add_hook(session, "am", "alertmanager")["token"]
    alert = json.loads(json.dumps(ALERT)) | {"groupKey": "g" * 2000}
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json" + " " * 400}
    with session_scope(engine) as session:
        stored = events.receive_alertmanager(
            session, headers, json.dumps(alert).encode(), hook="am"
        )
    with session_scope(engine) as session:
        (event,) = events.list_events(session, type_prefix=events.HOOKS_ALERTMANAGER_RECEIVED)
        (message,) = events.list_inbound(session)
    assert not stored["duplicate"] and len(event.subject or "") == 512
    assert message["payload"]["groupKey"] == "g" * 2000  # the payload itself is whole


def test_a_hook_token_cannot_look_like_an_api_token(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session, pytest.raises(events.EventsError) as error:
        events.add_hook(session, "am", "alertmanager", credential="snt_abc_def")
    assert error.value.field == "credential"


def test_git_push_reingests_every_root_of_a_multi_path_source(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    from sentier.catalog import ingest_source, list_entities
    from sentier.catalog.queries import EntityFilter

    component = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: group:default/team-a\n"
    )
    roots = [tmp_path / "a", tmp_path / "b"]
    for root in roots:
        root.mkdir()
        (root / "catalog-info.yaml").write_text(component.format(name=root.name))
    with session_scope(sqlite_engine) as session:
        ingest_source(session, roots, name="two-roots")
        token = events.add_hook(session, "git", "git", source="two-roots")["token"]
    (roots[1] / "catalog-info.yaml").write_text(component.format(name="b2"))
    with session_scope(sqlite_engine) as session:
        received = events.receive_git_push(
            session, {"authorization": f"Bearer {token}", "x-gitea-delivery": "1"}, b"{}"
        )
    result = events.reingest_pushed_source(sqlite_engine, received["id"])
    with session_scope(sqlite_engine) as session:
        refs = sorted(e.ref for e in list_entities(session, EntityFilter()).items)
    assert result["status"] == "ingested"
    assert refs == ["component:default/a", "component:default/b2"]
