"""The outbox: an event exists exactly when its change does, and no reader ever skips one."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import Engine, func, select

from sentier import events
from sentier.events.routing import route_once
from sentier.store import session_scope
from sentier.store.models import CatalogSource, OutboxEvent, WebhookDelivery


def test_a_rolled_back_change_leaves_no_event(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.add(CatalogSource(name="doomed", target="/nowhere"))
        events.record(session, "io.sentier.test.changed", "source:doomed", {"x": 1})
        raise RuntimeError("the change fails after its event was written")
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(OutboxEvent.id))) == 0
        assert session.scalar(select(func.count(CatalogSource.id))) == 0


def test_a_thousand_concurrent_changes_give_a_thousand_events(engine: Engine) -> None:
    def change(worker: int) -> None:
        for i in range(125):
            with session_scope(engine) as session:
                session.add(CatalogSource(name=f"s{worker}-{i}", target="/x"))
                events.record(session, "io.sentier.test.changed", f"source:s{worker}-{i}", {})

    threads = [threading.Thread(target=change, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_scope(engine) as session:
        subjects = list(session.scalars(select(OutboxEvent.subject)))
        assert session.scalar(select(func.count(CatalogSource.id))) == 1000
    assert len(subjects) == len(set(subjects)) == 1000


def _subscribe(engine: Engine) -> str:
    with session_scope(engine) as session:
        return str(events.add_subscription(session, "http://127.0.0.1:9/never")["id"])


def test_a_late_commit_with_a_lower_id_is_still_routed(engine: Engine) -> None:
    """PostgreSQL hands out ids at insert; the earlier id may commit last."""
    _subscribe(engine)
    slow_has_id = threading.Event()
    release = threading.Event()
    slow_id: list[int] = []

    def slow_writer() -> None:
        with session_scope(engine) as session:
            events.record(session, "io.sentier.test.changed", "slow", {})
            session.flush()
            slow_id.append(session.scalar(select(func.max(OutboxEvent.id))) or 0)
            slow_has_id.set()
            release.wait(10)

    slow = threading.Thread(target=slow_writer)
    if engine.dialect.name == "sqlite":
        # One writer at a time: the slow transaction holds the database; the fast one waits.
        slow.start()
        slow_has_id.wait(10)
        release.set()
        slow.join()
        with session_scope(engine) as session:
            events.record(session, "io.sentier.test.changed", "fast", {})
    else:
        slow.start()
        slow_has_id.wait(10)
        with session_scope(engine) as session:
            events.record(session, "io.sentier.test.changed", "fast", {})
        # The fast event (higher id) is committed, the slow one (lower id) is not yet.
        route_once(engine)
        release.set()
        slow.join()
    while route_once(engine):
        pass
    with session_scope(engine) as session:
        routed = dict(
            (subject, outbox_id)
            for subject, outbox_id in session.execute(
                select(OutboxEvent.subject, WebhookDelivery.outbox_id).join(
                    WebhookDelivery, WebhookDelivery.outbox_id == OutboxEvent.id
                )
            )
        )
    assert set(routed) == {"slow", "fast"}
    assert routed["slow"] == slow_id[0]


def test_concurrent_writers_with_random_commit_delays_skip_nothing(engine: Engine) -> None:
    _subscribe(engine)
    stop = threading.Event()
    rng = random.Random(7)
    delays = [[rng.uniform(0, 0.03) for _ in range(40)] for _ in range(6)]

    def writer(worker: int) -> None:
        for i, delay in enumerate(delays[worker]):
            with session_scope(engine) as session:
                events.record(session, "io.sentier.test.changed", f"w{worker}-{i}", {})
                session.flush()
                time.sleep(delay)  # commit later than others that got higher ids

    def router() -> None:
        while not stop.is_set():
            route_once(engine, limit=7)

    routing = threading.Thread(target=router)
    routing.start()
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    routing.join()
    while route_once(engine):
        pass
    with session_scope(engine) as session:
        outbox = set(session.scalars(select(OutboxEvent.id)))
        routed = Counter(session.scalars(select(WebhookDelivery.outbox_id)))
    assert len(outbox) == 240
    assert set(routed) == outbox  # nothing skipped
    assert set(routed.values()) == {1}  # nothing routed twice


def test_listing_filters_and_pages(engine: Engine) -> None:
    with session_scope(engine) as session:
        events.record(session, "io.sentier.catalog.entity.added", "component:default/a", {})
        events.record(session, "io.sentier.catalog.entity.updated", "component:default/a", {})
        events.record(session, "io.sentier.finops.budget.crossed", "group:default/t", {})
    with session_scope(engine) as session:
        page = events.events_page(session, type="io.sentier.catalog.*", limit=1)
        assert [e["type"] for e in page["items"]] == ["io.sentier.catalog.entity.added"]
        rest = events.events_page(session, type="io.sentier.catalog.*", after=page["next"])
        assert [e["type"] for e in rest["items"]] == ["io.sentier.catalog.entity.updated"]
        assert rest["next"] is None
        by_subject = events.events_page(session, subject="group:default/t")
        assert [e["type"] for e in by_subject["items"]] == ["io.sentier.finops.budget.crossed"]
        assert events.events_page(session, type="io.sentier.finops")["items"][0]["sequence"] == (
            "00000000000000000003"
        )


def test_sequence_is_a_string_that_sorts_lexicographically(engine: Engine) -> None:
    """CloudEvents' ``sequence`` extension is a String compared lexicographically: positions
    9, 10 and 100 must sort as strings the way they sort as numbers, in listings and in the
    events delivered to webhooks and brokers."""
    import json

    from cloudevents.core.formats.json import JSONFormat

    with session_scope(engine) as session:
        for i in range(120):
            events.record(session, "io.sentier.test.changed", f"source:s{i}", {})
    with session_scope(engine) as session:
        listed = events.events_page(session, limit=1000)["items"]
        sequences = [e["sequence"] for e in listed]
        assert all(isinstance(s, str) for s in sequences)
        assert sorted(sequences) == sequences == sorted(sequences, key=int)
        assert len(set(map(len, sequences))) == 1
        rows = list(session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)))
        bodies = [events.structured_body(row) for row in rows]
    delivered = [json.loads(body)["sequence"] for body in bodies]
    assert delivered == sequences
    parsed = JSONFormat().read(None, bodies[9])  # the SDK reads it back as an extension
    assert parsed.get_extension("sequence") == sequences[9]


def test_retention_keeps_what_is_still_needed(engine: Engine) -> None:
    from datetime import UTC, datetime, timedelta

    old = datetime.now(UTC) - timedelta(days=40)
    sub = _subscribe(engine)
    with session_scope(engine) as session:
        events.record_many(
            session,
            [
                events.PendingEvent("io.sentier.test.changed", f"old{i}", {}, time=old)
                for i in range(3)
            ],
        )
    route_once(engine)  # old0..2 now have pending deliveries
    with session_scope(engine) as session:
        events.remove_subscription(session, sub)
        events.record_many(
            session,
            [
                events.PendingEvent("io.sentier.test.changed", f"older{i}", {}, time=old)
                for i in range(2)
            ],
        )
    route_once(engine)
    with session_scope(engine) as session:
        result = events.purge_expired(session, retention_days=30)
    with session_scope(engine) as session:
        left = list(session.scalars(select(OutboxEvent.subject).order_by(OutboxEvent.id)))
    assert result["events"] == 4
    assert left == ["older1"]  # the newest row is always kept
