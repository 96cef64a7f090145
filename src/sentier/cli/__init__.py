"""The ``sentier`` command line: one Typer app, one module per command group."""

from __future__ import annotations

import typer

from sentier import __version__
from sentier.cli import catalog, cost, db, demo

app = typer.Typer(
    name="sentier",
    help="sentier: a self-hosted internal developer platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(catalog.app, name="catalog")
app.add_typer(demo.app, name="demo")
app.add_typer(cost.app, name="cost")


@app.command()
def version() -> None:
    """Print sentier's version."""
    typer.echo(__version__)


def main() -> None:
    app()
