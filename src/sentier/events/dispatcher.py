"""The dispatcher: routes the outbox, delivers webhooks, forwards to a broker.

It runs as ``sentier events dispatch`` or inside ``sentier serve`` (``Dispatcher.start()`` in
the server's event loop, ``await Dispatcher.stop()`` at shutdown). Several may run against one
database: a subscription is delivered by whichever dispatcher holds its lease, so its events
go out one at a time, in order. Delivery is at-least-once: results are written after the
HTTP calls of a batch, so a dispatcher killed in between sends those again, with the same
``webhook-id``.

Per subscription the queue is head-of-line: while the oldest pending delivery waits for its
retry, the later ones wait too; a dead-lettered delivery leaves the queue and the rest go on.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, or_, select, update
from standardwebhooks import Webhook

from sentier import auth
from sentier.events import credentials
from sentier.events import types as event_types
from sentier.events.delivery import Outcome, Sender, backoff_delay
from sentier.events.errors import EventsError
from sentier.events.outbox import PendingEvent, record_many, structured_body
from sentier.events.redact import redact_optional, redact_url, redacting_logger
from sentier.events.routing import route_once
from sentier.events.settings import EventsSettings, get_events_settings
from sentier.events.ssrf import Target, check_target
from sentier.store import bulk_insert, session_scope
from sentier.store.models import (
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

log = redacting_logger(__name__)


@dataclass(slots=True)
class _Item:
    delivery_id: int
    event_id: str
    event_type: str
    attempts: int
    first_attempt_at: datetime | None
    body: bytes


@dataclass(slots=True)
class _Work:
    subscription_id: str
    url: str
    allow_private: bool
    secret: str
    items: list[_Item]


@dataclass
class DispatchStats:
    """Counters since the dispatcher started (shown by ``sentier events dispatch``)."""

    routed: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    dead_lettered: int = 0
    disabled: int = 0
    forwarded: dict[str, int] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def due_subscriptions(engine: Engine, owner: str, now: datetime) -> list[str]:
    """Active subscriptions whose oldest pending delivery is due and whose lease is free."""
    heads = (
        select(WebhookDelivery.subscription_id, func.min(WebhookDelivery.id).label("head"))
        .where(WebhookDelivery.status == "pending")
        .group_by(WebhookDelivery.subscription_id)
        .subquery()
    )
    query = (
        select(WebhookDelivery.subscription_id)
        .join(heads, WebhookDelivery.id == heads.c.head)
        .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
        .where(
            WebhookSubscription.status == "active",
            or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
            or_(
                WebhookSubscription.lease_owner.is_(None),
                WebhookSubscription.lease_owner == owner,
                WebhookSubscription.lease_expires_at < now,
            ),
        )
    )
    with session_scope(engine) as session:
        return list(session.scalars(query))


class Dispatcher:
    """Routes, delivers and forwards until stopped; see the module doc."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        settings: EventsSettings | None = None,
        broker: str | None = None,
        owner: str | None = None,
    ) -> None:
        from sentier.store import get_engine

        self.engine = engine or get_engine()
        self.settings = settings or get_events_settings()
        self.broker = broker if broker is not None else self.settings.broker
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stats = DispatchStats()
        self._rng = random.Random()
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._targets: dict[tuple[str, bool], Target] = {}

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        """Run in the current event loop as a background task (``sentier serve``)."""
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self.run(self._stop))
        return self._task

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None

    def wake(self) -> None:
        """Look for work now rather than at the next poll (after a local write)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; in-flight batches finish, leases are released."""
        self._stop = stop
        sender = Sender(self.settings)
        semaphore = asyncio.Semaphore(self.settings.max_parallel_subscriptions)
        forwarder: asyncio.Task[None] | None = None
        if self.broker and self.broker != "none":
            forwarder = asyncio.create_task(self._forward_loop())
        try:
            while not stop.is_set():
                busy = await self._tick(sender, semaphore)
                if not busy:
                    await self._sleep(self.settings.poll_interval_seconds)
        finally:
            stop.set()
            workers = [t for t in self._workers.values() if not t.done()]
            if workers:
                await asyncio.gather(*workers, return_exceptions=True)
            if forwarder is not None:
                await asyncio.gather(forwarder, return_exceptions=True)
            await sender.aclose()
            await asyncio.to_thread(self._release_leases)

    async def run_until_idle(self, *, timeout: float = 30.0) -> DispatchStats:
        """Route and deliver until nothing is due (tests, ``dispatch --once``)."""
        sender = Sender(self.settings)
        semaphore = asyncio.Semaphore(self.settings.max_parallel_subscriptions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while loop.time() < deadline:
                busy = await self._tick(sender, semaphore)
                workers = [t for t in self._workers.values() if not t.done()]
                if workers:
                    await asyncio.gather(*workers)
                    continue
                if not busy:
                    break
        finally:
            await sender.aclose()
            await asyncio.to_thread(self._release_leases)
        return self.stats

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        stop_wait = asyncio.create_task(self._stop.wait())
        wake_wait = asyncio.create_task(self._wake.wait())
        await asyncio.wait({stop_wait, wake_wait}, timeout=seconds, return_when="FIRST_COMPLETED")
        stop_wait.cancel()
        wake_wait.cancel()

    async def _tick(self, sender: Sender, semaphore: asyncio.Semaphore) -> bool:
        """One round: route a batch, start a worker per due subscription. True when busy."""
        try:
            routed = await asyncio.to_thread(
                route_once, self.engine, limit=self.settings.batch_size
            )
            self.stats.routed += routed
            due = await asyncio.to_thread(due_subscriptions, self.engine, self.owner, _now())
        except Exception:
            log.exception("dispatcher: routing failed; retrying")
            await self._sleep(1.0)
            return False
        started = False
        for subscription_id in due:
            task = self._workers.get(subscription_id)
            if task is None or task.done():
                self._workers[subscription_id] = asyncio.create_task(
                    self._serve(subscription_id, sender, semaphore)
                )
                started = True
        return routed >= self.settings.batch_size or started

    # -- one subscription --------------------------------------------------------------------
    async def _serve(
        self, subscription_id: str, sender: Sender, semaphore: asyncio.Semaphore
    ) -> None:
        async with semaphore:
            while not self._stop.is_set():
                try:
                    work = await asyncio.to_thread(self._claim, subscription_id)
                    if work is None or not work.items:
                        return
                    outcomes = await self._send_batch(work, sender)
                    more = await asyncio.to_thread(self._record, work, outcomes)
                except Exception:
                    log.exception("dispatcher: delivery to %s failed", subscription_id)
                    return
                if not more:
                    return

    async def _send_batch(self, work: _Work, sender: Sender) -> list[Outcome]:
        try:
            target = await self._target(work.url, work.allow_private)
        except EventsError as error:
            refused = error.code == "refused"
            return [Outcome(False, error=str(error), retryable=not refused, refused=refused)]
        webhook = Webhook(work.secret)
        outcomes: list[Outcome] = []
        loop = asyncio.get_running_loop()
        # Stop well within the lease, so it is renewed before another dispatcher may take it.
        deadline = loop.time() + self.settings.lease_seconds / 3
        for item in work.items:
            outcome = await sender.send(target, webhook, item.event_id, item.body)
            outcomes.append(outcome)
            if not outcome.ok or loop.time() > deadline:
                break
        return outcomes

    async def _target(self, url: str, allow_private: bool) -> Target:
        key = (url, allow_private or self.settings.allow_private_targets)
        target = self._targets.get(key)
        if target is None:
            target = await asyncio.to_thread(check_target, url, allow_private=key[1])
            self._targets[key] = target
            asyncio.get_running_loop().call_later(30.0, self._targets.pop, key, None)
        return target

    def _claim(self, subscription_id: str) -> _Work | None:
        """Take (or renew) the lease and read the due head of the queue, in order."""
        now = _now()
        with session_scope(self.engine) as session:
            taken = session.execute(
                update(WebhookSubscription)
                .where(
                    WebhookSubscription.id == subscription_id,
                    WebhookSubscription.status == "active",
                    or_(
                        WebhookSubscription.lease_owner.is_(None),
                        WebhookSubscription.lease_owner == self.owner,
                        WebhookSubscription.lease_expires_at < now,
                    ),
                )
                .values(
                    lease_owner=self.owner,
                    lease_expires_at=now + timedelta(seconds=self.settings.lease_seconds),
                )
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            sub = session.get(WebhookSubscription, subscription_id)
            assert sub is not None
            rows = session.execute(
                select(WebhookDelivery, OutboxEvent)
                .join(OutboxEvent, OutboxEvent.id == WebhookDelivery.outbox_id)
                .where(
                    WebhookDelivery.subscription_id == subscription_id,
                    WebhookDelivery.status == "pending",
                )
                .order_by(WebhookDelivery.id)
                .limit(self.settings.batch_size)
            ).all()
            items: list[_Item] = []
            for delivery, event in rows:
                due_at = _aware(delivery.next_attempt_at)
                if due_at is not None and due_at > now:
                    break  # head-of-line: later deliveries wait behind a retry
                items.append(
                    _Item(
                        delivery.id,
                        delivery.event_id,
                        delivery.event_type,
                        delivery.attempts,
                        _aware(delivery.first_attempt_at),
                        structured_body(event),
                    )
                )
            return _Work(
                sub.id, sub.url, sub.allow_private, credentials.decrypt(sub.secret_encrypted), items
            )

    def _record(self, work: _Work, outcomes: list[Outcome]) -> bool:
        """Write the batch's results in one transaction; True when the queue may go on."""
        now = _now()
        settings = self.settings
        delivered: list[dict[str, object]] = []
        attempts: list[dict[str, object]] = []
        go_on = True
        events: list[PendingEvent] = []
        with session_scope(self.engine) as session:
            for item, outcome in zip(work.items, outcomes, strict=False):
                first = item.first_attempt_at or now
                # An HTTP client's error may quote the URL it sent to, query token included.
                error = redact_optional(outcome.error)
                if outcome.refused:
                    auth.audit(
                        session,
                        actor=f"dispatcher:{self.owner}"[:255],
                        action="webhook.ssrf-refused",
                        outcome="denied",
                        target=work.subscription_id,
                        details={"reason": error, "delivery": item.delivery_id},
                    )
                attempts.append(
                    {
                        "delivery_id": item.delivery_id,
                        "attempted_at": now,
                        "status_code": outcome.status_code,
                        "error": error,
                        "duration_ms": outcome.duration_ms,
                        "response_excerpt": outcome.excerpt,
                    }
                )
                if outcome.ok:
                    delivered.append(
                        {
                            "id": item.delivery_id,
                            "status": "delivered",
                            "attempts": item.attempts + 1,
                            "first_attempt_at": first,
                            "last_attempt_at": now,
                            "delivered_at": now,
                            "next_attempt_at": None,
                            "last_status_code": outcome.status_code,
                            "last_error": None,
                        }
                    )
                    continue
                go_on = False
                values: dict[str, object] = {
                    "attempts": item.attempts + 1,
                    "first_attempt_at": first,
                    "last_attempt_at": now,
                    "last_status_code": outcome.status_code,
                    "last_error": error,
                }
                if outcome.gone:
                    reason = f"endpoint answered 410 Gone at {now.isoformat()}"
                    session.execute(
                        update(WebhookSubscription)
                        .where(WebhookSubscription.id == work.subscription_id)
                        .values(status="disabled", disabled_reason=reason, updated_at=now)
                    )
                    values["next_attempt_at"] = None
                    events.append(
                        PendingEvent(
                            event_types.EVENTS_SUBSCRIPTION_DISABLED,
                            f"webhook:{work.subscription_id}",
                            {
                                "subscription_id": work.subscription_id,
                                "url": redact_url(work.url),
                                "reason": reason,
                            },
                        )
                    )
                    self.stats.disabled += 1
                elif outcome.retryable and now - first < timedelta(
                    seconds=settings.retry_horizon_seconds
                ):
                    delay = backoff_delay(
                        item.attempts + 1,
                        settings.backoff_base_seconds,
                        settings.backoff_max_seconds,
                        self._rng,
                    )
                    horizon_end = first + timedelta(seconds=settings.retry_horizon_seconds)
                    values["next_attempt_at"] = min(now + timedelta(seconds=delay), horizon_end)
                    self.stats.failed_attempts += 1
                else:
                    values["status"] = "dead"
                    values["next_attempt_at"] = None
                    events.append(
                        PendingEvent(
                            event_types.EVENTS_DELIVERY_DEAD_LETTERED,
                            f"webhook:{work.subscription_id}",
                            {
                                "subscription_id": work.subscription_id,
                                "delivery_id": item.delivery_id,
                                "event_id": item.event_id,
                                "event_type": item.event_type,
                                "attempts": item.attempts + 1,
                                "last_status_code": outcome.status_code,
                                "last_error": error or "failed",
                            },
                        )
                    )
                    self.stats.dead_lettered += 1
                    go_on = not outcome.gone  # the queue goes on past a dead letter
                session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == item.delivery_id)
                    .values(**values)
                )
            if delivered:
                session.execute(update(WebhookDelivery), delivered)
            bulk_insert(session, WebhookAttempt.__table__, attempts)  # type: ignore[arg-type]
            if events:
                record_many(session, events)
        self.stats.delivered += len(delivered)
        return go_on

    def _release_leases(self) -> None:
        try:
            with session_scope(self.engine) as session:
                session.execute(
                    update(WebhookSubscription)
                    .where(WebhookSubscription.lease_owner == self.owner)
                    .values(lease_owner=None, lease_expires_at=None)
                )
            from sentier.events.brokers.base import release_forwarders

            release_forwarders(self.engine, self.owner)
        except Exception:
            log.warning("dispatcher: could not release leases", exc_info=True)

    # -- brokers -----------------------------------------------------------------------------
    async def _forward_loop(self) -> None:
        from sentier.events.brokers import make_publisher
        from sentier.events.brokers.base import claim_forwarder, cursor_name, forward_once

        publisher = make_publisher(self.broker, self.settings)
        name = cursor_name(publisher)
        lease = self.settings.lease_seconds
        loop = asyncio.get_running_loop()
        renew_at = 0.0  # the lease is renewed a third of the way through, not at every batch
        pause = 0.5
        try:
            while not self._stop.is_set():
                try:
                    if loop.time() >= renew_at:
                        held = await asyncio.to_thread(
                            claim_forwarder, self.engine, name, self.owner, lease
                        )
                        if not held:  # another worker publishes; stand by to take over
                            await publisher.close()
                            await self._sleep(min(1.0, lease / 3))
                            continue
                        renew_at = loop.time() + lease / 3
                    if not publisher.connected:
                        await publisher.connect()
                    count = await forward_once(self.engine, publisher, self.settings.batch_size)
                    pause = 0.5
                except Exception as error:  # noqa: BLE001 - the broker may come back
                    log.warning("dispatcher: %s; retrying in %.1fs", error, pause)
                    await publisher.close()
                    await self._sleep(pause)
                    pause = min(pause * 2, 10.0)
                    continue
                self.stats.forwarded[publisher.name] = (
                    self.stats.forwarded.get(publisher.name, 0) + count
                )
                if count < self.settings.batch_size:
                    await self._sleep(self.settings.poll_interval_seconds)
        finally:
            await publisher.close()


def pending_count(engine: Engine) -> int:
    """Deliveries still pending (tests and the bench wait for zero)."""
    with session_scope(engine) as session:
        count = session.scalar(
            select(func.count(WebhookDelivery.id)).where(WebhookDelivery.status == "pending")
        )
        return int(count or 0)
