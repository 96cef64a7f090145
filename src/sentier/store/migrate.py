"""Alembic migrations applied programmatically, so the CLI can upgrade on first use."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def described_by_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: the trigram search indexes (0004, 0005) are no model's.

    Its virtual table and FTS5's shadow tables are kept by triggers, so autogenerate must neither
    drop them nor report them as drift.
    """
    if type_ == "table" and (name or "").startswith("entities_fts"):
        return False
    return not (type_ == "index" and name == "ix_entities_search_text_trgm")


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def head_revisions(engine: Engine) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def is_current(engine: Engine) -> bool:
    """True when the database carries every migration this code knows."""
    return current_revisions(engine) == head_revisions(engine)


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Apply migrations up to ``revision`` (all of them by default)."""
    command.upgrade(alembic_config(engine), revision)


def ensure_current(engine: Engine) -> None:
    """Upgrade only when needed: the cheap check keeps every CLI start fast."""
    if not is_current(engine):
        upgrade(engine)
