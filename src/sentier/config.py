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

    secret_key: str | None = Field(
        default=None,
        description="Signs session cookies and CSRF tokens; generated under SENTIER_HOME if unset.",
    )
    session_hours: float = Field(default=12.0, description="Lifetime of a portal session.")
    login_failures_per_minute: int = Field(
        default=10, description="Failed authentications allowed per client address per minute."
    )
    oidc_issuer: str | None = Field(default=None, description="Expected `iss` of bearer JWTs.")
    oidc_audience: str | None = Field(default=None, description="Expected `aud` of bearer JWTs.")
    oidc_jwks_file: Path | None = Field(default=None, description="JWKS file of the issuer.")
    oidc_jwks_url: str | None = Field(default=None, description="JWKS URL of the issuer.")
    oidc_groups_claim: str = Field(default="groups", description="Claim listing the user's groups.")
    oidc_admin_groups: list[str] = Field(default_factory=list, description="Groups made admin.")
    oidc_editor_groups: list[str] = Field(
        default_factory=list, description="Groups made editor (others are viewers)."
    )
    trust_proxy_headers: bool = Field(
        default=False, description="Read the client address from X-Forwarded-For."
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
