"""The one settings object of sentier.

Every knob is an environment variable with the ``SENTIER_`` prefix, read in exactly one place so
that the CLI, the server, the tests and the benchmarks all agree on where data lives.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Process-wide settings, resolved from ``SENTIER_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SENTIER_", extra="ignore")

    home: Path = Field(
        default=Path(".sentier"),
        description="Directory holding the embedded database, fact files and state.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to a SQLite file under SENTIER_HOME.",
    )
    log_level: str = Field(default="WARNING", description="Python logging level name.")
    instance: str = Field(
        default="urn:sentier:local",
        description="CloudEvents `source` of every event this instance emits.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use: explicit, or the embedded SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'sentier.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
