"""The MCP server: sentier drivable by an LLM assistant, over the same functions as the API.

``sentier mcp`` serves it over stdio (token from ``SENTIER_TOKEN``); ``sentier serve`` serves it
over streamable HTTP at ``/mcp`` (bearer token). Same tokens, roles and audit trail as the API;
read tools for every viewer, write tools only for callers whose role allows them.
"""

from sentier.mcp.access import Caller
from sentier.mcp.http import McpEndpoint
from sentier.mcp.server import build_server
from sentier.mcp.stdio import run_stdio
from sentier.mcp.tools import READ_TOOLS, WRITE_TOOLS

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "Caller", "McpEndpoint", "build_server", "run_stdio"]
