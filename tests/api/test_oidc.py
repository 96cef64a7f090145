"""OIDC bearer JWTs (RS256 and ES256) verified against a JWKS file; groups map to roles."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from sentier.config import get_settings
from tests.api.conftest import Tokens

ISSUER, AUDIENCE = "https://idp.acme.internal/realms/acme", "sentier"


@pytest.fixture
def keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    jwks = {
        "keys": [
            {
                **json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key())),
                "kid": "rsa1",
                "use": "sig",
            },
            {
                **json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key())),
                "kid": "ec1",
                "use": "sig",
            },
        ]
    }
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    monkeypatch.setenv("SENTIER_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("SENTIER_OIDC_AUDIENCE", AUDIENCE)
    monkeypatch.setenv("SENTIER_OIDC_JWKS_FILE", str(path))
    monkeypatch.setenv("SENTIER_OIDC_ADMIN_GROUPS", '["platform-admins"]')
    monkeypatch.setenv("SENTIER_OIDC_EDITOR_GROUPS", '["team-a"]')
    get_settings.cache_clear()
    return {"rsa": rsa_key, "ec": ec_key}


def _jwt(key: Any, alg: str, kid: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-123",
        "preferred_username": "alice",
        "iat": now,
        "exp": now + 300,
        "groups": ["team-a"],
        **claims,
    }
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


def _me(client: TestClient, token: str) -> Any:
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_valid_rs256_and_es256_tokens_map_groups_to_roles(
    client: TestClient, tokens: Tokens, keys: dict[str, Any]
) -> None:
    me = _me(client, _jwt(keys["rsa"], "RS256", "rsa1")).json()
    assert (me["kind"], me["name"], me["role"], me["groups"]) == (
        "oidc",
        "alice",
        "editor",
        ["team-a"],
    )
    admin = _me(client, _jwt(keys["ec"], "ES256", "ec1", groups=["platform-admins"])).json()
    assert admin["role"] == "admin"
    viewer = _me(client, _jwt(keys["rsa"], "RS256", "rsa1", groups=["others"])).json()
    assert viewer["role"] == "viewer"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 10}, "expired"),
    ],
)
def test_bad_claims_are_refused(
    client: TestClient, tokens: Tokens, keys: dict[str, Any], claims: dict[str, Any], reason: str
) -> None:
    response = _me(client, _jwt(keys["rsa"], "RS256", "rsa1", **claims))
    assert response.status_code == 401
    assert reason in response.json()["detail"].lower()


def test_symmetric_and_forged_tokens_are_refused(
    client: TestClient, tokens: Tokens, keys: dict[str, Any]
) -> None:
    hs = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        "secret" * 8,
        algorithm="HS256",
    )
    assert _me(client, hs).status_code == 401
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert _me(client, _jwt(stranger, "RS256", "rsa1")).status_code == 401
