"""Settings of event delivery, read from ``SENTIER_EVENTS_*`` environment variables.

They live beside the domain rather than in ``sentier.config`` so that the many knobs of
delivery (backoff, horizon, brokers) do not crowd the settings every process reads; they
follow the same rules: environment only, read in one place, cached per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EventsSettings(BaseSettings):
    """Delivery, retention and broker settings of the events domain."""

    model_config = SettingsConfigDict(env_prefix="SENTIER_EVENTS_", extra="ignore")

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


@lru_cache(maxsize=1)
def get_events_settings() -> EventsSettings:
    """Settings of this process; tests call ``get_events_settings.cache_clear()``."""
    return EventsSettings()
