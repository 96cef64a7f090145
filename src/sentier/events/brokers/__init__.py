"""Broker adapters: the outbox forwarded to RabbitMQ or NATS JetStream, and consumed back."""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sqlalchemy import Engine

from sentier.events.brokers.base import Handler, Publisher, forward_once, handle_once
from sentier.events.errors import EventsError
from sentier.events.settings import EventsSettings, get_events_settings

BrokerName = Literal["rabbitmq", "nats"]


def make_publisher(broker: str, settings: EventsSettings | None = None) -> Publisher:
    """The publisher for ``broker`` configured from settings."""
    settings = settings or get_events_settings()
    if broker == "rabbitmq":
        from sentier.events.brokers.rabbitmq import RabbitMQPublisher

        return RabbitMQPublisher(settings.rabbitmq_url, settings.rabbitmq_exchange)
    if broker == "nats":
        from sentier.events.brokers.nats import NatsPublisher

        return NatsPublisher(
            settings.nats_url,
            settings.nats_stream,
            prefix=settings.nats_subject_prefix,
            duplicate_window=settings.nats_duplicate_window_seconds,
        )
    raise EventsError(f"unknown broker {broker!r} (rabbitmq or nats)", field="broker")


async def consume(
    engine: Engine,
    broker: str,
    stop: asyncio.Event,
    *,
    name: str = "sentier-workers",
    types: Sequence[str] = ("*",),
    handlers: Sequence[Handler] = (),
    on_handled: Callable[[dict[str, Any]], None] | None = None,
    settings: EventsSettings | None = None,
) -> None:
    """Consume events from ``broker`` as the worker group ``name`` until ``stop``.

    Workers with the same ``name`` share the messages. Each event matching ``types`` runs
    ``handlers`` once per group, even when the broker delivers it twice (see
    :func:`handle_once`); ``on_handled`` is told of each event that ran.
    """
    settings = settings or get_events_settings()
    patterns = list(types) or ["*"]

    async def on_event(event: dict[str, Any]) -> None:
        event_type = str(event.get("type", ""))
        if not any(fnmatch.fnmatchcase(event_type, p) for p in patterns):
            return
        ran = await asyncio.to_thread(handle_once, engine, name, event, list(handlers))
        if ran and on_handled is not None:
            on_handled(event)

    if broker == "rabbitmq":
        from sentier.events.brokers import rabbitmq

        await rabbitmq.consume(
            settings.rabbitmq_url, settings.rabbitmq_exchange, name, patterns, on_event, stop
        )
    elif broker == "nats":
        from sentier.events.brokers import nats

        await nats.consume(
            settings.nats_url,
            settings.nats_stream,
            settings.nats_subject_prefix,
            name,
            patterns,
            on_event,
            stop,
            duplicate_window=settings.nats_duplicate_window_seconds,
        )
    else:
        raise EventsError(f"unknown broker {broker!r} (rabbitmq or nats)", field="broker")


__all__ = [
    "BrokerName",
    "Handler",
    "Publisher",
    "consume",
    "forward_once",
    "handle_once",
    "make_publisher",
]
