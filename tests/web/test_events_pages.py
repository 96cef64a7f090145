"""The portal's events and webhooks pages as a browser uses them: filters, JSON twins, the admins'
create form (CSRF, secret shown once), dead letters and their redeliver button."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sentier import events
from sentier.config import get_settings
from sentier.store import session_scope
from tests.api.conftest import Tokens
from tests.events.conftest import Receiver, run_dispatcher
from tests.web.test_portal import _login, _page_csrf


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    monkeypatch.setenv("SENTIER_EVENTS_POLL_INTERVAL_SECONDS", "0.02")
    get_settings.cache_clear()


def test_event_log_page_filters_by_type_glob_and_subject_with_its_json_twin(
    client: TestClient, tokens: Tokens
) -> None:
    _login(client, tokens.viewer)
    page = client.get("/events")
    assert page.status_code == 200
    assert 'href="/events"' in page.text and 'href="/webhooks"' in page.text  # sidebar
    assert page.text.count("io.sentier.catalog.entity.added</code>") == 8
    filtered = client.get(
        "/events", params={"type": "io.sentier.catalog.*", "subject": "api:default/checkout-api"}
    )
    assert filtered.text.count("io.sentier.catalog.entity.added</code>") == 1
    assert 'href="/catalog/api/default/checkout-api"' in filtered.text
    twin = re.search(r'class="json-link" href="([^"]+)"', filtered.text).group(1)  # type: ignore[union-attr]
    twin_json = client.get(twin.replace("&amp;", "&")).json()
    assert [e["subject"] for e in twin_json["items"]] == ["api:default/checkout-api"]
    none = client.get("/events", params={"type": "io.sentier.nothing.*"})
    assert "No event matches this filter" in none.text


def test_admin_creates_a_subscription_from_the_form_and_sees_its_secret_once(
    client: TestClient, tokens: Tokens
) -> None:
    _login(client, tokens.admin)
    page = client.get("/webhooks")
    assert "Subscribe a receiver" in page.text and "No subscription yet" in page.text
    csrf = _page_csrf(page.text)
    form = {
        "url": "http://127.0.0.1:9/hook",
        "types": "io.sentier.catalog.*, io.sentier.policy.*",
        "group": "team-a",
        "description": "team a bridge",
        "allow_private": "true",
    }
    assert client.post("/webhooks", data=form, follow_redirects=False).status_code == 403
    created = client.post("/webhooks", data={**form, "csrf": csrf})
    assert created.status_code == 200
    secret = re.search(r'class="wrap secret">(whsec_[^<]+)<', created.text).group(1)  # type: ignore[union-attr]
    listing = client.get("/webhooks")
    assert "team a bridge" in listing.text and secret not in listing.text
    (sub,) = client.get("/api/v1/webhooks").json()
    assert sub["types"] == ["io.sentier.catalog.*", "io.sentier.policy.*"]
    assert sub["group"] == "group:default/team-a" and sub["allow_private"]
    assert secret not in client.get(f"/webhooks/{sub['id']}").text
    refused = client.post(
        "/webhooks", data={**form, "url": "http://169.254.169.254/", "csrf": csrf}
    )
    assert refused.status_code == 422 and "link-local or metadata" in refused.text
    paused = client.post(
        f"/webhooks/{sub['id']}/status",
        data={"status": "disabled", "csrf": csrf},
        follow_redirects=False,
    )
    assert paused.status_code == 303
    assert client.get("/api/v1/webhooks").json()[0]["status"] == "disabled"


def test_viewers_see_webhooks_without_forms_and_cannot_post(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    with session_scope(app_engine) as session:
        sub = events.add_subscription(
            session, "http://127.0.0.1:9/hook?key=s3cr3t", allow_private=True
        )
    _login(client, tokens.viewer)
    page = client.get("/webhooks")
    assert "Subscribe a receiver" not in page.text and "s3cr3t" not in page.text
    detail = client.get(f"/webhooks/{sub['id']}")
    assert "Rotate secret" not in detail.text and "s3cr3t" not in detail.text
    missing = client.get("/webhooks/wh_0000")
    assert missing.status_code == 404 and "no webhook subscription wh_0000" in missing.text
    assert client.get("/deliveries/999").status_code == 404
    csrf = _page_csrf(detail.text)
    denied = client.post(f"/webhooks/{sub['id']}/delete", data={"csrf": csrf})
    assert denied.status_code == 403
    assert (
        client.post("/webhooks", data={"csrf": csrf, "url": "https://x.example/"}).status_code
        == 403
    )


def test_a_dead_letter_is_redelivered_from_its_button(
    client: TestClient, tokens: Tokens, app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    try:
        receiver.respond = lambda n: 422 if receiver.failures == 0 else 200
        with session_scope(app_engine) as session:
            sub = events.add_subscription(session, receiver.url, allow_private=True)
            event_id = events.record(session, "io.sentier.catalog.entity.updated", "c", {})

        def counts() -> dict[str, int]:
            with session_scope(app_engine) as session:
                found: dict[str, int] = events.get_subscription(session, sub["id"])["deliveries"]
            return found

        run_dispatcher(app_engine, lambda: counts() == {"dead": 1})
        _login(client, tokens.admin)
        detail = client.get(f"/webhooks/{sub['id']}")
        assert "HTTP 422" in detail.text and "Redeliver" in detail.text
        (dead,) = client.get(f"/api/v1/webhooks/{sub['id']}/deliveries?status=dead").json()
        attempts = client.get(f"/deliveries/{dead['id']}")
        assert "nope" in attempts.text and 'href="/api/v1/deliveries/' in attempts.text
        queued = client.post(
            f"/deliveries/{dead['id']}/redeliver",
            data={"csrf": _page_csrf(detail.text)},
            follow_redirects=False,
        )
        assert queued.status_code == 303
        assert queued.headers["location"] == f"/webhooks/{sub['id']}?requeued={dead['id']}"
        run_dispatcher(app_engine, lambda: counts() == {"delivered": 1})
        assert receiver.dedup_log() == [event_id]
    finally:
        receiver.stop()
