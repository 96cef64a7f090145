"""Every route of the app refuses an anonymous caller: the API with 401, the portal by sending
the browser to the login page. A route added without its auth dependency fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Route

from sentier.config import get_settings

# Open on purpose: probes for load balancers, the login itself.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/login/one-time/{code}"),  # a single-use secret in the path is the credential
}

# Called by programs with a bearer token: an anonymous call is a 401, not a trip to the login.
BEARER_ONLY = ("/api/", "/metrics", "/mcp")


def _routes(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:  # type: ignore[type-arg]
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI >= 0.165)
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Route):  # an APIRoute, or an ASGI app added with add_route (/mcp)
            for method in sorted(route.methods or ()):
                yield method, prefix + route.path


def all_routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(set(_routes(app.router.routes)))


def test_every_route_refuses_anonymous_callers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIER_LOGIN_FAILURES_PER_MINUTE", "100000")  # one failure per route
    get_settings.cache_clear()
    routes = all_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) > 100 and ("POST", "/api/v1/sources/push") in routes
    assert ("POST", "/mcp") in routes  # added with add_route, outside the OpenAPI document
    open_routes = []
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        url = re.sub(r"\{[^}]+\}", "1", path)
        client.cookies.clear()
        response = client.request(method, url, follow_redirects=False)
        if path.startswith("/api/v1/hooks/"):
            # Inbound hooks carry their own credential: 404 when no such hook is set up.
            refused = response.status_code in (401, 404)
        elif path.startswith(BEARER_ONLY):
            refused = response.status_code == 401
        else:
            refused = response.status_code == 303 and response.headers["location"].startswith(
                "/login"
            )
        if not refused:
            open_routes.append((method, path, response.status_code))
    assert open_routes == []
