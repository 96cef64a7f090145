"""Tables of detection: what rules detected, the suppressions judging some false positives,
and how far the detection consumer has read each of its sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class Detection(Base):
    """One detection: a rule matched a record (or a correlation fired at one).

    ``key`` is a digest of the rule, the record's origin, the correlation group and window:
    reading the same logs again finds the same keys and adds nothing.
    """

    __tablename__ = "detect_detections"
    __table_args__ = (Index("ix_detect_detections_entity_at", "entity_ref", "at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    key: Mapped[str] = mapped_column(String(64), unique=True)
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(Text)
    level: Mapped[str | None] = mapped_column(String(16), default=None)
    severity: Mapped[str] = mapped_column(String(16))
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    kind: Mapped[str] = mapped_column(String(16), default="match")
    at: Mapped[datetime] = mapped_column(index=True)
    origin: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="logs")
    entity_ref: Mapped[str | None] = mapped_column(String(512), default=None)
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    hint: Mapped[str | None] = mapped_column(String(512), default=None)
    group: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    count: Mapped[int | None] = mapped_column(Integer, default=None)
    message: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | suppressed
    suppression_id: Mapped[int | None] = mapped_column(Integer, default=None)
    alert_fingerprint: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """A judged false positive: detections of ``rule_id`` (``*``: any rule) on ``entity_ref``
    (any when empty) whose fields equal ``match`` are kept but not alerted, until
    ``expires_at``."""

    __tablename__ = "detect_suppressions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    entity_ref: Mapped[str | None] = mapped_column(String(512), default=None)
    match: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DetectCursor(Base):
    """How far the detection consumer has read one source (inbound messages, audit, outbox),
    and the correlation windows still open there, so the next poll carries on from both."""

    __tablename__ = "detect_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    # The open correlation windows of the stream over this source (``StreamEngine.snapshot``).
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
