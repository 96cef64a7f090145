"""Brokers: the outbox forwarded to the real RabbitMQ and NATS JetStream, and consumed back.

The connection-drop tests put a TCP proxy between sentier and the broker and cut every
connection mid-publishing: the shared servers other tests use keep running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select

from sentier import events
from sentier.config import get_settings
from sentier.events.brokers import consume, forward_once, make_publisher
from sentier.events.settings import get_events_settings
from sentier.store import session_scope
from sentier.store.models import OutboxEvent

REQUIRE = os.environ.get("SENTIER_REQUIRE_SERVICES") == "1"


def _reachable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _need(port: int, what: str) -> None:
    if not _reachable(port):
        if REQUIRE:
            pytest.fail(f"{what} is required (SENTIER_REQUIRE_SERVICES=1) but unavailable")
        pytest.skip(f"{what} unavailable")


class Proxy:
    """A TCP proxy on 127.0.0.1 that can cut every connection it carries."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> int:
        cut = 0
        for writer in self.writers:
            if not writer.is_closing():
                writer.transport.abort()
                cut += 1
        self.writers = []
        return cut

    async def stop(self) -> None:
        self.cut()
        if self.server is not None:
            self.server.close()


@pytest.fixture
def rabbitmq(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _need(5672, "RabbitMQ on 127.0.0.1:5672")
    exchange = f"sentier.test.{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("SENTIER_EVENTS_RABBITMQ_EXCHANGE", exchange)
    get_settings.cache_clear()
    yield exchange

    async def cleanup() -> None:
        import aio_pika

        connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
        async with connection:
            channel = await connection.channel()
            await channel.exchange_delete(exchange)
            await channel.queue_delete(exchange + ".q")

    asyncio.run(cleanup())


@pytest.fixture
def nats_stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    _need(4222, "NATS JetStream on 127.0.0.1:4222")
    tag = uuid.uuid4().hex[:8]
    stream = f"SENTIER_TEST_{tag}"
    monkeypatch.setenv("SENTIER_EVENTS_NATS_STREAM", stream)
    monkeypatch.setenv("SENTIER_EVENTS_NATS_SUBJECT_PREFIX", f"t{tag}.")
    get_settings.cache_clear()
    yield stream

    async def cleanup() -> None:
        import nats

        nc = await nats.connect("nats://127.0.0.1:4222")
        with contextlib.suppress(Exception):
            await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(cleanup())


def _write(engine: Engine, n: int, start: int = 0) -> None:
    kinds = ["io.sentier.catalog.entity.added", "io.sentier.catalog.entity.removed"]
    with session_scope(engine) as session:
        events.record_many(
            session,
            [
                events.PendingEvent(kinds[i % 2], f"component:default/c{i}", {"i": i})
                for i in range(start, start + n)
            ],
        )


def _expected(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {i: t for i, t in session.execute(select(OutboxEvent.event_id, OutboxEvent.type))}


async def _queue(exchange: str):  # type: ignore[no-untyped-def]
    import aio_pika

    connection = await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/")
    channel = await connection.channel()
    ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exchange + ".q", durable=True)
    await queue.bind(ex, routing_key="#")
    return connection, queue


async def _drain(queue, expected: int) -> list:  # type: ignore[no-untyped-def]
    """Every message in ``queue``: waits for ``expected`` of them, then takes the rest."""
    messages = []
    idle = 0
    while idle < 40:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            idle += 1 if len(messages) < expected else 20
            await asyncio.sleep(0.05)
            continue
        messages.append(message)
    return messages


def test_rabbitmq_gets_each_event_once_with_its_type_as_routing_key(
    sqlite_engine: Engine, rabbitmq: str
) -> None:
    engine = sqlite_engine
    with session_scope(engine) as session:
        events.cursors(session)
    # The publisher's cursor starts at the end: events before it was configured are not sent.
    _write(engine, 3)

    async def main() -> list:  # type: ignore[type-arg]
        publisher = make_publisher("rabbitmq")
        connection, queue = await _queue(rabbitmq)
        await publisher.connect()
        assert await forward_once(engine, publisher, 100) == 0
        _write(engine, 40, start=3)
        assert await forward_once(engine, publisher, 100) == 40
        assert await forward_once(engine, publisher, 100) == 0
        await publisher.close()
        messages = await _drain(queue, 40)
        await connection.close()
        return messages

    messages = asyncio.run(main())
    expected = _expected(engine)
    ids = [m.message_id for m in messages]
    assert len(ids) == len(set(ids)) == 40
    for message in messages:
        assert message.routing_key == expected[message.message_id]
        assert message.delivery_mode == 2  # persistent
        assert message.content_type == "application/cloudevents+json"


def test_nats_gets_each_event_once_on_its_type_subject_and_dedups_republish(
    sqlite_engine: Engine, nats_stream: str
) -> None:
    import nats

    engine = sqlite_engine
    prefix = get_events_settings().nats_subject_prefix

    async def main() -> tuple[list, int]:  # type: ignore[type-arg]
        publisher = make_publisher("nats")
        await publisher.connect()
        _write(engine, 30)
        with session_scope(engine) as session:
            events.cursors(session)
        # first call creates the cursor at the end of the 30 already written: publish anew
        from sentier.events.reader import Position, set_cursor

        with session_scope(engine) as session:
            set_cursor(session, "broker:nats", Position())
        assert await forward_once(engine, publisher, 100) == 30
        with session_scope(engine) as session:  # as if the cursor write had been lost
            set_cursor(session, "broker:nats", Position())
        assert await forward_once(engine, publisher, 100) == 30
        await publisher.close()
        nc = await nats.connect("nats://127.0.0.1:4222")
        js = nc.jetstream()
        info = await js.stream_info(nats_stream)
        sub = await js.pull_subscribe(f"{prefix}io.sentier.>", stream=nats_stream)
        messages = await sub.fetch(100, timeout=2)
        await nc.close()
        return messages, info.state.messages

    messages, stored = asyncio.run(main())
    expected = _expected(engine)
    assert stored == 30  # the second publish was recognised by Nats-Msg-Id
    seen = {m.headers["Nats-Msg-Id"]: m.subject for m in messages}
    assert len(seen) == 30
    assert all(subject == prefix + expected[i] for i, subject in seen.items())


@pytest.mark.parametrize("broker", ["rabbitmq", "nats"])
def test_connection_drops_while_publishing_lose_nothing(
    sqlite_engine: Engine,
    broker: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = sqlite_engine
    name = request.getfixturevalue("rabbitmq" if broker == "rabbitmq" else "nats_stream")
    upstream = 5672 if broker == "rabbitmq" else 4222
    monkeypatch.setenv("SENTIER_EVENTS_BATCH_SIZE", "25")

    async def main() -> tuple[list[str], int]:
        proxy = Proxy(upstream)
        await proxy.start()
        if broker == "rabbitmq":
            monkeypatch.setenv(
                "SENTIER_EVENTS_RABBITMQ_URL", f"amqp://guest:guest@127.0.0.1:{proxy.port}/"
            )
            connection, queue = await _queue(name)
        else:
            monkeypatch.setenv("SENTIER_EVENTS_NATS_URL", f"nats://127.0.0.1:{proxy.port}")
        get_settings.cache_clear()
        with session_scope(engine) as session:
            from sentier.events.reader import Position, set_cursor

            set_cursor(session, f"broker:{broker}", Position())
        dispatcher = events.Dispatcher(engine, broker=broker)
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        cuts = 0
        for round in range(8):
            _write(engine, 50, start=round * 50)
            await asyncio.sleep(0.15)
            cuts += proxy.cut()  # drop every connection, mid-stream
        for _ in range(400):
            with session_scope(engine) as session:
                (cursor,) = [c for c in events.cursors(session) if c["name"] == f"broker:{broker}"]
            if cursor["last_id"] == 400:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task
        await proxy.stop()
        assert cursor["last_id"] == 400, cursor
        if broker == "rabbitmq":
            ids = [m.message_id for m in await _drain(queue, 400)]
            await connection.close()
        else:
            import nats

            nc = await nats.connect("nats://127.0.0.1:4222")
            prefix = get_events_settings().nats_subject_prefix
            sub = await nc.jetstream().pull_subscribe(f"{prefix}io.sentier.>", stream=name)
            ids = []
            while True:
                try:
                    batch = await sub.fetch(200, timeout=1)
                except Exception:  # noqa: BLE001 - nothing left
                    break
                ids += [m.headers["Nats-Msg-Id"] for m in batch]
            await nc.close()
        return ids, cuts

    ids, cuts = asyncio.run(main())
    assert cuts > 0
    assert set(ids) == set(_expected(engine))  # nothing lost
    if broker == "nats":
        assert len(ids) == 400  # and JetStream dropped the re-published copies


def test_consumers_of_one_group_share_the_events_and_handle_each_once(
    sqlite_engine: Engine, rabbitmq: str
) -> None:
    engine = sqlite_engine

    async def main() -> list[str]:
        handled: list[str] = []
        stop = asyncio.Event()
        workers = [
            asyncio.create_task(
                consume(
                    engine,
                    "rabbitmq",
                    stop,
                    name=rabbitmq + ".q",
                    types=["io.sentier.catalog.entity.added"],
                    on_handled=lambda e: handled.append(e["id"]),
                )
            )
            for _ in range(2)
        ]
        await asyncio.sleep(0.5)  # queues bound
        publisher = make_publisher("rabbitmq")
        with session_scope(engine) as session:
            from sentier.events.reader import Position, set_cursor

            set_cursor(session, "broker:rabbitmq", Position())
        _write(engine, 20)
        await forward_once(engine, publisher, 100)
        from sentier.events.reader import Position, set_cursor

        with session_scope(engine) as session:
            set_cursor(session, "broker:rabbitmq", Position())
        await forward_once(engine, publisher, 100)  # every message a second time
        await publisher.close()
        for _ in range(100):
            if len(handled) >= 10:
                await asyncio.sleep(0.3)
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*workers)
        return handled

    handled = asyncio.run(main())
    expected = {i for i, t in _expected(engine).items() if t.endswith(".added")}
    assert sorted(handled) == sorted(expected)  # each added event once, removed ones filtered


def test_several_workers_forwarding_publish_each_event_once_and_hand_over_on_stop(
    sqlite_engine: Engine, rabbitmq: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``sentier serve`` worker runs a forwarder: the cursor's lease lets one publish."""
    engine = sqlite_engine
    monkeypatch.setenv("SENTIER_EVENTS_BATCH_SIZE", "20")
    get_settings.cache_clear()
    with session_scope(engine) as session:
        from sentier.events.reader import Position, set_cursor

        set_cursor(session, "broker:rabbitmq", Position())

    async def main() -> list:  # type: ignore[type-arg]
        connection, queue = await _queue(rabbitmq)
        stops = [asyncio.Event(), asyncio.Event()]
        workers = [events.Dispatcher(engine, broker="rabbitmq") for _ in stops]
        tasks = [asyncio.create_task(w.run(s)) for w, s in zip(workers, stops, strict=True)]
        for round in range(6):
            _write(engine, 30, start=round * 30)
            await asyncio.sleep(0.1)
            if round == 3:
                stops[0].set()  # the first worker stops: the other takes over at once
                await tasks[0]
        messages = await _drain(queue, 180)
        stops[1].set()
        await tasks[1]
        await connection.close()
        return messages

    messages = asyncio.run(main())
    ids = [m.message_id for m in messages]
    assert sorted(ids) == sorted(_expected(engine)) and len(ids) == 180  # once each
