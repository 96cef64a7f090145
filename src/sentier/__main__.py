"""The ``sentier`` command (and ``python -m sentier``).

``sentier scan`` runs in pre-commit hooks and CI steps, many times a day on small changes;
there, building the whole Typer application (every command group and the libraries each one
imports) costs more than the scan itself. So ``scan`` is dispatched to its own command alone,
the same function with the same options and exit codes; every other command goes through
the full application in ``sentier.cli`` unchanged.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def command_module(name: str) -> ModuleType:
    """Import ``sentier.cli.<name>`` without running ``sentier/cli/__init__.py``.

    The package is stood in by an unexecuted module object while the command module loads,
    then withdrawn, so a later ``import sentier.cli`` (``scan --store`` opens the store
    through it) runs the real package, which finds the command module already loaded.
    """
    import importlib
    import importlib.util

    qualified = f"sentier.cli.{name}"
    if "sentier.cli" in sys.modules or qualified in sys.modules:
        return importlib.import_module(qualified)
    spec = importlib.util.find_spec("sentier.cli")
    assert spec is not None
    sys.modules["sentier.cli"] = importlib.util.module_from_spec(spec)
    try:
        return importlib.import_module(qualified)
    finally:
        del sys.modules["sentier.cli"]


def scan_app() -> typer.Typer:
    """A Typer application holding only ``scan``: what ``sentier scan ...`` runs."""
    import typer

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(name="scan")(command_module("scan").scan)
    return app


def main() -> None:
    # What sentier creates is its owner's alone: the database and its WAL, keys, facts, caches,
    # reports (set here, at process start, so every server worker inherits it).
    os.umask(0o077)
    args = sys.argv[1:]
    if args[:1] == ["scan"]:
        app = scan_app()
        app(args=args[1:], prog_name="sentier scan")
        return
    from sentier.cli import main as full
    from sentier.config import close_home, get_settings

    close_home(get_settings().home)
    full()


if __name__ == "__main__":
    main()
