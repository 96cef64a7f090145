"""Inside ``sentier serve``: alerts received by the inbound hooks become incidents as they arrive.

A background task polls the inbound messages every ``interval`` seconds and hands them to
``aiops.alerts.consume_all`` (one transaction per batch) in a worker thread, so the event
loop keeps serving requests. Several server processes may run it at once: ingestions take
turns (an advisory lock on PostgreSQL, the write lock on SQLite) and are idempotent.

It works on the database configured when the server started, and only when a real server
runs the app: a server drives its event loop from the process's main thread, test clients
(Starlette's, schemathesis') from a helper thread, where the consumer stays off so that it
never takes the messages a test has just stored to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers

from sentier.aiops.alerts import consume_all
from sentier.store import get_engine

log = logging.getLogger("sentier.aiops.consumer")
POLL_SECONDS = 2.0
BATCHES_PER_POLL = 20  # at most 10,000 messages a poll, so a backlog never starves shutdown


class AlertConsumer:
    def __init__(self, interval: float = POLL_SECONDS, engine: Engine | None = None) -> None:
        self.interval = interval
        self.engine = engine or get_engine()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> AlertConsumer:
        # Map the ORM classes here rather than in the worker thread's first transaction.
        configure_mappers()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alert-consumer")
        return self

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
                return
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # logged; the next poll tries again
                log.exception("correlating inbound alerts failed; retrying at the next poll")

    def poll(self) -> None:
        result = consume_all(self.engine, max_batches=BATCHES_PER_POLL)
        if result.messages:
            data = result.as_dict()
            log.info(
                "inbound alerts: %d messages, %d new alerts, %d incidents opened, %d malformed",
                data["messages"],
                data["new_alerts"],
                len(data["incidents_opened"]),
                data["malformed"],
            )
            for problem in result.problems[:20]:
                log.warning("malformed inbound alert: %s", problem)

    async def stop(self) -> None:
        """Let a poll under way finish its transaction, then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task


def start_alert_consumer() -> AlertConsumer | None:
    """The starter registered in ``api.background.STARTERS`` (off under a test client)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return AlertConsumer().start()
