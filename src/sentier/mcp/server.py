"""An MCP server of sentier's tools for one kind of caller (read-only, or read-write)."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from sentier import __version__
from sentier.mcp.access import Identify
from sentier.mcp.tools import register

INSTRUCTIONS = (
    "sentier is an internal developer platform. Its catalog says who owns what (groups are "
    "teams); findings are infrastructure-as-code security issues; cost and carbon come from "
    "the organisation's cloud bills; incidents group alerts with their likely root causes. "
    "Entities are named kind:namespace/name (component:default/payments), or by bare name."
)


def build_server(identify: Identify, *, writes: bool) -> MCPServer:
    """The server: read tools for everyone, write tools only when ``writes``."""
    server: MCPServer = MCPServer(
        "sentier",
        title="sentier",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    register(server, identify, writes=writes)
    return server
