"""Webhooks out: signed deliveries to a real receiver, retries, dead letters, 410, filters."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from sentier import events
from sentier.config import get_settings
from sentier.events import Dispatcher
from sentier.store import session_scope
from sentier.store.models import OutboxEvent, WebhookSubscription


def _subscribe(engine: Engine, url: str, **options: object) -> dict[str, object]:
    with session_scope(engine) as session:
        return events.add_subscription(session, url, **options)  # type: ignore[arg-type]


def _write(
    engine: Engine,
    n: int,
    *,
    type: str = "io.sentier.test.changed",
    owner: str | None = None,
    prefix: str = "e",
) -> list[str]:
    with session_scope(engine) as session:
        return events.record_many(
            session,
            [
                events.PendingEvent(type, f"component:default/{prefix}{i}", {"i": i}, owner)
                for i in range(n)
            ],
        )


def _outbox_order(engine: Engine) -> list[str]:
    with session_scope(engine) as session:
        return list(session.scalars(select(OutboxEvent.event_id).order_by(OutboxEvent.id)))


def test_deliveries_are_signed_cloudevents_that_standard_webhooks_verifies(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher]
) -> None:
    sub = _subscribe(engine, receiver.url)
    ids = _write(engine, 5, owner="group:default/team-a")
    dispatch(engine, lambda: len(receiver.requests) >= 5)
    verifier = Webhook(str(sub["secret"]))
    for request, event_id in zip(receiver.requests, ids, strict=True):
        payload = verifier.verify(request.body, request.headers)
        assert request.webhook_id == event_id == payload["id"]
        assert request.headers["content-type"] == "application/cloudevents+json"
        assert payload["specversion"] == "1.0"
        assert payload["type"] == "io.sentier.test.changed"
        assert payload["source"] == "urn:sentier:local"
        assert payload["ownerref"] == "group:default/team-a"
    # A tampered body or another secret fails verification.
    with pytest.raises(Exception, match="signature"):
        verifier.verify(receiver.requests[0].body + b" ", receiver.requests[0].headers)
    with session_scope(engine) as session:
        rows = events.list_deliveries(session, str(sub["id"]))
    assert [r["status"] for r in rows] == ["delivered"] * 5
    assert all(r["attempts"] == 1 and r["last_status_code"] == 200 for r in rows)


def test_receiver_down_then_failing_then_back_gets_every_event_once_in_order(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher]
) -> None:
    _subscribe(engine, receiver.url)
    receiver.stop()  # down: connection refused
    _write(engine, 20, prefix="a")
    state = {"phase": "down", "ticks": 0}

    def progress() -> bool:
        state["ticks"] += 1
        if state["phase"] == "down" and state["ticks"] > 10:
            _write(engine, 20, prefix="b")  # more changes while the receiver is away
            receiver.respond = lambda n: 500 if receiver.failures < 8 else 200
            receiver.start()  # back on the same port, answering 500 for a while
            state["phase"] = "failing"
        if state["phase"] == "failing" and receiver.failures >= 8:
            _write(engine, 20, prefix="c")
            state["phase"] = "recovered"
        return (
            state["phase"] == "recovered"
            and len(receiver.dedup_log()) == 60
            and events.pending_count(engine) == 0
        )

    dispatch(engine, progress, timeout=60)
    assert receiver.failures >= 8
    assert receiver.dedup_log() == _outbox_order(engine)
    with session_scope(engine) as session:
        first = session.scalars(select(WebhookSubscription)).one()
        deliveries = events.list_deliveries(session, first.id, limit=1000)
        head = events.get_delivery(session, deliveries[0]["id"])
    assert head["attempts"] > 2  # retried through the outage and the 500s
    errors = [a["error"] for a in head["attempt_log"]]
    assert any(e and e.startswith("connection error") for e in errors)
    assert "HTTP 500" in errors
    assert all(len(a["response_excerpt"] or "") <= 256 for a in head["attempt_log"])


def test_410_gone_disables_the_subscription(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher]
) -> None:
    sub = _subscribe(engine, receiver.url)
    receiver.respond = lambda n: 410
    _write(engine, 3)
    dispatch(engine, lambda: receiver.failures >= 1)
    with session_scope(engine) as session:
        record = events.get_subscription(session, str(sub["id"]))
        disabled = events.list_events(session, type_prefix=events.EVENTS_SUBSCRIPTION_DISABLED)
    assert record["status"] == "disabled"
    assert "410" in record["disabled_reason"]
    assert record["deliveries"] == {"pending": 3}
    assert len(disabled) == 1 and disabled[0].data["subscription_id"] == sub["id"]
    # Nothing more is attempted while disabled.
    dispatch(engine, lambda: True)
    assert receiver.failures == 1


def test_permanent_error_dead_letters_then_manual_redelivery(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher]
) -> None:
    sub = _subscribe(engine, receiver.url)
    receiver.respond = lambda n: 400 if n == 0 and receiver.failures == 0 else 200
    ids = _write(engine, 4)
    dispatch(engine, lambda: len(receiver.requests) >= 3)
    assert receiver.dedup_log() == ids[1:]  # the dead letter does not block the rest
    with session_scope(engine) as session:
        dead = events.list_deliveries(session, str(sub["id"]), status="dead")
        notices = events.list_events(session, type_prefix=events.EVENTS_DELIVERY_DEAD_LETTERED)
        assert len(dead) == 1 and dead[0]["event_id"] == ids[0]
        assert dead[0]["last_error"] == "HTTP 400"
        assert notices[0].data["event_id"] == ids[0]
        events.redeliver(session, dead[0]["id"])
    dispatch(engine, lambda: len(receiver.requests) == 4)
    assert receiver.requests[-1].webhook_id == ids[0]


def test_retries_stop_at_the_horizon(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_RETRY_HORIZON_SECONDS", "0.5")
    get_settings.cache_clear()
    sub = _subscribe(engine, receiver.url)
    receiver.respond = lambda n: 503
    _write(engine, 1)

    def dead_lettered() -> bool:
        with session_scope(engine) as session:
            return bool(events.list_deliveries(session, str(sub["id"]), status="dead"))

    dispatch(engine, dead_lettered, timeout=20)
    with session_scope(engine) as session:
        (dead,) = events.list_deliveries(session, str(sub["id"]))
    assert dead["status"] == "dead" and dead["last_status_code"] == 503
    assert dead["attempts"] >= 3  # backed off and retried before giving up


def test_type_and_group_filters(
    engine: Engine, receiver, dispatch: Callable[..., Dispatcher]
) -> None:
    _subscribe(engine, receiver.url, types=["io.sentier.catalog.*"], group="group:default/team-a")
    wanted = _write(engine, 2, type="io.sentier.catalog.entity.added", owner="group:default/team-a")
    _write(engine, 2, type="io.sentier.catalog.entity.added", owner="group:default/team-b")
    _write(engine, 2, type="io.sentier.finops.budget.crossed", owner="group:default/team-a")
    dispatch(engine, lambda: events.route_once(engine) == 0 and events.pending_count(engine) == 0)
    assert receiver.dedup_log() == wanted


def test_several_dispatchers_keep_per_subscription_order(
    engine: Engine, receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    # A lease long enough that a loaded machine (other suites on the same 2 cores) does not let
    # it lapse mid-batch: this test is about the second dispatcher staying off a held queue.
    monkeypatch.setenv("SENTIER_EVENTS_LEASE_SECONDS", "20")
    get_settings.cache_clear()
    _subscribe(engine, receiver.url)
    ids = _write(engine, 150)

    async def both() -> None:
        stop = asyncio.Event()
        one, two = Dispatcher(engine), Dispatcher(engine)
        tasks = [asyncio.create_task(d.run(stop)) for d in (one, two)]
        for _ in range(600):
            if len(receiver.dedup_log()) == 150 and events.pending_count(engine) == 0:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.gather(*tasks)

    asyncio.run(both())
    assert receiver.dedup_log() == ids
    assert len(receiver.requests) == 150  # the lease kept the second one off this queue


def test_subscription_input_is_checked(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as session:
        with pytest.raises(events.EventsError, match="only http and https"):
            events.add_subscription(session, "ftp://example.org/x")
        with pytest.raises(events.EventsError, match="secret"):
            events.add_subscription(session, "http://127.0.0.1:1/x", secret="whsec_c2hvcnQ=")
        with pytest.raises(events.EventsError, match="invalid event type filter"):
            events.add_subscription(session, "http://127.0.0.1:1/x", types=["a b"])
        listed = events.list_subscriptions(session)
    assert listed == []
    body = json.dumps(listed)
    assert "secret" not in body
