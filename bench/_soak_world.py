"""What the soak bench (``bench/soak.py``) runs around sentier: a throwaway PostgreSQL database,
the ``sentier serve`` processes it kills and restarts, a tap on the broker, and the webhook
subscribers that fail for a while and recover.

Everything here is started by the bench and removed by it, whatever happens: the database is
dropped, the broker's exchange or stream deleted, the servers stopped by their pid, and the
PostgreSQL cluster, which the bench restarts once, is started again if it is found down.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"
NATS_URL = "nats://127.0.0.1:4222"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- PostgreSQL ------------------------------------------------------------------------------


def pg_version() -> str:
    """The one cluster version installed (``/etc/postgresql/<version>``)."""
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir() if p.is_dir())
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    return versions[-1]


def pg_ctl(action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", pg_version(), "main", action],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def pg_online() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def ensure_cluster_up() -> None:
    """Start the cluster if the bench left it down (a failure mid-restart, an interrupt)."""
    for _ in range(30):
        if pg_online():
            return
        status = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
        )
        if "online" not in status.stdout:
            pg_ctl("start")
        time.sleep(1)
    raise RuntimeError("the PostgreSQL cluster did not come back up")


class Database:
    """A fresh database for one run, dropped at the end (``keep`` leaves it for a post-mortem)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        self.dsn = f"postgresql://postgres@127.0.0.1:5432/{name}"

    def create(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn, connect_timeout=5) as connection:
            return list(connection.execute(sql, params).fetchall())


# -- sentier serve ---------------------------------------------------------------------------


