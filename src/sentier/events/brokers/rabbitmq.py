"""RabbitMQ: a durable topic exchange, routing key = event type, confirmed persistent messages.

Consumers bind a durable queue shared by every worker of one name (competing consumers), so
several sentier workers share the work; ``message_id`` is the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aiormq.exceptions import AMQPError

from sentier.events.brokers.base import parse_structured
from sentier.events.errors import EventsError
from sentier.events.outbox import STRUCTURED_CONTENT_TYPE, structured_body
from sentier.store.models import OutboxEvent

_CONNECTION_ERRORS = (AMQPError, ConnectionError, OSError, asyncio.TimeoutError)


def binding_keys(patterns: Sequence[str]) -> list[str]:
    """AMQP binding keys covering event-type globs (the consumer filters exactly after)."""
    keys = []
    for pattern in patterns or ["*"]:
        if "*" in pattern or "?" in pattern:
            head = pattern.split("*")[0].split("?")[0]
            head = head[: head.rfind(".") + 1] if "." in head else ""
            keys.append(head + "#")
        else:
            keys.append(pattern)
    return list(dict.fromkeys(keys))


class RabbitMQPublisher:
    name = "rabbitmq"

    def __init__(self, url: str, exchange: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self.exchange_name = exchange
        self.timeout = timeout
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None

    @property
    def connected(self) -> bool:
        return self._exchange is not None and not (
            self._connection is None or self._connection.is_closed
        )

    async def connect(self) -> None:
        try:
            self._connection = await aio_pika.connect(
                self.url,
                timeout=self.timeout,
                client_properties={"connection_name": "sentier-publisher"},
            )
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await self._channel.declare_exchange(
                self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
        except _CONNECTION_ERRORS as error:
            await self.close()
            raise EventsError(f"RabbitMQ unavailable: {error!r}", code="unavailable") from error

    async def publish(self, rows: Sequence[OutboxEvent]) -> None:
        if self._exchange is None:
            await self.connect()
        exchange = self._exchange
        assert exchange is not None
        messages = [
            (
                aio_pika.Message(
                    structured_body(row),
                    content_type=STRUCTURED_CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=row.event_id,
                    type=row.type,
                    timestamp=row.time,
                    app_id="sentier",
                ),
                row.type,
            )
            for row in rows
        ]
        try:
            # Confirms are pipelined: every publish is in flight at once, each awaits its ack.
            await asyncio.gather(
                *(
                    exchange.publish(m, routing_key=key, mandatory=False, timeout=self.timeout)
                    for m, key in messages
                )
            )
        except Exception as error:
            await self.close()
            raise EventsError(
                f"RabbitMQ publish not confirmed: {error!r}", code="unavailable"
            ) from error

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                await connection.close()


async def consume(
    url: str,
    exchange_name: str,
    queue_name: str,
    patterns: Sequence[str],
    on_event: Callable[[dict[str, Any]], Awaitable[None]],
    stop: asyncio.Event,
    *,
    prefetch: int = 100,
) -> None:
    """Consume ``queue_name`` (bound to the exchange for ``patterns``) until ``stop``.

    A message is acknowledged after ``on_event`` returned; if it raises, the message goes
    back to the queue for another attempt.
    """
    try:
        connection = await aio_pika.connect(
            url, client_properties={"connection_name": f"sentier-consumer:{queue_name}"}
        )
    except _CONNECTION_ERRORS as error:
        raise EventsError(f"RabbitMQ unavailable: {error!r}", code="unavailable") from error
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        exchange = await channel.declare_exchange(
            exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(queue_name, durable=True)
        for key in binding_keys(patterns):
            await queue.bind(exchange, routing_key=key)
        async with queue.iterator() as messages:
            stopping = asyncio.create_task(stop.wait())
            while not stop.is_set():
                getting = asyncio.create_task(messages.__anext__())
                done, _ = await asyncio.wait(
                    {getting, stopping}, return_when=asyncio.FIRST_COMPLETED
                )
                if getting not in done:
                    getting.cancel()
                    break
                message = getting.result()
                try:
                    await on_event(parse_structured(message.body))
                except EventsError:
                    await message.reject(requeue=False)  # not a CloudEvent: never will be
                    continue
                except Exception:
                    await message.nack(requeue=True)
                    raise
                await message.ack()
            stopping.cancel()
