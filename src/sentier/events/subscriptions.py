"""Webhook subscriptions and their deliveries, as plain data for the CLI and the API.

Every function takes a session (the caller's transaction) and returns dicts and lists, so a
route is one call. The signing secret is returned once, by :func:`add_subscription`; later
reads never show it.
"""

from __future__ import annotations

import fnmatch
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from sentier.events import credentials
from sentier.events.errors import EventsError
from sentier.events.outbox import sequence_of
from sentier.events.reader import ensure_cursor, horizon_for
from sentier.events.redact import redact_optional
from sentier.events.ssrf import check_target
from sentier.store.models import (
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

ROUTER_CURSOR = "webhooks"
_TYPE_GLOB = re.compile(r"^[A-Za-z0-9.*?\-_\[\]]+$")


def _now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def type_matches(patterns: Sequence[str], type: str) -> bool:
    """Whether ``type`` matches any glob of ``patterns`` (``*`` also crosses dots)."""
    return any(_compiled(p).match(type) for p in patterns)


def _normalise_types(types: Sequence[str] | None) -> list[str]:
    patterns = [t.strip() for t in (types or ["*"]) if t.strip()]
    for pattern in patterns:
        if not _TYPE_GLOB.match(pattern):
            raise EventsError(f"invalid event type filter {pattern!r}", field="types")
    return patterns or ["*"]


def normalise_group(group: str | None) -> str | None:
    """The stored form of a group filter (``group:namespace/name``, lower case), or None."""
    if not group:
        return None
    from sentier.catalog import RefError, parse_ref

    try:
        ref = parse_ref(group, default_kind="group")
    except RefError as error:
        raise EventsError(str(error), field="group") from error
    if ref.kind.lower() != "group":
        raise EventsError(f"{group} is not a group", field="group")
    if len(str(ref)) > 512:
        raise EventsError("group reference longer than 512 characters", field="group")
    return str(ref).lower()


def subscription_record(sub: WebhookSubscription) -> dict[str, Any]:
    """A subscription as plain data, without its secret."""
    return {
        "id": sub.id,
        "url": sub.url,
        "types": list(sub.types),
        "group": sub.group_ref,
        "description": sub.description,
        "allow_private": sub.allow_private,
        "status": sub.status,
        "disabled_reason": sub.disabled_reason,
        "created_at": sub.created_at,
        "updated_at": sub.updated_at,
    }


def add_subscription(
    session: Session,
    url: str,
    *,
    types: Sequence[str] | None = None,
    group: str | None = None,
    secret: str | None = None,
    description: str | None = None,
    allow_private: bool = False,
) -> dict[str, Any]:
    """Create a subscription; the result carries ``secret`` (shown this once).

    ``allow_private`` is an admin's decision (the API must only pass it for admins); the
    ``SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS`` setting allows private targets for everyone.
    Events committed from now on are delivered to it.
    """
    from sentier.events.settings import get_events_settings

    private_ok = allow_private or get_events_settings().allow_private_targets
    check_target(url, allow_private=private_ok)
    secret = credentials.check_webhook_secret(secret) if secret else None
    secret = secret or credentials.new_webhook_secret()
    now = _now()
    sub = WebhookSubscription(
        id="wh_" + uuid.uuid4().hex[:16],
        url=url,
        types=_normalise_types(types),
        group_ref=normalise_group(group),
        description=description,
        secret_encrypted=credentials.encrypt(secret),
        allow_private=allow_private,
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    # The router starts from "now" the first time; make sure "now" is not later than this.
    ensure_cursor(session, ROUTER_CURSOR, horizon_for(session))
    session.flush()
    return {**subscription_record(sub), "secret": secret}


def _get(session: Session, subscription_id: str) -> WebhookSubscription:
    sub = session.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise EventsError(f"no webhook subscription {subscription_id}", code="not_found")
    return sub


def get_subscription(session: Session, subscription_id: str) -> dict[str, Any]:
    sub = _get(session, subscription_id)
    counts = {
        key: value
        for key, value in session.execute(
            select(WebhookDelivery.status, func.count())
            .where(WebhookDelivery.subscription_id == sub.id)
            .group_by(WebhookDelivery.status)
        )
    }
    return {**subscription_record(sub), "deliveries": counts}


def list_subscriptions(session: Session) -> list[dict[str, Any]]:
    """Every subscription with its queue: ``pending`` and ``dead`` counts, last delivery time."""
    subs = session.scalars(
        select(WebhookSubscription).order_by(WebhookSubscription.created_at)
    ).all()
    counts: dict[tuple[str, str], int] = {}
    last: dict[str, datetime | None] = {}
    for sub_id, status, count, delivered in session.execute(
        select(
            WebhookDelivery.subscription_id,
            WebhookDelivery.status,
            func.count(),
            func.max(WebhookDelivery.delivered_at),
        ).group_by(WebhookDelivery.subscription_id, WebhookDelivery.status)
    ):
        counts[(sub_id, status)] = count
        if status == "delivered":
            last[sub_id] = delivered
    return [
        {
            **subscription_record(s),
            "pending": counts.get((s.id, "pending"), 0),
            "dead": counts.get((s.id, "dead"), 0),
            "delivered": counts.get((s.id, "delivered"), 0),
            "last_delivered_at": last.get(s.id),
        }
        for s in subs
    ]


def update_subscription(
    session: Session,
    subscription_id: str,
    *,
    url: str | None = None,
    types: Sequence[str] | None = None,
    group: str | None = None,
    description: str | None = None,
    status: str | None = None,
    allow_private: bool | None = None,
) -> dict[str, Any]:
    """Change a subscription; ``status="active"`` re-enables one disabled by a 410.

    A new ``url`` or ``allow_private`` is checked against the SSRF rules (``refused``).
    """
    from sentier.events.settings import get_events_settings

    sub = _get(session, subscription_id)
    if allow_private is not None:
        sub.allow_private = allow_private
    if url is not None or allow_private is not None:
        # Whichever changed, the URL it will deliver to must pass with the permission it
        # will have: revoking ``allow_private`` from a private target is refused, not kept.
        private_ok = sub.allow_private or get_events_settings().allow_private_targets
        check_target(url if url is not None else sub.url, allow_private=private_ok)
    if url is not None:
        sub.url = url
    if types is not None:
        sub.types = _normalise_types(types)
    if group is not None:
        sub.group_ref = normalise_group(group)
    if description is not None:
        sub.description = description
    if status is not None:
        if status not in ("active", "disabled"):
            raise EventsError("status must be active or disabled", field="status")
        sub.status = status
        sub.disabled_reason = None if status == "active" else "disabled by a user"
    sub.updated_at = _now()
    session.flush()
    return subscription_record(sub)


def rotate_secret(
    session: Session, subscription_id: str, secret: str | None = None
) -> dict[str, Any]:
    """Replace the signing secret; the new one is returned this once."""
    sub = _get(session, subscription_id)
    secret = credentials.check_webhook_secret(secret) if secret else None
    secret = secret or credentials.new_webhook_secret()
    sub.secret_encrypted = credentials.encrypt(secret)
    sub.updated_at = _now()
    return {**subscription_record(sub), "secret": secret}


def remove_subscription(session: Session, subscription_id: str) -> None:
    """Delete a subscription with its deliveries and their attempts."""
    sub = _get(session, subscription_id)
    session.delete(sub)
    session.flush()


def delivery_record(delivery: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription_id": delivery.subscription_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "sequence": sequence_of(delivery.outbox_id),
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at,
        "first_attempt_at": delivery.first_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "next_attempt_at": delivery.next_attempt_at,
        "delivered_at": delivery.delivered_at,
        "last_status_code": delivery.last_status_code,
        # Redacted when read too: rows written before redaction may quote a full URL.
        "last_error": redact_optional(delivery.last_error),
    }


def list_deliveries(
    session: Session,
    subscription_id: str,
    *,
    status: str | None = None,
    after: int = 0,
    limit: int = 100,
    newest_first: bool = False,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """Deliveries of a subscription in delivery order (or newest first), optionally of one
    status; ``after`` pages forward, ``before`` backward."""
    _get(session, subscription_id)
    query = select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription_id, WebhookDelivery.id > after
    )
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    if status:
        query = query.where(WebhookDelivery.status == status)
    order = WebhookDelivery.id.desc() if newest_first else WebhookDelivery.id
    rows = session.scalars(query.order_by(order).limit(max(1, min(limit, 1000))))
    return [delivery_record(d) for d in rows]


def get_delivery(session: Session, delivery_id: int) -> dict[str, Any]:
    """One delivery with every attempt (status code, error, duration, response excerpt)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise EventsError(f"no delivery {delivery_id}", code="not_found")
    attempts = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
    )
    return {
        **delivery_record(delivery),
        "attempt_log": [
            {
                "attempted_at": a.attempted_at,
                "status_code": a.status_code,
                "error": redact_optional(a.error),
                "duration_ms": a.duration_ms,
                "response_excerpt": a.response_excerpt,
            }
            for a in attempts
        ],
    }


def redeliver(session: Session, delivery_id: int) -> dict[str, Any]:
    """Queue a delivery again (after a dead-letter, or to resend one that succeeded).

    It keeps its place in the subscription's order and its ``webhook-id``, so a receiver
    that already has it recognises it; the retry horizon starts again.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise EventsError(f"no delivery {delivery_id}", code="not_found")
    delivery.status = "pending"
    delivery.next_attempt_at = None
    delivery.first_attempt_at = None
    delivery.delivered_at = None
    session.flush()
    return delivery_record(delivery)


def replay(
    session: Session, subscription_id: str, *, after: int = 0, limit: int = 10_000
) -> dict[str, Any]:
    """Queue past events (outbox sequence > ``after``) matching the subscription again.

    Events it never had are added; those it had are queued again (see :func:`redeliver`).
    """
    from sentier.events.routing import matches

    sub = _get(session, subscription_id)
    groups = _group_closure(session, sub.group_ref)
    rows = session.scalars(
        select(OutboxEvent).where(OutboxEvent.id > after).order_by(OutboxEvent.id).limit(limit)
    ).all()
    existing = {
        key: value
        for key, value in session.execute(
            select(WebhookDelivery.outbox_id, WebhookDelivery.id).where(
                WebhookDelivery.subscription_id == sub.id, WebhookDelivery.outbox_id > after
            )
        )
    }
    added = requeued = 0
    now = _now()
    for row in rows:
        if not matches(sub, row, groups):
            continue
        if row.id in existing:
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == existing[row.id])
                .values(
                    status="pending", next_attempt_at=None, first_attempt_at=None, delivered_at=None
                )
            )
            requeued += 1
        else:
            session.add(
                WebhookDelivery(
                    subscription_id=sub.id,
                    outbox_id=row.id,
                    event_id=row.event_id,
                    event_type=row.type,
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
            added += 1
    session.flush()
    return {"subscription_id": sub.id, "added": added, "requeued": requeued}


def _group_closure(session: Session, group_ref: str | None) -> frozenset[str] | None:
    if group_ref is None:
        return None
    from sentier.catalog import descendant_groups

    return frozenset(g.lower() for g in descendant_groups(session, group_ref))
