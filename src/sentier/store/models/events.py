"""The transactional outbox shared by every domain.

A change and the CloudEvent that describes it are written in the same transaction, so that no
change is lost and no event describes a change that was rolled back. Delivery (webhooks,
brokers) reads this table; it never needs the domain that wrote the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class OutboxEvent(Base):
    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_type_id", "type", "id"),)

    # Monotonic within one database; delivery order per subscription follows it.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    type: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    time: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Owner group of the subject when known, so subscriptions can filter by team.
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
