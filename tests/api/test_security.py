"""Hostile input at the edges: CSRF tokens and hook signatures that are not ASCII, malformed
signature headers. Each is refused like any wrong credential (403/401), never a 500."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from sentier import auth
from sentier.config import get_settings
from tests.api.conftest import Tokens, wait_for_job


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    get_settings.cache_clear()


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_non_ascii_csrf_tokens_are_refused_not_crashed(client: TestClient, tokens: Tokens) -> None:
    client.get("/login")  # sets the login CSRF cookie
    login = client.post(
        "/login",
        data={"token": tokens.viewer, "csrf": "é" * 32, "next": "/"},
        follow_redirects=False,
    )
    assert login.status_code == 403, login.text
    form = client.get("/login")
    ok = client.post(
        "/login",
        data={"token": tokens.viewer, "csrf": _csrf(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    out = client.post("/logout", data={"csrf": "ü" * 64}, follow_redirects=False)
    assert out.status_code == 403, out.text


def _hook(client: TestClient, tokens: Tokens, name: str, kind: str, **body: str) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/inbound-hooks",
        json={"name": name, "kind": kind, **body},
        headers=tokens.header("admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_non_ascii_and_malformed_hook_signatures_are_401(
    client: TestClient, tokens: Tokens
) -> None:
    _hook(client, tokens, "git", "git", auth="hmac", source="base")
    body = b'{"ref": "refs/heads/main", "after": "abc", "repository": {}}'
    for signature in ("sha256=" + "é" * 64, "é", "sha256="):
        response = client.post(
            "/api/v1/hooks/git",
            content=body,
            headers={
                "X-GitHub-Delivery": "d-1",
                "X-Hub-Signature-256": signature.encode("latin-1"),
            },
        )
        assert response.status_code == 401, (signature, response.text)

    secret = _hook(client, tokens, "mon", "cloudevents", auth="hmac")["secret"]
    url = "/api/v1/hooks/cloudevents/mon"
    event = b'{"specversion": "1.0", "id": "1", "source": "urn:mon", "type": "com.example.a"}'
    now = datetime.now(UTC)
    good = Webhook(secret).sign("m1", now, event.decode())
    stamp = str(int(now.timestamp()))
    for signature, content in (
        ("v1", event),  # no comma
        ("v1,a,b", event),  # too many parts
        ("v1,@@@", event),  # not base64
        ("v1,é", event),  # not ASCII
        (good, event[:-1] + b"\xff}"),  # body not UTF-8
    ):
        response = client.post(
            url,
            content=content,
            headers={
                "webhook-id": "m1",
                "webhook-timestamp": stamp,
                "webhook-signature": signature.encode("latin-1"),
                "content-type": "application/cloudevents+json",
            },
        )
        assert response.status_code == 401, (signature, response.text)


def test_a_pushed_descriptor_cannot_read_server_files(client: TestClient, tokens: Tokens) -> None:
    key = auth.secret_key(get_settings())  # SENTIER_HOME/secret_key, signs every session
    doc = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: leak\n"
        "  description:\n    $text: {}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )
    h = tokens.header("editor")
    files = {"a.yaml": doc.format("../../secret_key"), "b/c.yaml": doc.format("/etc/hostname")}
    pushed = client.post("/api/v1/sources/push", headers=h, json={"name": "a", "files": files})
    assert pushed.status_code == 202, pushed.text
    job = wait_for_job(client, pushed.json()["job"], h)
    problems = {p["file"].rsplit("/", 1)[1]: p for p in job["summary"]["problems"]}
    assert "outside the source's root" in problems["a.yaml"]["message"]
    assert "absolute path" in problems["c.yaml"]["message"]
    assert problems["a.yaml"]["field"] == "metadata.description"
    found = client.get("/api/v1/entities/component/default/leak", headers=h)
    assert found.status_code == 404
    assert key not in client.get("/api/v1/entities", headers=h).text


def test_api_writes_with_the_session_cookie_need_the_csrf_header(
    client: TestClient, tokens: Tokens
) -> None:
    """A form on a sibling site (same-site, so the Lax cookie goes along) cannot make the
    browser of a logged-in admin refresh a source or rotate a secret through the API."""
    form = client.get("/login")
    client.post(
        "/login",
        data={"token": tokens.admin, "csrf": _csrf(form.text), "next": "/"},
        follow_redirects=False,
    )
    assert client.get("/api/v1/sources").status_code == 200  # reading needs no more
    forged = client.post("/api/v1/sources/1/refresh")
    assert forged.status_code == 401, forged.text
    assert "X-CSRF-Token" in forged.json()["detail"]
    token = _csrf(client.get("/").text)
    with_header = client.post("/api/v1/sources/1/refresh", headers={"X-CSRF-Token": token})
    assert with_header.status_code == 202, with_header.text
    client.cookies.clear()
    bearer = client.post("/api/v1/sources/1/refresh", headers=tokens.header("admin"))
    assert bearer.status_code == 202
