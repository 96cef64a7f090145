"""The OpenAPI description: how every operation authenticates, and what it answers when not.

The document FastAPI generates knows the routes but not that a dependency authenticates them.
Here each operation whose dependencies include :func:`deps.current_principal` declares the two
ways in (a bearer token, the portal's session cookie) and its 401 and 403 answers; inbound
hooks declare their own credentials (a bearer token or an HMAC signature) and the same
answers; what remains (the health probes) is declared public, with an empty ``security``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

from sentier.api.problems import BACKSTAGE_PREFIX, PROBLEM_JSON

BEARER = "bearerAuth"
COOKIE = "sessionCookie"
STANDARD_WEBHOOKS = "webhookSignature"
HUB_SIGNATURE = "hubSignature"
SECURITY: list[dict[str, list[str]]] = [{BEARER: []}, {COOKIE: []}]
# Inbound hooks are called by machines holding the hook's own credential rather than a sentier
# session: its bearer token or an HMAC of the body (or a sentier API token).
HOOKS_PREFIX = "/api/v1/hooks/"
HOOK_SECURITY: list[dict[str, list[str]]] = [
    {BEARER: []},
    {STANDARD_WEBHOOKS: []},
    {HUB_SIGNATURE: []},
]

_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status", "detail"],
}
_BACKSTAGE_ERROR_SCHEMA = {
    "type": "object",
    "description": "Backstage's error body (@backstage/errors)",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "message": {"type": "string"}},
            "required": ["name", "message"],
        },
        "request": {
            "type": "object",
            "properties": {"method": {"type": "string"}, "url": {"type": "string"}},
        },
        "response": {
            "type": "object",
            "properties": {"statusCode": {"type": "integer"}},
            "required": ["statusCode"],
        },
    },
    "required": ["error", "response"],
}


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body that a route reads itself (to bound its size),
    with the model's nested definitions inlined."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline(schema)}},
        }
    }


def api_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every API route with its full path, through included routers (FastAPI keeps those as
    wrappers, with their prefix, rather than copying their routes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path_format, route
        elif hasattr(route, "original_router"):
            yield from api_routes(
                route.original_router.routes, prefix + route.include_context.prefix
            )


def _calls(dependant: Dependant) -> Iterable[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def is_authenticated(route: APIRoute) -> bool:
    """Whether the route's dependencies authenticate the caller."""
    from sentier.api.deps import current_principal

    return any(call is current_principal for call in _calls(route.dependant))


def _error(description: str, backstage: bool) -> dict[str, Any]:
    if backstage:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/BackstageError"}}}
    else:
        content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {"description": description, "content": content}


def describe(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with its security declared."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(
        {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "an API token (snt_...) or, when configured, an OIDC JWT",
            },
            COOKIE: {
                "type": "apiKey",
                "in": "cookie",
                "name": _cookie_name(),
                "description": "the portal's signed session; API writes also need X-CSRF-Token",
            },
            STANDARD_WEBHOOKS: {
                "type": "apiKey",
                "in": "header",
                "name": "webhook-signature",
                "description": "inbound hooks: Standard Webhooks HMAC-SHA256 of the raw body "
                "(with webhook-id and webhook-timestamp), keyed by the hook's secret",
            },
            HUB_SIGNATURE: {
                "type": "apiKey",
                "in": "header",
                "name": "X-Hub-Signature-256",
                "description": "inbound git hooks: sha256=HMAC of the raw body, keyed by the "
                "hook's secret (X-Gitea-Signature is read too)",
            },
        }
    )
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = _PROBLEM_SCHEMA
    schemas["BackstageError"] = _BACKSTAGE_ERROR_SCHEMA
    paths = schema.get("paths", {})
    for path, route in api_routes(app.router.routes):
        if not route.include_in_schema:
            continue
        operations = paths.get(path, {})
        backstage = path.startswith(BACKSTAGE_PREFIX)
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            if path.startswith(HOOKS_PREFIX):
                operation["security"] = HOOK_SECURITY
            elif is_authenticated(route):
                operation["security"] = SECURITY
            else:
                operation["security"] = []  # public on purpose: health probes
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("401", _error("not authenticated", backstage))
            responses.setdefault("403", _error("authenticated, but not allowed", backstage))
    return schema


def _cookie_name() -> str:
    from sentier.auth import COOKIE as NAME

    return NAME


def install(app: FastAPI) -> None:
    """Serve the described document (built once, on first request) at the app's OpenAPI URL."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
