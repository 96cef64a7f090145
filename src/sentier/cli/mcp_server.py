"""``sentier mcp``: the MCP server over stdio, for an LLM assistant on this machine."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer


def mcp(
    read_only: Annotated[
        bool, typer.Option("--read-only", help="Offer only the read tools, whatever the role.")
    ] = False,
) -> None:
    """Serve sentier's tools (catalog, owners, findings, cost, carbon, incidents, scans) over
    MCP on stdin/stdout. The API token comes from SENTIER_TOKEN; its role decides whether the
    write tools (scan_path, acknowledge_incident) are offered. Configure your assistant to run
    `sentier mcp` with SENTIER_TOKEN set."""
    token = os.environ.get("SENTIER_TOKEN", "").strip()
    if not token:
        sys.stderr.write(
            "error: set SENTIER_TOKEN to an API token (sentier token create --name assistant "
            "--role viewer)\n"
        )
        raise typer.Exit(2)
    from mcp.server.mcpserver.exceptions import ToolError

    from sentier.cli._common import open_store
    from sentier.mcp import run_stdio

    open_store()
    try:
        run_stdio(token, read_only=read_only)
    except ToolError as error:
        sys.stderr.write(f"error: {error}\n")
        raise typer.Exit(2) from None
