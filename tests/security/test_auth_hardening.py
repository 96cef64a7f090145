"""Authentication under attack: failed-authentication limits, scrypt off the event loop,
revocable portal sessions, what viewers may see, and malformed input refused as 4xx problems.

Each test is the regression of one finding of issue 12 (M6 and the Low items of auth)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier import auth
from sentier.api import create_app
from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import IngestJob, PortalSession
from tests.api.conftest import Tokens

PROBLEM = "application/problem+json"


@pytest.fixture
def scrypts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Every scrypt run from now on, as whether it ran on an event loop's thread."""
    calls: list[bool] = []
    real = auth.tokens._hash

    def spying(secret: str, salt: str) -> str:
        calls.append(asyncio._get_running_loop() is not None)
        return real(secret, salt)

    monkeypatch.setattr(auth.tokens, "_hash", spying)
    yield calls


def _limit(monkeypatch: pytest.MonkeyPatch, per_minute: int, *, proxy: bool = False) -> None:
    monkeypatch.setenv("SENTIER_LOGIN_FAILURES_PER_MINUTE", str(per_minute))
    if proxy:
        monkeypatch.setenv("SENTIER_TRUST_PROXY_HEADERS", "true")
    get_settings.cache_clear()


def _fresh_token(engine: Engine, role: str = "viewer") -> str:
    """A token this process has never verified (its first use costs a scrypt)."""
    with session_scope(engine) as session:
        return auth.create_token(session, name=f"fresh-{role}", role=role).secret  # type: ignore[arg-type]


def _wrong_secret(token: str) -> str:
    return f"snt_{auth.tokens.token_id_of(token)}_{'A' * 43}"


def _login_csrf(client: TestClient) -> str:
    form = client.get("/login")
    return re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]


def _login(client: TestClient, token: str) -> int:
    csrf = _login_csrf(client)
    return client.post(
        "/login", data={"token": token, "csrf": csrf, "next": "/"}, follow_redirects=False
    ).status_code


# -- M6 (a): the limit comes before the scrypt --------------------------------------------------


def test_wrong_secrets_over_the_limit_cost_no_scrypt(
    client: TestClient, tokens: Tokens, scrypts: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 3)
    wrong = {"Authorization": f"Bearer {_wrong_secret(tokens.viewer)}"}
    codes = [client.get("/api/v1/me", headers=wrong).status_code for _ in range(6)]
    assert codes == [401, 401, 401, 429, 429, 429]
    assert len(scrypts) == 3  # the three refusals at 429 never hashed anything
    limited = client.get("/api/v1/me", headers=wrong)
    assert limited.headers["content-type"] == PROBLEM and limited.headers["retry-after"] == "60"


def test_wrong_secrets_for_one_token_are_limited_across_addresses(
    client: TestClient, tokens: Tokens, scrypts: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a proxy, or from many machines: the token's own count still stops the scrypts."""
    _limit(monkeypatch, 3, proxy=True)
    wrong = _wrong_secret(tokens.viewer)
    codes = [
        client.get(
            "/api/v1/me",
            headers={"Authorization": f"Bearer {wrong}", "X-Forwarded-For": f"10.0.0.{n}"},
        ).status_code
        for n in range(6)
    ]
    assert codes == [401, 401, 401, 429, 429, 429]
    assert len(scrypts) == 3


def test_the_login_form_checks_the_limit_before_the_scrypt(
    client: TestClient, tokens: Tokens, scrypts: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 3)
    codes = [_login(client, _wrong_secret(tokens.editor)) for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    assert len(scrypts) == 3


# -- M6 (b): no scrypt on the event loop, malformed headers refused cheaply --------------------


@pytest.mark.parametrize(
    "template", ["Bearer  {}", "bearer {}", "Bearer {}   ", "BEARER    {}", "Bearer {}"]
)
def test_a_tokens_first_scrypt_never_runs_on_the_event_loop(
    client: TestClient, app_engine: Engine, scrypts: list[bool], template: str
) -> None:
    """Two spaces after ``Bearer`` sent the first verification onto the loop (/healthz p50
    9 -> 273 ms under 80 such requests)."""
    fresh = _fresh_token(app_engine)
    scrypts.clear()  # the one hashing the token at its creation
    response = client.get("/api/v1/me", headers={"Authorization": template.format(fresh)})
    assert response.status_code == 200, response.text
    assert scrypts == [False]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer snt_{id}_{secret} trailing",
        "Bearer snt_{id}_{secret}\tx",
        "Bearer snt_{id}_{secret}é",
        "Bearer snt_{id}_" + "A" * 20_000,
        "Bearer\tsnt_{id}_{secret}",
        "Token snt_{id}_{secret}",
    ],
)
def test_malformed_authorization_headers_are_refused_without_hashing(
    client: TestClient, tokens: Tokens, scrypts: list[bool], header: str
) -> None:
    token_id = auth.tokens.token_id_of(tokens.viewer)
    value = header.format(id=token_id, secret="A" * 43)
    response = client.get("/api/v1/me", headers={"Authorization": value.encode()})
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert scrypts == []


