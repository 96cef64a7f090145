"""``sentier serve``: the API and the portal."""

from __future__ import annotations

from typing import Annotated

import typer

from sentier.cli._common import console, open_store


def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but 127.0.0.1 exposes sentier.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (state is only in the database).")
    ] = 1,
    log_level: Annotated[str, typer.Option(help="Uvicorn log level.")] = "warning",
) -> None:
    """Serve the JSON API and the portal (authenticated; migrations applied first)."""
    import uvicorn

    engine = open_store()
    from sentier.api.recovery import recover_interrupted

    recovered = recover_interrupted(engine)
    if recovered.jobs or recovered.staging:
        console.print(
            f"[yellow]{len(recovered.jobs)} job(s) interrupted by a previous stop marked failed; "
            f"{len(recovered.staging)} abandoned staging path(s) removed[/]"
        )
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]listening on {host}: sentier is reachable from other machines[/]")
    console.print(
        f"sentier on http://{host}:{port} (API under /api/v1, OpenAPI at /api/v1/openapi.json)"
    )
    uvicorn.run(
        "sentier.api:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
    )
