"""Alembic environment: runs on the engine handed over by ``sentier.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from sentier.store.migrate import described_by_models, lock_for_migrations
from sentier.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        from sentier.store.engine import get_engine

        engine = get_engine()
    with engine.begin() as connection:
        # Before alembic reads the current revision: servers starting together on one empty
        # database take turns, and the later ones find the work done.
        lock_for_migrations(connection)
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=described_by_models,
        )
        context.run_migrations()


run_migrations_online()
