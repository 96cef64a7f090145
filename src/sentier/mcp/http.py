"""``/mcp`` on ``sentier serve``: the MCP server over streamable HTTP.

Every request is authenticated as the API's are (``Authorization: Bearer`` with an API token
or an OIDC JWT; failures audited and rate-limited), then handed to the server of the caller's
role: viewers get the read tools, editors and admins the write tools too. The portal's cookie
is not accepted here (a page of another site could otherwise call tools with it).

Stateless: each request stands alone (JSON responses, no session to resume), so any worker
of a multi-worker server answers any request, and nothing outlives the request that made it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from sentier.mcp.access import http_caller
from sentier.mcp.server import build_server

# One tool call's JSON-RPC body; arguments are bounded by the tools' own schemas.
MAX_BODY = 1 << 20


class McpEndpoint:
    """The ASGI app mounted at ``/mcp``; ``run()`` must wrap the server's lifetime."""

    def __init__(self, *, read_only: bool = False) -> None:
        self.read_only = read_only
        self.servers = {
            "read": self._server(writes=False),
            "write": self._server(writes=not read_only),
        }
        self._apps = {
            kind: StreamableHTTPASGIApp(server.session_manager)
            for kind, server in self.servers.items()
        }
        self._started = False

    @staticmethod
    def _server(*, writes: bool) -> MCPServer:
        server = build_server(http_caller, writes=writes)
        # Builds the session manager; its Starlette app is not used (this endpoint routes).
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            max_request_body_size=MAX_BODY,
            # Every request carries a bearer token and no cookie is honoured: a rebound DNS
            # name gains nothing, so any Host the operator serves under is accepted.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for server in self.servers.values():
                await stack.enter_async_context(server.session_manager.run())
            self._started = True
            try:
                yield
            finally:
                self._started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from fastapi.concurrency import run_in_threadpool

        from sentier.api.deps import client_ip, current_principal
        from sentier.api.problems import Problem
        from sentier.config import get_settings

        if not self._started:
            raise Problem(503, "the MCP endpoint is not running (server starting or stopping)")
        scope.setdefault("state", {})
        # Bearer only: the request is authenticated as if it had no cookie.
        bearer_only: dict[str, Any] = dict(scope)
        bearer_only["headers"] = [(k, v) for k, v in scope["headers"] if k != b"cookie"]
        request = Request(bearer_only, receive)
        principal = await current_principal(request)
        request.state.client_ip = await run_in_threadpool(client_ip, request, get_settings())
        kind = "write" if principal.has_role("editor") and not self.read_only else "read"
        await self._apps[kind](scope, receive, send)
