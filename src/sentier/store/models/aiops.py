"""Tables of AIOps: log template miner state, alerts, incidents and their timelines.

Alerts are kept one row per occurrence (a fingerprint firing from ``starts_at``), so re-reading
the same payload updates that row instead of adding one: ingestion stays idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class LogMinerState(Base):
    """A named template miner's snapshot, reloaded to carry on mining where it stopped."""

    __tablename__ = "aiops_log_miners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    lines: Mapped[int] = mapped_column(BigInteger, default=0)
    templates: Mapped[int] = mapped_column(Integer, default=0)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Incident(Base):
    """Alerts judged to be one problem, with its likely root cause and lifecycle."""

    __tablename__ = "aiops_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(36), unique=True)
    title: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    opened_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(255), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    root_cause_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    # Ranked candidates: [{"ref", "score", "reasons": [...]}, ...]
    root_causes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    entities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    alert_count: Mapped[int] = mapped_column(Integer, default=0)


class Alert(Base):
    """One occurrence of an alert, normalised from whichever source sent it."""

    __tablename__ = "aiops_alerts"
    __table_args__ = (
        UniqueConstraint("fingerprint", "starts_at"),
        Index("ix_aiops_alerts_status_starts", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    fingerprint: Mapped[str] = mapped_column(String(128), index=True)
    source: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str | None] = mapped_column(Text, default=None)
    labels: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    entity_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    unresolved_entity: Mapped[str | None] = mapped_column(String(512), default=None)
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column(default=None)
    last_received_at: Mapped[datetime] = mapped_column(default=utcnow)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    flaps: Mapped[int] = mapped_column(Integer, default=0)
    strength: Mapped[float] = mapped_column(Float, default=1.0)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("aiops_incidents.id", ondelete="SET NULL"), index=True, default=None
    )


class IncidentEvent(Base):
    """The timeline of an incident: opened, alert joined, acknowledged, resolved..."""

    __tablename__ = "aiops_incident_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("aiops_incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column()
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