# -- M6 (c): anonymous failures do not lock out valid credentials -----------------------------


def test_credential_less_logins_do_not_lock_a_valid_token_out(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """11 empty ``POST /login`` locked every user of the address out for a minute."""
    _limit(monkeypatch, 10)
    codes = [_login(client, "") for _ in range(11)]
    assert codes[-1] == 429  # the anonymous caller is limited...
    assert _login(client, tokens.viewer) == 303  # ...a valid token still logs in
    assert client.get("/api/v1/me").json()["role"] == "viewer"


def test_anonymous_api_failures_do_not_lock_out_a_new_valid_token(
    client: TestClient, app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 3)
    for _ in range(5):
        client.get("/api/v1/me", headers={"Authorization": "Bearer snt_nope"})
    assert client.get("/api/v1/me").status_code == 429
    fresh = _fresh_token(app_engine)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_a_verified_token_is_served_while_its_address_is_limited(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, 3)
    assert client.get("/api/v1/me", headers=tokens.header("editor")).status_code == 200
    wrong = {"Authorization": f"Bearer {_wrong_secret(tokens.viewer)}"}
    assert [client.get("/api/v1/me", headers=wrong).status_code for _ in range(4)][-1] == 429
    assert client.get("/api/v1/me", headers=tokens.header("editor")).status_code == 200


# -- M6 (d): token ids are for admins -----------------------------------------------------------


def test_viewers_do_not_see_who_requested_a_job(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    admin_id = auth.tokens.token_id_of(tokens.admin)
    with session_scope(app_engine) as session:
        session.add(
            IngestJob(id="job-1", requested_by=f"token:{admin_id} (admin)", status="succeeded")
        )
    seen = client.get("/api/v1/jobs/job-1", headers=tokens.header("viewer"))
    assert seen.status_code == 200 and admin_id not in seen.text
    assert seen.json()["requested_by"] is None
    assert admin_id not in client.get("/api/v1/jobs/job-1", headers=tokens.header("editor")).text
    admin = client.get("/api/v1/jobs/job-1", headers=tokens.header("admin")).json()
    assert admin["requested_by"] == f"token:{admin_id} (admin)"


# -- portal sessions are revocable --------------------------------------------------------------


def _logout(client: TestClient) -> None:
    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert client.post("/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303


def test_a_copied_session_cookie_stops_working_at_logout(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    assert _login(client, tokens.viewer) == 303
    copied = client.cookies[auth.COOKIE]
    _logout(client)
    # Another worker of the same server (state only in the database) sees the logout too.
    with TestClient(create_app(background=False), base_url="http://127.0.0.1") as other:
        other.cookies.set(auth.COOKIE, copied)
        api = other.get("/api/v1/me")
        assert api.status_code == 401 and "logged out" in api.json()["detail"]
        page = other.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
    with session_scope(app_engine) as session:
        (row,) = session.scalars(select(PortalSession))
        assert row.revoked_at is not None


def test_revoking_a_token_ends_its_sessions(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    assert _login(client, tokens.editor) == 303
    assert client.get("/api/v1/me").status_code == 200
    token_id = auth.tokens.token_id_of(tokens.editor)
    revoked = client.delete(f"/api/v1/tokens/{token_id}", headers=tokens.header("admin"))
    assert revoked.status_code == 200
    assert client.get("/api/v1/me").status_code == 401
    with session_scope(app_engine) as session:
        assert all(row.revoked_at for row in session.scalars(select(PortalSession)))


def test_a_signed_cookie_without_a_session_row_is_refused(
    client: TestClient, tokens: Tokens
) -> None:
    """A cookie of the old kind (token id and nonce, signed) could not be ended: refused."""
    from itsdangerous import URLSafeTimedSerializer

    key = auth.secret_key(get_settings())
    token_id = auth.tokens.token_id_of(tokens.admin)
    old = URLSafeTimedSerializer(key, salt="sentier-session").dumps({"t": token_id, "n": "x"})
    client.cookies.set(auth.COOKIE, old)
    assert client.get("/api/v1/me").status_code == 401
    forged = URLSafeTimedSerializer(key, salt="sentier-session").dumps(
        {"t": token_id, "n": "x", "s": "made-up"}
    )
    client.cookies.set(auth.COOKIE, forged)
    assert client.get("/api/v1/me").status_code == 401


# -- malformed claims and names: 4xx problems and clear errors, never a 500 or a traceback -----


@pytest.fixture
def oidc_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**public, "kid": "k1"}]}))
    monkeypatch.setenv("SENTIER_OIDC_ISSUER", "https://idp.example.internal")
    monkeypatch.setenv("SENTIER_OIDC_AUDIENCE", "sentier")
    monkeypatch.setenv("SENTIER_OIDC_JWKS_FILE", str(tmp_path / "jwks.json"))
    get_settings.cache_clear()
    return key


