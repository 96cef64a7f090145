"""``sentier demo``: the deterministic demo organisation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sentier.cli._common import console

app = typer.Typer(
    help="The demo organisation: generate it, or build and serve it.", no_args_is_help=True
)


@app.command()
def generate(
    directory: Annotated[Path, typer.Argument(help="Where to write the organisation's files.")],
    seed: Annotated[int, typer.Option(help="Same seed, same organisation.")] = 42,
) -> None:
    """Write the demo organisation as real files (catalog descriptors and more)."""
    from sentier.demo import generate_organisation

    summary = generate_organisation(directory, seed=seed)
    console.print(f"demo organisation written to [bold]{directory}[/]")
    for key, value in summary.items():
        console.print(f"  {key}: {value}")
