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
            "read": build_server(http_caller, writes=False),
            "write": build_server(http_caller, writes=not read_only),
        }
        self._apps: dict[str, StreamableHTTPASGIApp] = {}
        self._started = False

    @staticmethod
    def _manager(server: MCPServer) -> Any:
        """A new session manager for ``server`` (one runs once: each start of the app, as
        tests start it many times, gets its own). Its Starlette app is not used: this
        endpoint authenticates and routes."""
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            max_request_body_size=MAX_BODY,
            # Every request carries a bearer token and no cookie is honoured: a rebound DNS
            # name gains nothing, so any Host the operator serves under is accepted.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            apps = {}
            for kind, server in self.servers.items():
                manager = self._manager(server)
                await stack.enter_async_context(manager.run())
                apps[kind] = StreamableHTTPASGIApp(manager)
            self._apps = apps
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
