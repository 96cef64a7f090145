"""Alembic migrations applied programmatically, so the CLI can upgrade on first use."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The PostgreSQL advisory lock serialising upgrades (any fixed 64-bit number, sentier's own).
MIGRATION_LOCK_KEY = 0x5E471E5_A1E_0001


def lock_for_migrations(connection: Connection) -> None:
    """Hold the database's migration lock until ``connection``'s transaction ends.

    Two servers starting on one empty database would otherwise both create the first tables
    (``UniqueViolation`` on ``alembic_version``, or "table already exists"). PostgreSQL: a
    transaction-scoped advisory lock, released by the commit that records the new revision.
    SQLite: the write lock taken at once (``BEGIN IMMEDIATE``); a second upgrader waits for it
    within the busy timeout, then sees the migrations done.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        driver_connection = connection.connection.dbapi_connection
        # pysqlite opens its transaction lazily, at the first write: open it now, for writing.
        if not getattr(driver_connection, "in_transaction", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


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
