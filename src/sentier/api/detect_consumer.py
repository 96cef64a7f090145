"""Inside ``sentier serve``: the detection rules meet what sentier receives as it arrives.

A background task runs ``detect.sources.poll`` every ``interval`` seconds in a worker thread
(one transaction per batch, so the event loop keeps serving requests): inbound hook payloads
(CloudEvents, CloudTrail records among them, Alertmanager notifications), the audit log,
findings and incidents. Cursors and open correlation windows live in the database, and a poll
takes the detection lock there, so several server processes never read the same batch twice
(see ``detect.sources``). The rules are sentier's and those of ``SENTIER_DETECT_RULES``.

Like the alert consumer, it runs only when a real server drives the app from the process's
main thread: test clients (Starlette's, schemathesis') leave it off, so that a test reads
what it has just stored, not what a poll changed under it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from sqlalchemy import Engine
from sqlalchemy.orm import configure_mappers

from sentier.store import get_engine, session_scope

log = logging.getLogger("sentier.detect.consumer")
POLL_SECONDS = 5.0
BATCH = 1000  # records per source and batch
BATCHES_PER_POLL = 10  # a backlog is worked off over several polls, never starving shutdown


class DetectConsumer:
    def __init__(self, interval: float = POLL_SECONDS, engine: Engine | None = None) -> None:
        self.interval = interval
        self.engine = engine or get_engine()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> DetectConsumer:
        configure_mappers()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="detect-consumer")
        return self

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.interval)
                return
            try:
                await asyncio.to_thread(self.poll)
            except Exception:  # logged; the next poll tries again from the same cursors
                log.exception("detection poll failed; retrying at the next poll")

    def poll(self) -> None:
        """Up to ``BATCHES_PER_POLL`` batches, until every source is read to its end."""
        from sentier.api.views.detect import ruleset
        from sentier.detect.sources import poll

        rules = ruleset()
        for _ in range(BATCHES_PER_POLL):
            with session_scope(self.engine) as session:
                report = poll(session, rules, limit=BATCH)
            if "skipped" in report:
                return
            found = sum(int(r.get("detections", 0)) for r in report.values())
            if found:
                log.info("detections: %s", report)
            if all(int(r.get("records", 0)) < BATCH for r in report.values()):
                return

    async def stop(self) -> None:
        """Let a poll under way finish its transaction, then stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task


def start_detect_consumer() -> DetectConsumer | None:
    """The starter registered in ``api.background.STARTERS`` (off under a test client)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return DetectConsumer().start()
