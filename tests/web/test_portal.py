"""The portal as a browser sees it, through HTTP: login, cookies, CSRF, pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier import auth
from sentier.store import session_scope
from sentier.store.models import ApiToken, AuditEvent
from tests.api.conftest import Tokens


def _login(client: TestClient, token: str, next_path: str = "/") -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"token": token, "csrf": csrf, "next": next_path}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == next_path
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie


def _page_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_anonymous_visitors_are_sent_to_login(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/catalog/component/default/checkout", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/catalog/component/default/checkout"


def test_login_then_browse_home_catalog_entity_group_system(
    client: TestClient, tokens: Tokens
) -> None:
    _login(client, tokens.viewer)
    home = client.get("/")
    assert home.status_code == 200 and "Your organisation at a glance" in home.text
    listing = client.get("/catalog", params={"q": "check"})
    assert 'href="/catalog/component/default/checkout"' in listing.text
    entity = client.get("/catalog/component/default/checkout")
    assert "<svg" in entity.text and 'href="/catalog/resource/default/orders-db"' in entity.text
    assert 'href="/api/v1/entities/component/default/checkout"' in entity.text  # its JSON twin
    group = client.get("/catalog/group/default/team-a")
    assert "Owned by team-a and its child groups" in group.text and "orders-db" in group.text
    system = client.get("/catalog/system/default/shop")
    assert "Parts of this system" in system.text and "Dependency graph" in system.text
    assert client.get("/catalog/component/default/ghost").status_code == 404


def test_login_with_bad_token_is_audited_and_form_needs_csrf(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    form = client.get("/login")
    csrf = _page_csrf(form.text)
    bad = client.post("/login", data={"token": "snt_x_y", "csrf": csrf, "next": "/"})
    assert bad.status_code == 401 and "not valid" in bad.text
    assert client.post("/login", data={"token": tokens.admin, "next": "/"}).status_code == 403
    with session_scope(app_engine) as session:
        assert session.scalars(
            select(AuditEvent.target).where(AuditEvent.action == "auth.failed")
        ).all() == ["/login"]


def test_forged_cookie_is_refused_by_api_and_portal(client: TestClient, tokens: Tokens) -> None:
    forged = {auth.COOKIE: "eyJ0IjoiYWRtaW4ifQ.forged.signature"}
    client.cookies.update(forged)
    assert client.get("/api/v1/entities").status_code == 401
    assert client.get("/", follow_redirects=False).headers["location"].startswith("/login")


def test_cross_site_form_post_without_csrf_token_is_403(client: TestClient, tokens: Tokens) -> None:
    _login(client, tokens.admin)
    page = client.get("/sources")
    assert client.post("/sources/1/refresh", data={}, follow_redirects=False).status_code == 403
    assert (
        client.post(
            "/sources/1/refresh", data={"csrf": "wrong"}, follow_redirects=False
        ).status_code
        == 403
    )
    ok = client.post(
        "/sources/1/refresh", data={"csrf": _page_csrf(page.text)}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"].startswith("/sources?job=")


def test_audit_page_is_for_admins_and_logout_needs_csrf(client: TestClient, tokens: Tokens) -> None:
    _login(client, tokens.viewer)
    assert client.get("/audit").status_code == 403
    home = client.get("/")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    out = client.post("/logout", data={"csrf": _page_csrf(home.text)}, follow_redirects=False)
    assert out.status_code == 303
    client.cookies.clear()
    _login(client, tokens.admin)
    assert "auth.login" in client.get("/audit").text


def test_one_time_login_link_works_once(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    token_id = auth.tokens.token_id_of(tokens.admin)
    with session_scope(app_engine) as session:
        from datetime import timedelta

        code = auth.create_login_code(
            session, session.get(ApiToken, token_id), ttl=timedelta(minutes=5)
        )  # type: ignore[arg-type]
    first = client.get(f"/login/one-time/{code}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/"
    assert client.get("/").status_code == 200
    client.cookies.clear()
    second = client.get(f"/login/one-time/{code}", follow_redirects=False)
    assert second.headers["location"] == "/login"


def test_security_headers_forbid_outside_assets(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert "http" not in re.sub(r'href="/[^"]*"|src="/[^"]*"', "", response.text.split("<body>")[0])
