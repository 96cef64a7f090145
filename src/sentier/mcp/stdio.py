"""``sentier mcp``: the MCP server over stdio, for an assistant running on this machine.

The token (``SENTIER_TOKEN``) is checked at start and again on every call; its role decides
whether the write tools are offered. Nothing but the protocol is written to stdout.
"""

from __future__ import annotations

import anyio

from sentier.mcp.access import token_caller, verify_token
from sentier.mcp.server import build_server


def run_stdio(token: str, *, read_only: bool = False) -> None:
    """Serve over stdin/stdout until the client closes them. ``ToolError`` (a bad token)
    is raised before anything is served."""
    principal = verify_token(token)
    writes = principal.has_role("editor") and not read_only
    server = build_server(token_caller(token), writes=writes)
    anyio.run(server.run_stdio_async)