def _jwt(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": "https://idp.example.internal", "aud": "sentier", "sub": "u-1", "exp": now + 60}
    return jwt.encode({**body, **claims}, key, algorithm="RS256", headers={"kid": "k1"})


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"groups": 5}, "claim groups must be a list of strings, got int"),
        ({"groups": {"a": 1}}, "claim groups must be a list of strings, got dict"),
        ({"groups": ["team-a", 7]}, "claim groups must be a list of strings, got a int"),
        ({"groups": ["team-\ud800"]}, "claim groups is not valid text"),
        ({"preferred_username": "\udcff"}, "claim name is not valid text"),
        ({"preferred_username": ["alice"]}, "claim name must be a string, got list"),
    ],
)
def test_malformed_oidc_claims_are_401_problems(
    client: TestClient, tokens: Tokens, oidc_key: Any, claims: dict[str, Any], reason: str
) -> None:
    """``groups: 5`` was a 500 (iterating an int)."""
    response = client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {_jwt(oidc_key, **claims)}"}
    )
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == PROBLEM
    assert reason in response.json()["detail"]


def test_valid_oidc_groups_still_work(client: TestClient, tokens: Tokens, oidc_key: Any) -> None:
    for groups, expected in (("team-a", ["team-a"]), (["a", "b"], ["a", "b"]), (None, [])):
        token = _jwt(oidc_key, groups=groups)
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["groups"] == expected


def test_a_lone_surrogate_in_token_groups_is_a_clear_cli_error(app_engine: Engine) -> None:
    """``sentier token create --group`` with bytes that are not UTF-8 was a traceback."""
    from typer.testing import CliRunner

    from sentier.cli import app

    runner = CliRunner()
    for option, value in (("--group", "team-\udcff"), ("--name", "ci-\udcff"), ("--group", ":")):
        args = ["token", "create", "--name", "ci", "--role", "editor", option, value]
        result = runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "error:" in result.output
    assert (
        "lone surrogate"
        in runner.invoke(app, ["token", "create", "--name", "ci", "--group", "team-\udcff"]).output
    )
    with session_scope(app_engine) as session:
        assert auth.list_tokens(session) == []  # nothing half-created


