"""Bearer JWTs from an OpenID Connect provider, verified against its JWKS (RS256/ES256).

The provider is the organisation's own (the JWKS comes from a file, or from its URL inside the
organisation's network); groups come from a claim and map onto catalog groups.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt

from sentier.auth.principal import Principal, Role
from sentier.config import Settings

ALGORITHMS = ["RS256", "ES256"]


class OidcError(Exception):
    """A bearer JWT that is not acceptable (signature, issuer, audience, expiry, claims)."""


@lru_cache(maxsize=4)
def _jwks_from_file(path: str, mtime: float) -> jwt.PyJWKSet:
    del mtime  # cache key: a rewritten file is read again
    return jwt.PyJWKSet.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=300)


def is_configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and (settings.oidc_jwks_file or settings.oidc_jwks_url))


def _signing_key(token: str, settings: Settings) -> Any:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise OidcError(f"not a JWT: {error}") from error
    if header.get("alg") not in ALGORITHMS:
        raise OidcError(f"algorithm {header.get('alg')!r} not accepted (RS256 or ES256)")
    if settings.oidc_jwks_file:
        path = settings.oidc_jwks_file
        keys = _jwks_from_file(str(path), path.stat().st_mtime)
        kid = header.get("kid")
        for key in keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise OidcError(f"no key {kid!r} in the JWKS")
    assert settings.oidc_jwks_url is not None
    try:
        return _jwks_client(settings.oidc_jwks_url).get_signing_key_from_jwt(token).key
    except jwt.PyJWTError as error:
        raise OidcError(f"cannot get the signing key: {error}") from error


def authenticate_jwt(token: str, settings: Settings) -> Principal:
    """The principal of a valid bearer JWT, or ``OidcError``."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(token, settings),
            algorithms=ALGORITHMS,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            options={"require": ["exp", "iss", "sub"]},
        )
    except jwt.PyJWTError as error:
        raise OidcError(str(error)) from error
    groups = _groups(claims.get(settings.oidc_groups_claim), settings.oidc_groups_claim)
    role: Role = "viewer"
    if set(groups) & set(settings.oidc_admin_groups):
        role = "admin"
    elif set(groups) & set(settings.oidc_editor_groups):
        role = "editor"
    name = _text(claims.get("preferred_username") or claims.get("email") or claims["sub"], "name")
    subject = _text(claims["sub"], "sub")
    return Principal(kind="oidc", id=subject, name=name, role=role, groups=groups)


MAX_GROUPS = 1000


def _text(value: object, claim: str) -> str:
    """A claim as stored and shown (audit trail, labels): a bounded string of real text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise OidcError(f"claim {claim} must be a string, got {type(value).__name__}")
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise OidcError(f"claim {claim} is not valid text (a lone surrogate)") from None
    if not text or len(text) > 255 or "\x00" in text:
        raise OidcError(f"claim {claim} must be 1 to 255 characters, without NUL")
    return text


def _groups(raw: object, claim: str) -> tuple[str, ...]:
    """The groups claim: absent, one string, or a list of strings; anything else is refused."""
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise OidcError(f"claim {claim} must be a list of strings, got {type(raw).__name__}")
    if len(raw) > MAX_GROUPS:
        raise OidcError(f"claim {claim} lists more than {MAX_GROUPS} groups")
    for group in raw:
        if not isinstance(group, str):
            raise OidcError(
                f"claim {claim} must be a list of strings, got a {type(group).__name__}"
            )
    return tuple(_text(group, claim) for group in raw)
