"""NATS JetStream: subject = event type, acknowledged publish, deduplicated by event id.

The stream keeps every ``io.sentier.>`` subject; ``Nats-Msg-Id`` (the event id) makes the
server drop a copy published again within the duplicate window, so a publisher that retries
after a dropped connection does not create a second message. Consumers share one durable
pull consumer (competing consumers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import nats
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, StreamConfig
from nats.js.errors import NotFoundError

from sentier.events.brokers.base import parse_structured
from sentier.events.errors import EventsError
from sentier.events.outbox import STRUCTURED_CONTENT_TYPE, structured_body
from sentier.store.models import OutboxEvent

_ERRORS = (NatsError, ConnectionError, OSError, asyncio.TimeoutError)


def stream_subjects(prefix: str) -> list[str]:
    return [f"{prefix}io.sentier.>"]


def filter_subject(prefix: str, patterns: Sequence[str]) -> list[str]:
    """NATS subject filters covering event-type globs (the consumer filters exactly after)."""
    subjects = []
    for pattern in patterns or ["*"]:
        if "*" in pattern or "?" in pattern:
            head = pattern.split("*")[0].split("?")[0]
            head = head[: head.rfind(".") + 1] if "." in head else ""
            subjects.append(f"{prefix}{head}>" if head else f"{prefix}io.sentier.>")
        else:
            subjects.append(prefix + pattern)
    return list(dict.fromkeys(subjects))


async def _connect(url: str, timeout: float) -> Client:
    try:
        return await nats.connect(
            url, connect_timeout=timeout, allow_reconnect=False, max_reconnect_attempts=0
        )
    except _ERRORS as error:
        raise EventsError(f"NATS unavailable: {error!r}", code="unavailable") from error


async def ensure_stream(
    js: JetStreamContext, stream: str, prefix: str, duplicate_window: float
) -> None:
    try:
        await js.stream_info(stream)
    except NotFoundError:
        await js.add_stream(
            StreamConfig(
                name=stream, subjects=stream_subjects(prefix), duplicate_window=duplicate_window
            )
        )


class NatsPublisher:
    name = "nats"

    def __init__(
        self,
        url: str,
        stream: str,
        *,
        prefix: str = "",
        duplicate_window: float = 120.0,
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.stream = stream
        self.prefix = prefix
        self.duplicate_window = duplicate_window
        self.timeout = timeout
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def connect(self) -> None:
        self._nc = await _connect(self.url, self.timeout)
        self._js = self._nc.jetstream(timeout=self.timeout)
        try:
            await ensure_stream(self._js, self.stream, self.prefix, self.duplicate_window)
        except _ERRORS as error:
            await self.close()
            raise EventsError(f"NATS stream unavailable: {error!r}", code="unavailable") from error

    async def publish(self, rows: Sequence[OutboxEvent]) -> None:
        if self._js is None:
            await self.connect()
        js = self._js
        assert js is not None
        try:
            await asyncio.gather(
                *(
                    js.publish(
                        self.prefix + row.type,
                        structured_body(row),
                        stream=self.stream,
                        headers={
                            "Nats-Msg-Id": row.event_id,
                            "content-type": STRUCTURED_CONTENT_TYPE,
                        },
                    )
                    for row in rows
                )
            )
        except Exception as error:
            await self.close()
            raise EventsError(
                f"NATS publish not acknowledged: {error!r}", code="unavailable"
            ) from error

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(*_ERRORS):
                await nc.close()


async def consume(
    url: str,
    stream: str,
    prefix: str,
    durable: str,
    patterns: Sequence[str],
    on_event: Callable[[dict[str, Any]], Awaitable[None]],
    stop: asyncio.Event,
    *,
    batch: int = 100,
    duplicate_window: float = 120.0,
) -> None:
    """Pull from the durable consumer ``durable`` until ``stop``; ack after ``on_event``."""
    nc = await _connect(url, 10.0)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, prefix, duplicate_window)
        subjects = filter_subject(prefix, patterns)
        config = ConsumerConfig(
            durable_name=durable,
            ack_wait=30,
            filter_subject=subjects[0] if len(subjects) == 1 else None,
            filter_subjects=subjects if len(subjects) > 1 else None,
        )
        subscription = await js.pull_subscribe(
            subjects[0], durable=durable, stream=stream, config=config
        )
        while not stop.is_set():
            try:
                messages = await subscription.fetch(batch, timeout=0.5)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            for message in messages:
                try:
                    event = parse_structured(message.data)
                except EventsError:
                    await message.term()  # not a CloudEvent: never will be
                    continue
                try:
                    await on_event(event)
                except Exception:
                    await message.nak(delay=1.0)
                    raise
                await message.ack()
    except _ERRORS as error:
        raise EventsError(f"NATS consumer failed: {error!r}", code="unavailable") from error
    finally:
        if not nc.is_closed:
            await nc.close()
