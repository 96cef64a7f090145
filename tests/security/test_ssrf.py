"""SSRF (issue 12): IPv6 spellings of metadata, loopback and private addresses were accepted as
webhook targets (6to4 ``[2002:a9fe:a9fe::1]`` is 169.254.169.254), site-local ``[fec0::1]``
too, and refusals left no trace in the audit trail."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from sentier import events
from sentier.config import get_settings
from sentier.events import Dispatcher, EventsError
from sentier.events.ssrf import check_target
from sentier.store import session_scope
from sentier.store.models import AuditEvent, WebhookSubscription
from tests.api.conftest import Tokens, app_engine, client, tokens
from tests.web.test_portal import _login, _page_csrf

__all__ = ["app_engine", "client", "tokens"]


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    monkeypatch.delenv("SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS", raising=False)
    get_settings.cache_clear()


@pytest.mark.parametrize(
    "host",
    [
        "[2002:a9fe:a9fe::1]",  # 6to4 of 169.254.169.254 (cloud metadata)
        "[2002:7f00:1::1]",  # 6to4 of 127.0.0.1
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[2001:0:4136:e378:8000:63bf:5601:5601]",  # Teredo, client 169.254.169.254 obfuscated
        "[2001::1]",  # Teredo with server 0.0.0.0
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[64:ff9b:1::a9fe:a9fe]",  # local-use NAT64 of 169.254.169.254
        "[::ffff:169.254.169.254]",  # IPv4-mapped
        "[::ffff:0:7f00:1]",  # IPv4-translated of 127.0.0.1
        "[::127.0.0.1]",  # IPv4-compatible
        "[::a9fe:a9fe]",  # IPv4-compatible of 169.254.169.254
        "[fe80::1%25eth0]",  # link-local with a zone
        "[fd00:ec2::254]",
        "0.0.0.0",
        "0.1.2.3",
    ],
)
def test_ipv6_forms_of_internal_addresses_are_refused_even_for_admins(host: str) -> None:
    with pytest.raises(EventsError) as refused:
        check_target(f"http://{host}/hook", allow_private=True)
    assert refused.value.code == "refused" and refused.value.field == "url"


@pytest.mark.parametrize(
    "host",
    [
        "[fec0::1]",  # site-local (Python 3.11 calls it global)
        "[fc00::1]",
        "[2001:db8::1]",
        "[100::1]",
        "100.64.0.1",
        "[::ffff:10.0.0.1]",
        "[::ffff:127.0.0.1]",
    ],
)
def test_site_local_and_other_private_ranges_need_an_admin(host: str) -> None:
    with pytest.raises(EventsError, match="private") as refused:
        check_target(f"http://{host}/hook", allow_private=False)
    assert refused.value.code == "refused"
    assert check_target(f"http://{host}/hook", allow_private=True).address


@pytest.mark.parametrize(
    "host", ["[2002:808:808::1]", "[64:ff9b::808:808]", "[2606:4700::1111]", "8.8.8.8"]
)
def test_ipv6_forms_of_public_addresses_stay_allowed(host: str) -> None:
    assert check_target(f"http://{host}/hook", allow_private=False).address


def _refusals(engine: Engine) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == "webhook.ssrf-refused")
                .order_by(AuditEvent.id)
            )
        )


def test_a_refused_target_is_audited_from_the_api_and_the_portal(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    url = "http://[2002:a9fe:a9fe::1]/latest/meta-data?token=hidden"
    created = client.post(
        "/api/v1/webhooks", json={"url": url, "allow_private": True}, headers=tokens.header("admin")
    )
    assert created.status_code == 403
    assert created.json()["type"] == "urn:sentier:problem:events-refused"
    assert "hidden" not in created.text  # the answer quotes the URL redacted
    sub = client.post(
        "/api/v1/webhooks", json={"url": "http://8.8.8.8/hook"}, headers=tokens.header("admin")
    ).json()
    moved = client.patch(
        f"/api/v1/webhooks/{sub['id']}",
        json={"url": "http://[fec0::1]/hook"},
        headers=tokens.header("admin"),
    )
    assert moved.status_code == 403
    _login(client, tokens.admin)
    csrf = _page_csrf(client.get("/webhooks").text)
    form = client.post("/webhooks", data={"csrf": csrf, "url": "http://169.254.169.254/"})
    assert form.status_code == 422
    audited = _refusals(app_engine)
    assert [(a.outcome, a.target) for a in audited] == [
        ("denied", "http://[2002:a9fe:a9fe::1]/latest/meta-data?redacted"),
        ("denied", sub["id"]),
        ("denied", "http://169.254.169.254/"),
    ]
    assert "hidden" not in str([a.details for a in audited])
    assert "6to4 form of 169.254.169.254" in audited[0].details["reason"]  # type: ignore[index]


def test_a_target_refused_at_delivery_is_audited_by_the_dispatcher(app_engine: Engine) -> None:
    with session_scope(app_engine) as session:
        sub = events.add_subscription(session, "http://127.0.0.1:9/hook", allow_private=True)
        session.flush()
        session.execute(
            update(WebhookSubscription)
            .where(WebhookSubscription.id == sub["id"])
            .values(allow_private=False)  # as if the name now resolved to a private address
        )
    with session_scope(app_engine) as session:
        events.record(session, "io.sentier.test.ping", "ping", {"n": 1})
    asyncio.run(Dispatcher(app_engine).run_until_idle(timeout=20))
    (audited,) = _refusals(app_engine)
    assert audited.outcome == "denied" and audited.target == sub["id"]
    assert audited.actor.startswith("dispatcher:")
    assert "loopback" in audited.details["reason"]  # type: ignore[index]
