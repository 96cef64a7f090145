"""The transactional outbox shared by every domain, and the tables that deliver it.

A change and the CloudEvent that describes it are written in the same transaction, so that no
change is lost and no event describes a change that was rolled back. Delivery (webhooks,
brokers) reads this table; it never needs the domain that wrote the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow

_BigId = BigInteger().with_variant(Integer, "sqlite")


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_type_id", "type", "id"),
        Index("ix_outbox_events_tx_id", "tx", "id"),
    )

    # Monotonic within one database; delivery order per subscription follows it.
    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Owner group of the subject when known, so subscriptions can filter by team.
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # PostgreSQL only: the id of the writing transaction (a server default). Sequence ids can
    # commit out of order there; readers order by (tx, id) below the oldest running
    # transaction instead, so a late commit is never skipped. NULL on SQLite, whose single
    # writer commits ids in order.
    tx: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())


class EventCursor(Base):
    """How far one reader of the outbox (webhook router, a broker publisher) has got."""

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    tx: Mapped[int] = mapped_column(BigInteger, default=0)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A broker forwarder owns its cursor while it publishes, so several workers do not all
    # publish the same batch (a killed one's lease expires and another takes over).
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookSubscription(Base):
    """An outgoing webhook: where to send, which events, and the (encrypted) signing secret."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    types: Mapped[list[str]] = mapped_column(JSONType)
    group_ref: Mapped[str | None] = mapped_column(String(512), default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    allow_private: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A dispatcher owns a subscription while it delivers, so order holds with several running.
    lease_owner: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)


class WebhookDelivery(Base):
    """One event to one subscription: pending until delivered or dead-lettered."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("subscription_id", "outbox_id"),
        Index("ix_webhook_deliveries_queue", "subscription_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    subscription_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    outbox_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_events.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery, kept so a team can see why its endpoint failed."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    # Only a short excerpt: a receiver's response body is not ours to keep.
    response_excerpt: Mapped[str | None] = mapped_column(String(512), default=None)


class InboundHook(Base):
    """A named inbound endpoint (alertmanager, cloudevents, git) and how its sender proves itself.

    Tokens are stored as SHA-256 digests; HMAC secrets encrypted (they must be recomputed).
    """

    __tablename__ = "inbound_hooks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # git hooks: the catalog source re-ingested when the payload does not name one.
    source_name: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundMessage(Base):
    """A payload received by an inbound hook, kept raw for the domains that consume it (AIOps).

    ``sender_id`` is the sender's own id of the message (CloudEvents source+id, a git delivery
    id, a digest of an Alertmanager notification): a retry by the sender is recognised and
    stored once.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (UniqueConstraint("hook_name", "sender_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    hook_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    sender_id: Mapped[str] = mapped_column(String(512))
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    content_type: Mapped[str | None] = mapped_column(String(255), default=None)
    headers: Mapped[dict[str, Any]] = mapped_column(JSONType)
    body: Mapped[str] = mapped_column(Text)
    # The validated, parsed payload (an Alertmanager notification, a CloudEvent, a push).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    status: Mapped[str] = mapped_column(String(16), default="received")
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    consumed_at: Mapped[datetime | None] = mapped_column(default=None)


class ConsumedEvent(Base):
    """Events a broker consumer has handled, so a redelivered message is handled once."""

    __tablename__ = "consumed_events"
    __table_args__ = (UniqueConstraint("consumer", "event_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(255))
    consumed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