@pytest.mark.parametrize(
    "body",
    [
        {"name": "ci", "role": "editor", "groups": ["team-\ud800"]},
        {"name": "ci\ud800", "role": "viewer"},
        {"name": "ci", "role": "viewer", "expires": "99999999999999999999d"},
        {"name": "ci", "role": "viewer", "groups": [""]},
    ],
)
def test_bad_token_requests_are_422_problems(
    client: TestClient, tokens: Tokens, body: dict[str, Any]
) -> None:
    response = client.post(
        "/api/v1/tokens",
        content=json.dumps(body).encode(),
        headers={**tokens.header("admin"), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


# -- the API's description is for users ---------------------------------------------------------


def test_the_openapi_document_needs_authentication(client: TestClient, tokens: Tokens) -> None:
    """It was public, contrary to the documentation."""
    anonymous = client.get("/api/v1/openapi.json")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    document = client.get("/api/v1/openapi.json", headers=tokens.header("viewer"))
    assert document.status_code == 200
    assert "/api/v1/entities" in document.json()["paths"]
    assert "/api/v1/openapi.json" not in document.json()["paths"]


# -- links from data ----------------------------------------------------------------------------

DANGEROUS_LINKS = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x",
    "/api/v1/tokens",
    "https:evil",
]


def test_links_from_data_are_rendered_only_when_http_or_mailto(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    """A descriptor's ``javascript:`` link was rendered as an ``href`` on the entity page."""
    from sentier.catalog import ingest_source
    from tests.catalog.builders import component

    links = [{"url": url, "title": f"link {n}"} for n, url in enumerate(DANGEROUS_LINKS)]
    links += [
        {"url": "https://runbooks.example.internal/pay", "title": "Runbook"},
        {"url": "mailto:oncall@example.internal", "title": "On call"},
    ]
    doc = component("links-test", owner="team-a")
    doc["metadata"]["links"] = links
    (tmp_path / "links").mkdir()
    (tmp_path / "links" / "catalog-info.yaml").write_text(json.dumps(doc))
    with session_scope(app_engine) as session:
        assert ingest_source(session, [tmp_path / "links"], name="links").ok
    assert _login(client, tokens.viewer) == 303
    page = client.get("/catalog/component/default/links-test")
    assert page.status_code == 200
    hrefs = re.findall(r'href="([^"]*)"', page.text)
    assert "https://runbooks.example.internal/pay" in hrefs
    assert "mailto:oncall@example.internal" in hrefs
    for n in range(len(DANGEROUS_LINKS)):
        assert f"link {n}" in page.text  # still shown, as text
    leaked = [
        h
        for h in hrefs
        if re.sub(r"[\x00-\x20]", "", h)
        .lower()
        .startswith(("javascript", "data", "vbscript", "//", "https:evil"))
    ]
    assert leaked == []
    assert 'href="/api/v1/tokens"' not in page.text


def test_the_url_filter_allows_http_https_and_mailto_only() -> None:
    from sentier.web.app import safe_url

    for url in DANGEROUS_LINKS:
        assert safe_url(url) is None, url
    for url in ("http://a.example/x?y=1", "HTTPS://A.example", "mailto:a@b.example"):
        assert safe_url(url) == url
    assert safe_url(None) is None and safe_url(5) is None and safe_url("https://[::1") is None


# -- the demo leaves its trail -------------------------------------------------------------------


def test_demo_up_records_its_admin_token_and_ingestions_in_the_audit_trail(
    sqlite_engine: Engine,
) -> None:
    """The admin token ``sentier demo up`` creates, and what it ingested, left no audit row."""
    from typer.testing import CliRunner

    from sentier.cli import app
    from sentier.store.models import AuditEvent

    result = CliRunner().invoke(app, ["demo", "up", "--no-serve"])
    assert result.exit_code == 0, result.output
    with session_scope(sqlite_engine) as session:
        (token,) = auth.list_tokens(session)
        trail = {e.action: e for e in session.scalars(select(AuditEvent))}
    assert trail["token.create"].target == token.id
    assert trail["token.create"].actor.startswith("cli: sentier demo up")
    assert token.created_by == trail["token.create"].actor
    for action in ("source.ingest", "policy.scan", "alerts.ingest", "finops.ingest"):
        assert trail[action].outcome == "ok", action
    assert trail["source.ingest"].details["added"] > 100  # type: ignore[index]


def test_an_overlong_forwarded_address_is_recorded_not_a_500(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a trusted proxy the address comes from the request; PostgreSQL keeps 64 chars."""
    _limit(monkeypatch, 10, proxy=True)
    response = client.get("/api/v1/me", headers={"X-Forwarded-For": "x" * 300})
    assert response.status_code == 401
