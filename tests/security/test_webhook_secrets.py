"""Webhook URL secrets (issue 12, M2): a receiver's token in the URL was redacted in ``url``
but copied whole into ``last_error``, the attempt log, the delivery page and the
``delivery.deadlettered`` event, where every viewer reads it. And an admin could revoke
``allow_private`` from a private target without the URL being checked again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from sentier import events
from sentier.config import get_settings
from sentier.events import Dispatcher
from sentier.store import session_scope
from sentier.store.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from tests.api.conftest import Tokens, app_engine, client, tokens
from tests.web.test_portal import _login

__all__ = ["app_engine", "client", "tokens"]

SECRET = "s3cr3tT0ken4receiver"
URL = f"http://127.0.0.1:9/hooks/{SECRET}xyz?token={SECRET}#frag-{SECRET}"


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    monkeypatch.delenv("SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS", raising=False)
    get_settings.cache_clear()


def _dead_letter(engine: Engine) -> tuple[str, int]:
    """A subscription whose URL holds a secret, and a delivery dead-lettered with an error that
    quotes the URL: its target was allowed when subscribed and is refused when delivered (as
    when a name starts resolving to a private address)."""
    with session_scope(engine) as session:
        sub = events.add_subscription(session, URL, allow_private=True)
    with session_scope(engine) as session:
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == sub["id"])
            .values(allow_private=False)
        )
        events.record(session, "io.sentier.test.ping", "ping", {"n": 1})
    asyncio.run(Dispatcher(engine).run_until_idle(timeout=20))
    with session_scope(engine) as session:
        (delivery,) = events.list_deliveries(session, sub["id"], status="dead")
    return sub["id"], int(delivery["id"])


def _everything_a_viewer_reads(
    client: TestClient, tokens: Tokens, sub_id: str, delivery_id: int
) -> list[str]:
    viewer = tokens.header("viewer")
    pages = [
        client.get("/api/v1/webhooks", headers=viewer),
        client.get(f"/api/v1/webhooks/{sub_id}", headers=viewer),
        client.get(f"/api/v1/webhooks/{sub_id}/deliveries", headers=viewer),
        client.get(f"/api/v1/deliveries/{delivery_id}", headers=viewer),
        client.get(f"/api/v1/deliveries/{delivery_id}/attempts", headers=viewer),
        client.get("/api/v1/events", params={"type": "io.sentier.events.*"}, headers=viewer),
    ]
    assert all(page.status_code == 200 for page in pages), [p.text for p in pages]
    _login(client, tokens.viewer)
    html = [client.get(f"/webhooks/{sub_id}"), client.get(f"/deliveries/{delivery_id}")]
    assert all(page.status_code == 200 for page in html)
    return [page.text for page in pages + html]


def test_a_viewer_never_reads_the_secret_of_a_webhook_url(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    sub_id, delivery_id = _dead_letter(app_engine)
    with session_scope(app_engine) as session:
        delivery = events.get_delivery(session, delivery_id)
        (dead,) = events.list_events(session, type_prefix=events.EVENTS_DELIVERY_DEAD_LETTERED)
    # The error still says what happened, and where (redacted).
    assert "refused target http://127.0.0.1:9/hooks/redacted?redacted" in delivery["last_error"]
    assert "http://127.0.0.1:9/hooks/redacted?redacted" in dead.data["last_error"]
    for text in _everything_a_viewer_reads(client, tokens, sub_id, delivery_id):
        assert SECRET not in text
    # Those who manage the subscription still see its URL whole.
    admin = client.get(f"/api/v1/webhooks/{sub_id}", headers=tokens.header("admin")).json()
    assert admin["url"] == URL


def test_errors_stored_before_redaction_are_redacted_when_read(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    sub_id, delivery_id = _dead_letter(app_engine)
    quoted = f"connection error: POST {URL} failed"
    with session_scope(app_engine) as session:  # as an older version wrote them
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id)
            .values(last_error=quoted)
        )
        session.execute(
            update(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .values(error=quoted)
        )
        data = {"delivery_id": delivery_id, "event_id": "e", "event_type": "t", "attempts": 1}
        events.record(
            session,
            events.EVENTS_DELIVERY_DEAD_LETTERED,
            "webhook:x",
            {**data, "last_error": quoted},
        )
        events.record(
            session,
            events.EVENTS_SUBSCRIPTION_DISABLED,
            "webhook:x",
            {"subscription_id": sub_id, "url": URL, "reason": "410"},
        )
    for text in _everything_a_viewer_reads(client, tokens, sub_id, delivery_id):
        assert SECRET not in text


def test_a_subscription_disabled_by_410_announces_its_url_redacted(
    app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.events.conftest import Receiver

    receiver = Receiver()
    receiver.respond = lambda n: 410
    monkeypatch.setenv("SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS", "1")
    get_settings.cache_clear()
    try:
        with session_scope(app_engine) as session:
            events.add_subscription(session, f"{receiver.url}?token={SECRET}")
        with session_scope(app_engine) as session:
            events.record(session, "io.sentier.test.ping", "ping", {"n": 1})
        asyncio.run(Dispatcher(app_engine).run_until_idle(timeout=20))
    finally:
        receiver.stop()
    with session_scope(app_engine) as session:
        (disabled,) = events.list_events(session, type_prefix=events.EVENTS_SUBSCRIPTION_DISABLED)
    assert disabled.data["url"] == f"{receiver.url}?redacted"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example.org/services/T0AB/B0CD/Zx81kLmQ2vN7pR4sT6uW", None),
        ("https://user:pw@example.org/hook", "https://example.org/hook"),
        ("https://example.org/deployment-notifications/hook", None),
        ("https://example.org/hook?key=abc&token=def", "https://example.org/hook?redacted"),
    ],
)
def test_the_one_redaction_function_hides_tokens_in_paths_queries_and_user_info(
    url: str, shown: str | None
) -> None:
    redacted = events.redact_url(url)
    if shown is not None:
        assert redacted == shown
    for secret in ("Zx81kLmQ2vN7pR4sT6uW", "pw", "abc", "def"):
        assert secret not in redacted.replace("example", "")
    assert events.redact_text(f"failed: {url}.") == f"failed: {redacted}."


# -- allow_private is an admin's decision about one URL: revoking it re-checks the URL ----------


def _private_subscription(client: TestClient, tokens: Tokens) -> dict[str, Any]:
    created = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "allow_private": True},
        headers=tokens.header("admin"),
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_revoking_allow_private_from_a_private_target_is_refused(
    client: TestClient, tokens: Tokens
) -> None:
    sub = _private_subscription(client, tokens)
    revoked = client.patch(
        f"/api/v1/webhooks/{sub['id']}",
        json={"allow_private": False},
        headers=tokens.header("admin"),
    )
    assert revoked.status_code == 403, revoked.text
    assert revoked.json()["type"] == "urn:sentier:problem:events-refused"
    kept = client.get(f"/api/v1/webhooks/{sub['id']}", headers=tokens.header("admin")).json()
    assert kept["allow_private"] is True  # nothing changed
    # Together with a public URL, the same revocation is fine.
    moved = client.patch(
        f"/api/v1/webhooks/{sub['id']}",
        json={"allow_private": False, "url": "http://93.184.215.14/hook"},
        headers=tokens.header("admin"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["allow_private"] is False


def test_the_events_domain_logs_urls_redacted(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from sentier.events import dispatcher

    with caplog.at_level(logging.WARNING, logger=dispatcher.log.name):
        try:
            raise RuntimeError(f"cannot POST {URL}")
        except RuntimeError:
            dispatcher.log.exception("dispatcher: delivery to %s failed", URL)
    assert "cannot POST http://127.0.0.1:9/hooks/redacted?redacted" in caplog.text
    assert SECRET not in caplog.text
