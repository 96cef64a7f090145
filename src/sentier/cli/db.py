"""``sentier db``: database migrations."""

from __future__ import annotations

import typer

from sentier.cli._common import console, fail

app = typer.Typer(help="Database schema: apply migrations, show their state.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply every pending migration to the configured database."""
    from sentier.store import get_engine
    from sentier.store import upgrade as apply

    engine = get_engine()
    try:
        apply(engine)
    except Exception as error:  # noqa: BLE001 - shown to the user as one clear message
        fail(f"migration failed: {error}")
    console.print(
        f"database at [bold]{engine.url.render_as_string(hide_password=True)}[/] is up to date"
    )


@app.command()
def status() -> None:
    """Show the applied and the known migrations."""
    from sentier.store import get_engine
    from sentier.store.migrate import current_revisions, head_revisions

    engine = get_engine()
    current, heads = current_revisions(engine), head_revisions(engine)
    console.print(f"applied: {', '.join(sorted(current)) or 'none'}")
    console.print(f"known:   {', '.join(sorted(heads))}")
    console.print(
        "up to date"
        if current == heads
        else "[yellow]pending migrations[/]: run `sentier db upgrade`"
    )
