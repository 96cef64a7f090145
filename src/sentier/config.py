"""The one settings object of sentier.

Every knob is an environment variable with the ``SENTIER_`` prefix, read in exactly one place so
that the CLI, the server, the tests and the benchmarks all agree on where data lives.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventsSettings(BaseModel):
    """Event delivery, retention and brokers: ``SENTIER_EVENTS_*`` (``settings.events``)."""

    retention_days: float = Field(
        default=30.0, description="Events (and finished deliveries) older than this are purged."
    )
    retry_horizon_seconds: float = Field(
        default=24 * 3600.0,
        description="A delivery failing for longer than this is dead-lettered.",
    )
    backoff_base_seconds: float = Field(default=1.0, description="First retry delay.")
    backoff_max_seconds: float = Field(default=3600.0, description="Longest retry delay.")
    connect_timeout_seconds: float = Field(default=5.0)
    read_timeout_seconds: float = Field(default=10.0)
    ca_file: Path | None = Field(
        default=None,
        description="CA certificates (PEM) trusted for https receivers besides the system's: "
        "an organisation's internal CA.",
    )
    poll_interval_seconds: float = Field(
        default=0.05, description="How often the dispatcher looks for new events when idle."
    )
    batch_size: int = Field(default=200, description="Events routed or sent per batch.")
    lease_seconds: float = Field(
        default=15.0,
        description="How long a dispatcher owns a subscription without renewing; a killed "
        "dispatcher's subscriptions are taken over after this.",
    )
    max_parallel_subscriptions: int = Field(default=32)
    dispatch_in_serve: bool = Field(
        default=True,
        description="Run the dispatcher inside `sentier serve` (every worker; leases share "
        "the work). Turn off when `sentier events dispatch` runs as its own process.",
    )
    allow_private_targets: bool = Field(
        default=False,
        description="Allow webhook URLs resolving to private/loopback ranges (admin decision). "
        "Link-local and cloud metadata addresses are refused regardless.",
    )
    secret_key: str | None = Field(
        default=None,
        description="Fernet key encrypting webhook secrets at rest; default: a key file "
        "created under SENTIER_HOME. Every worker sharing a database needs the same key.",
    )
    broker: Literal["none", "rabbitmq", "nats"] = Field(
        default="none", description="Broker the dispatcher forwards the outbox to."
    )
    rabbitmq_url: str = Field(default="amqp://guest:guest@127.0.0.1:5672/")
    rabbitmq_exchange: str = Field(default="sentier.events")
    nats_url: str = Field(default="nats://127.0.0.1:4222")
    nats_stream: str = Field(default="SENTIER_EVENTS")
    nats_subject_prefix: str = Field(
        default="",
        description="Prepended to the event type to form the NATS subject (isolation in tests).",
    )
    nats_duplicate_window_seconds: float = Field(default=120.0)


class Settings(BaseSettings):
    """Process-wide settings, resolved from ``SENTIER_*`` environment variables."""

    # Groups of settings are nested models read from flat names: SENTIER_EVENTS_RETENTION_DAYS
    # is ``events.retention_days`` (one split after the group name, so field names keep "_").
    model_config = SettingsConfigDict(
        env_prefix="SENTIER_",
        extra="ignore",
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

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
    events: EventsSettings = Field(default_factory=EventsSettings)

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use: explicit, or the embedded SQLite file under ``home``."""
        if self.database_url:
            return self.database_url
        return _embedded_url(self.home, "" if self.home.is_absolute() else str(Path.cwd()))


@lru_cache(maxsize=16)
def _embedded_url(home: Path, cwd: str) -> str:
    """The SQLite URL under ``home``; cached because resolving a path is a system call per part,
    and every API request asks for the URL."""
    return f"sqlite:///{(home / 'sentier.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this process; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()


def close_home(home: Path) -> None:
    """Narrow an existing ``SENTIER_HOME`` to its owner (0700).

    New files are private from the start (the ``sentier`` command runs with ``umask 077``);
    a home created before that rule keeps readable files inside, out of other users' reach once
    the home itself is closed. The database files are narrowed when the store opens them.
    """
    if home.is_dir() and home.stat().st_mode & 0o077:
        home.chmod(0o700)