@dataclass
class Server:
    index: int
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Servers:
    """``count`` servers on one SENTIER_HOME and one database, each on its own port."""

    def __init__(self, count: int, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.servers = [Server(i, free_port(), logs / f"server-{i}.log") for i in range(count)]
        self.down_since: dict[int, float] = {}

    def start(self, server: Server) -> None:
        with server.log.open("ab") as log:
            log.write(f"\n=== start {server.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            server.process = subprocess.Popen(
                [sys.executable, "-m", "sentier", "serve", "--port", str(server.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a kill -9 of this one leaves the bench alone
            )
        server.starts += 1

    async def wait_ready(self, server: Server, timeout: float = 120.0) -> float:
        """Seconds until /healthz answers; raises if the process exits or never answers."""
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() - started < timeout:
                if not server.up:
                    code = server.process.returncode if server.process else None
                    raise RuntimeError(
                        f"server {server.index} exited with {code} while starting "
                        f"(see {server.log})"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(server.base + "/healthz")).status_code == 200:
                        self.down_since.pop(server.index, None)
                        return time.monotonic() - started
                await asyncio.sleep(0.2)
        raise RuntimeError(f"server {server.index} not ready after {timeout:.0f} s")

    def kill(self, server: Server) -> None:
        """kill -9, by the pid the bench started."""
        if server.process is not None and server.up:
            os.kill(server.process.pid, signal.SIGKILL)
            server.process.wait()
            server.kills += 1
        self.down_since[server.index] = time.monotonic()

    def live(self) -> list[Server]:
        return [s for s in self.servers if s.up and s.index not in self.down_since]

    def stop_all(self) -> None:
        for server in self.servers:
            if server.up and server.process is not None:
                server.process.terminate()
        for server in self.servers:
            if server.process is None:
                continue
            try:
                server.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


# -- the broker tap --------------------------------------------------------------------------


@dataclass
class BrokerTap:
    """Every message the servers publish, by message id (the event id), counted."""

    kind: str
    run: str
    seen: Counter[str] = field(default_factory=Counter)
    _close: Callable[[], Any] | None = None

    @property
    def exchange(self) -> str:
        return f"sentier.soak.{self.run}"

    @property
    def stream(self) -> str:
        return f"SOAK_{self.run.upper()}"

    @property
    def prefix(self) -> str:
        return f"soak{self.run}."

    def server_env(self) -> dict[str, str]:
        if self.kind == "rabbitmq":
            return {
                "SENTIER_EVENTS_BROKER": "rabbitmq",
                "SENTIER_EVENTS_RABBITMQ_URL": RABBITMQ_URL,
                "SENTIER_EVENTS_RABBITMQ_EXCHANGE": self.exchange,
            }
        return {
            "SENTIER_EVENTS_BROKER": "nats",
            "SENTIER_EVENTS_NATS_URL": NATS_URL,
            "SENTIER_EVENTS_NATS_STREAM": self.stream,
            "SENTIER_EVENTS_NATS_SUBJECT_PREFIX": self.prefix,
        }

    async def start(self) -> None:
        """Bind before the servers publish anything, so nothing published is missed."""
        if self.kind == "rabbitmq":
            await self._start_rabbitmq()
        else:
            await self._start_nats()

    async def _start_rabbitmq(self) -> None:
        import aio_pika
        from aio_pika.abc import AbstractIncomingMessage

        connection = await aio_pika.connect_robust(RABBITMQ_URL)
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="#")

        async def on_message(message: AbstractIncomingMessage) -> None:
            self.seen[message.message_id or "?"] += 1
            await message.ack()

        await queue.consume(on_message)

        async def close() -> None:
            with contextlib.suppress(Exception):
                await channel.exchange_delete(self.exchange)
            await connection.close()

        self._close = close

    async def _start_nats(self) -> None:
        import nats
        from nats.aio.msg import Msg
        from nats.js.api import StreamConfig

        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        await js.add_stream(StreamConfig(name=self.stream, subjects=[f"{self.prefix}io.sentier.>"]))

        async def on_message(message: Msg) -> None:
            self.seen[(message.headers or {}).get("Nats-Msg-Id", "?")] += 1

        await js.subscribe(
            f"{self.prefix}io.sentier.>", stream=self.stream, cb=on_message, ordered_consumer=True
        )

        async def close() -> None:
            with contextlib.suppress(Exception):
                await js.delete_stream(self.stream)
            await client.close()

        self._close = close

    async def close(self) -> None:
        if self._close is not None:
            await self._close()
            self._close = None


# -- webhook subscribers ---------------------------------------------------------------------


@dataclass
class Subscriber:
    """One webhook receiver. ``failing(t)`` (t: seconds into the load) answers 503 when true;
    ``offline`` windows close its listening socket instead (connection refused)."""

    name: str
    clock: Callable[[], float]
    failing: Callable[[float], bool]
    offline: list[tuple[float, float]] = field(default_factory=list)
    port: int = 0
    secret: str = ""
    subscription: str = ""
    # webhook-id -> digests of the bodies received under it, and the CloudEvent ids in them
    bodies: dict[str, set[str]] = field(default_factory=dict)
    event_ids: dict[str, set[str]] = field(default_factory=dict)
    acked: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    refused: int = 0
    bad_signatures: int = 0
    _site: web.TCPSite | None = None
    _runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        webhook_id = request.headers.get("webhook-id", "")
        try:
            Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=400, text="bad signature")
        event = json.loads(body)
        self.bodies.setdefault(webhook_id, set()).add(hashlib.sha256(body).hexdigest())
        self.event_ids.setdefault(webhook_id, set()).add(str(event.get("id")))
        if self.failing(self.clock()):
            self.refused += 1
            return web.Response(status=503, text="failing on purpose")
        self.acked[webhook_id] += 1
        return web.Response(text="ok")

    async def start(self) -> None:
        app = web.Application(client_max_size=8 * 2**20)
        app.router.add_post("/hook", self.handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        self.port = self.port or free_port()
        await self.listen()

    async def listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()

    async def go_offline(self) -> None:
        if self._site is not None:
            await self._site.stop()
            self._site = None

    async def schedule(self, stop: asyncio.Event) -> None:
        """Close and reopen the socket on the ``offline`` windows."""
        for start, end in self.offline:
            if await _wait_until(self.clock, start, stop):
                return
            await self.go_offline()
            await _wait_until(self.clock, end, stop)
            await self.listen()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


async def _wait_until(clock: Callable[[], float], at: float, stop: asyncio.Event) -> bool:
    """Sleep until ``clock() >= at``; True if ``stop`` was set first."""
    while clock() < at:
        if stop.is_set():
            return True
        await asyncio.sleep(min(0.5, max(0.01, at - clock())))
    return False


def flaky(rate: float, rng: random.Random) -> Callable[[float], bool]:
    return lambda _t: rng.random() < rate


def windows(spans: list[tuple[float, float]]) -> Callable[[float], bool]:
    return lambda t: any(start <= t < end for start, end in spans)
