"""Fixtures of the events tests: fast delivery settings, a real receiver, a dispatcher runner."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine

from sentier.config import get_settings
from sentier.events import Dispatcher


@pytest.fixture(autouse=True)
def fast_delivery(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries in tens of milliseconds, loopback receivers allowed, a short lease."""
    for key, value in {
        "BACKOFF_BASE_SECONDS": "0.05",
        "BACKOFF_MAX_SECONDS": "0.2",
        "POLL_INTERVAL_SECONDS": "0.02",
        "LEASE_SECONDS": "2",
        "ALLOW_PRIVATE_TARGETS": "1",
        "CONNECT_TIMEOUT_SECONDS": "1",
        "READ_TIMEOUT_SECONDS": "2",
    }.items():
        monkeypatch.setenv(f"SENTIER_EVENTS_{key}", value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@dataclass
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """Answers with ``respond(request_number)`` (default 200); can go down and come back."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.respond: Callable[[int], int] = lambda n: 200
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    number = len(receiver.requests)
                    status = receiver.respond(number)
                    if 200 <= status < 300:
                        receiver.requests.append(
                            Received(
                                self.headers.get("webhook-id", ""),
                                {k.lower(): v for k, v in self.headers.items()},
                                body,
                            )
                        )
                    else:
                        receiver.failures += 1
                payload = b"" if status == 204 else b"ok" if status < 300 else b"nope" * 500
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    failures = 0
    delay = 0.0

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def dedup_log(self) -> list[str]:
        """Webhook ids in order of first receipt (a receiver's idempotency log)."""
        seen: dict[str, None] = {}
        with self._lock:
            for request in self.requests:
                seen.setdefault(request.webhook_id, None)
        return list(seen)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def dispatch() -> Callable[..., Dispatcher]:
    """``dispatch(engine, until, timeout=...)``: run a dispatcher until a condition holds."""
    return run_dispatcher


def run_dispatcher(
    engine: Engine, until: Callable[[], bool], *, timeout: float = 30.0, broker: str = "none"
) -> Dispatcher:
    """Run a dispatcher until ``until()`` holds (or fail after ``timeout`` seconds)."""

    async def main() -> Dispatcher:
        dispatcher = Dispatcher(engine, broker=broker)
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        deadline = time.monotonic() + timeout
        try:
            while not until():
                if time.monotonic() > deadline:
                    raise AssertionError(f"dispatcher did not get there in {timeout}s")
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        return dispatcher

    return asyncio.run(main())
