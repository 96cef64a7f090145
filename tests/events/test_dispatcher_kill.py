"""Killing the dispatcher process mid-delivery (SIGKILL) loses nothing and keeps the order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, select

from sentier import events
from sentier.store import session_scope
from sentier.store.models import OutboxEvent

SENTIER = str(Path(sys.executable).with_name("sentier"))


def _start(db_url: str, home: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SENTIER_DATABASE_URL": db_url,
        "SENTIER_HOME": str(home),
    }
    return subprocess.Popen(
        [SENTIER, "events", "dispatch"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _wait(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_mid_delivery_loses_nothing(
    engine: Engine, db_url: str, receiver, isolated_settings: Path
) -> None:
    with session_scope(engine) as session:
        events.add_subscription(session, receiver.url)
    with session_scope(engine) as session:
        events.record_many(
            session,
            [events.PendingEvent("io.sentier.test.changed", f"e{i}", {"i": i}) for i in range(300)],
        )
    receiver.delay = 0.005  # slow enough to be killed in the middle
    first = _start(db_url, isolated_settings)
    try:
        _wait(lambda: len(receiver.requests) >= 60, 60, "the first deliveries")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = len(receiver.requests)
    assert killed_at < 300, "the dispatcher finished before it could be killed"
    second = _start(db_url, isolated_settings)
    try:
        _wait(
            lambda: len(receiver.dedup_log()) == 300 and events.pending_count(engine) == 0,
            90,
            "every event after the restart",
        )
    finally:
        second.terminate()
        _, errors = second.communicate(timeout=30)
    assert second.returncode == 0, errors.decode()
    with session_scope(engine) as session:
        expected = list(session.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))
    assert receiver.dedup_log() == expected  # each once, in order
    assert len(receiver.requests) >= 300  # at-least-once: a few may have come twice
