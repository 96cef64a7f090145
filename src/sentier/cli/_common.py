"""What every command shares: the console, the store opened (and migrated) on first use, output."""

from __future__ import annotations

import json
import logging
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
import yaml
from rich.console import Console

if TYPE_CHECKING:
    from sqlalchemy import Engine

# soft_wrap: long lines (URLs, tokens, commands to copy) are never broken when not on a terminal.
# Piped output gets room for wide tables instead of rich's 80-column default.
console = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def open_store() -> Engine:
    """The configured database, with migrations applied when this code knows newer ones."""
    from sentier.config import get_settings
    from sentier.store import ensure_current, get_engine

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    engine = get_engine()
    try:
        ensure_current(engine)
    except Exception as error:  # noqa: BLE001 - shown to the user as one clear message
        fail(f"cannot open the database {engine.url.render_as_string(hide_password=True)}: {error}")
    return engine


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_yaml(data: Any) -> None:
    sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
