"""The ``sentier`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from sentier import __version__
from sentier.cli import (
    alerts,
    carbon,
    catalog,
    cost,
    db,
    demo,
    detect,
    drift,
    events,
    logs,
    mcp_server,
    metrics,
    rules,
    scan,
    serve,
    token,
    webhooks,
)

app = typer.Typer(
    name="sentier",
    help="sentier: a self-hosted internal developer platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(catalog.app, name="catalog")
app.add_typer(demo.app, name="demo")
app.add_typer(token.app, name="token")
app.command(name="serve")(serve.serve)
app.command(name="mcp")(mcp_server.mcp)
app.add_typer(events.app, name="events")
app.add_typer(webhooks.app, name="webhooks")
app.command("scan")(scan.scan)
app.add_typer(scan.findings_app, name="findings")
app.add_typer(rules.app, name="rules")
app.command("drift")(drift.drift)
app.add_typer(logs.app, name="logs")
app.add_typer(metrics.app, name="metrics")
app.add_typer(alerts.app, name="alerts")
app.add_typer(alerts.incidents_app, name="incidents")
app.add_typer(cost.app, name="cost")
app.add_typer(carbon.app, name="carbon")
app.add_typer(detect.app, name="detect")


@app.command()
def version() -> None:
    """Print sentier's version."""
    typer.echo(__version__)


def main() -> None:
    app()
