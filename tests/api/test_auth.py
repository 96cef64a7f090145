"""Zero trust: every request is authenticated and authorised; refusals are precise and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update

from sentier import auth
from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import ApiToken, AuditEvent
from tests.api.conftest import Tokens

PROBLEM = "application/problem+json"


def _audit(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer snt_nope"},
        {"Authorization": "Bearer snt_000000000000_wrong"},
    ],
)
def test_no_or_bad_credentials_get_401_problem(
    client: TestClient, tokens: Tokens, headers: dict[str, str]
) -> None:
    response = client.get("/api/v1/entities", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"] == "urn:sentier:problem:unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_secret_for_a_real_token_id_is_refused(client: TestClient, tokens: Tokens) -> None:
    token_id = auth.tokens.token_id_of(tokens.viewer)
    response = client.get(
        "/api/v1/entities", headers={"Authorization": f"Bearer snt_{token_id}_guess"}
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "wrong token"


def test_failed_authentications_are_audited(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    client.get("/api/v1/entities", headers={"Authorization": "Bearer snt_nope"})
    (event,) = _audit(app_engine, "auth.failed")
    assert (event.outcome, event.target, event.ip) == ("failed", "/api/v1/entities", "testclient")


def test_revoked_and_expired_tokens_stop_working_at_once(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    assert client.get("/api/v1/entities", headers=tokens.header("viewer")).status_code == 200
    viewer_id = auth.tokens.token_id_of(tokens.viewer)
    revoked = client.delete(f"/api/v1/tokens/{viewer_id}", headers=tokens.header("admin"))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    response = client.get("/api/v1/entities", headers=tokens.header("viewer"))
    assert response.status_code == 401 and response.json()["detail"] == "token revoked"
    editor_id = auth.tokens.token_id_of(tokens.editor)
    with session_scope(app_engine) as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == editor_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = client.get("/api/v1/entities", headers=tokens.header("editor"))
    assert response.status_code == 401 and response.json()["detail"] == "token expired"


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("get", "/api/v1/tokens", "editor"),
        ("get", "/api/v1/audit", "viewer"),
        ("post", "/api/v1/sources", "editor"),
        ("post", "/api/v1/sources/push", "viewer"),
        ("delete", "/api/v1/sources/1", "editor"),
        ("post", "/api/v1/sources/1/refresh", "viewer"),
        ("post", "/api/v1/tokens", "editor"),
    ],
)
def test_role_refusals_are_403_and_audited(
    client: TestClient, tokens: Tokens, app_engine: Engine, method: str, path: str, role: str
) -> None:
    body = {"name": "x", "path": "/tmp", "files": {"a.yaml": "x"}, "role": "viewer"}
    kwargs = {"json": body} if method == "post" else {}
    response = getattr(client, method)(path, headers=tokens.header(role), **kwargs)
    assert response.status_code == 403, response.text
    assert response.json()["type"] == "urn:sentier:problem:forbidden"
    with session_scope(app_engine) as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.outcome == "denied")).all()
    assert [e.target for e in denied] == [path]


def _push(
    client: TestClient, tokens: Tokens, name: str, owner: str, entity: str = "refunds"
) -> int:
    text = (
        f"apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {entity}\n"
        f"spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
    )
    response = client.post(
        "/api/v1/sources/push",
        headers=tokens.header("editor"),
        json={"name": name, "files": {"svc/catalog-info.yaml": text}},
    )
    return response.status_code


def test_editor_writes_what_their_groups_own_including_child_groups(
    client: TestClient, tokens: Tokens
) -> None:
    assert _push(client, tokens, "team-a-refunds", "team-a") == 202
    assert _push(client, tokens, "team-a1-refunds", "team-a1", entity="payouts") == 202


def test_editor_cannot_write_another_groups_entity(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    assert _push(client, tokens, "sneaky", "team-b") == 403
    # Nor take over an existing entity of team-b by claiming it for team-a.
    assert _push(client, tokens, "takeover", "team-a", entity="billing") == 403
    reasons = [
        e.details["reason"] for e in _audit(app_engine, "post /api/v1/sources/push") if e.details
    ]
    assert any("component:default/billing" in reason for reason in reasons)


def test_rate_limit_on_failed_authentication(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIER_LOGIN_FAILURES_PER_MINUTE", "3")
    get_settings.cache_clear()
    codes = [
        client.get("/api/v1/me", headers={"Authorization": "Bearer snt_x_y"}).status_code
        for _ in range(5)
    ]
    assert codes == [401, 401, 401, 429, 429]


def test_me_tells_who_is_asking(client: TestClient, tokens: Tokens) -> None:
    me = client.get("/api/v1/me", headers=tokens.header("editor")).json()
    assert (me["role"], me["groups"], me["name"]) == ("editor", ["team-a"], "team-a-ci")


def test_tokens_api_shows_secret_once_and_audits(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    created = client.post(
        "/api/v1/tokens",
        headers=tokens.header("admin"),
        json={"name": "ci", "role": "editor", "groups": ["team-b"], "expires": "30d"},
    )
    assert created.status_code == 201
    secret = created.json()["token"]
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).json()[
        "groups"
    ] == ["team-b"]
    listed = client.get("/api/v1/tokens", headers=tokens.header("admin")).json()
    assert all("token" not in row and secret not in str(row) for row in listed)
    with session_scope(app_engine) as session:
        row = session.get(ApiToken, created.json()["id"])
        assert row is not None and secret not in (row.hash, row.salt)
    assert [e.target for e in _audit(app_engine, "token.create")] == [created.json()["id"]]


def test_audit_log_is_append_only_and_admin_readable(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    client.post(
        "/api/v1/tokens", headers=tokens.header("admin"), json={"name": "x", "role": "viewer"}
    )
    log = client.get("/api/v1/audit", headers=tokens.header("admin")).json()
    assert log[0]["action"] == "token.create" and log[0]["actor"].startswith("token:")
    with pytest.raises(Exception, match="append-only"), session_scope(app_engine) as session:
        session.execute(update(AuditEvent).values(outcome="ok"))


def test_a_burst_of_first_requests_with_a_new_token_is_served_and_verified_once(
    client: TestClient, app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job's fan-out: many requests at once with a token this process has not seen yet."""
    from concurrent.futures import ThreadPoolExecutor

    with session_scope(app_engine) as session:
        fresh = auth.create_token(session, name="burst", role="viewer").secret
    calls: list[str] = []
    real_hash = auth.tokens._hash

    def counting_hash(secret: str, salt: str) -> str:
        calls.append(secret)
        return real_hash(secret, salt)

    monkeypatch.setattr(auth.tokens, "_hash", counting_hash)
    headers = {"Authorization": f"Bearer {fresh}"}
    with ThreadPoolExecutor(12) as pool:
        statuses = list(
            pool.map(
                lambda _: client.get("/api/v1/entities", headers=headers).status_code, range(24)
            )
        )
    assert statuses == [200] * 24
    assert calls == [fresh]
    wrong = fresh[:-4] + "AAAA"
    assert (
        client.get("/api/v1/entities", headers={"Authorization": f"Bearer {wrong}"}).status_code
        == 401
    )


def test_a_token_expiry_too_far_away_is_a_clear_400(client: TestClient, tokens: Tokens) -> None:
    """Found by schemathesis: ``3000000d`` overflowed the date and answered 500."""
    response = client.post(
        "/api/v1/tokens",
        json={"name": "far", "role": "viewer", "expires": "3000000d"},
        headers=tokens.header("admin"),
    )
    assert response.status_code == 422 and "longer than 100 years" in response.json()["detail"]
