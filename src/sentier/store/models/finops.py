"""Tables of FinOps: ingestion bookkeeping, budgets, their alerts and detected anomalies.

Cost lines themselves live in Parquet under ``SENTIER_HOME/facts/finops`` (see
``sentier.analytics``); these tables keep what was ingested from where, what users set
(budgets) and what sentier found (crossings, anomalies), so events are emitted once.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class FinopsIngestion(Base):
    """One run of ``sentier cost ingest``: the files it read and what landed."""

    __tablename__ = "finops_ingestions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    provider_format: Mapped[str] = mapped_column(String(32), default="focus")
    status: Mapped[str] = mapped_column(String(16))  # landed, partial, quarantined
    files: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class FinopsFile(Base):
    """A billing file as read by an ingestion: landed, quarantined (with why) or held back."""

    __tablename__ = "finops_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ingestion_id: Mapped[int] = mapped_column(
        ForeignKey("finops_ingestions.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), index=True)
    focus_version: Mapped[str | None] = mapped_column(String(8), default=None)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    periods: Mapped[list[str] | None] = mapped_column(JSONType, default=None)
    problems: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=None)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class FinopsSlice(Base):
    """The current content of one billing period of one billing account (mirrors the manifest)."""

    __tablename__ = "finops_slices"
    __table_args__ = (UniqueConstraint("period", "slice_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    slice_id: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str | None] = mapped_column(String(255), default=None)
    billing_account: Mapped[str | None] = mapped_column(String(255), default=None)
    rows: Mapped[int] = mapped_column(BigInteger, default=0)
    totals: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    ingestion_id: Mapped[int | None] = mapped_column(
        ForeignKey("finops_ingestions.id", ondelete="SET NULL"), index=True, default=None
    )
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinopsBudget(Base):
    """A monthly budget of a group or system, with the thresholds that raise events."""

    __tablename__ = "finops_budgets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    scope_ref: Mapped[str] = mapped_column(String(512), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    currency: Mapped[str] = mapped_column(String(3))
    thresholds: Mapped[list[int]] = mapped_column(JSONType)
    forecast_alert: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinopsBudgetAlert(Base):
    """A threshold of a budget crossed in a month, recorded once (its event is sent once)."""

    __tablename__ = "finops_budget_alerts"
    __table_args__ = (UniqueConstraint("budget_id", "month", "threshold", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    budget_id: Mapped[int] = mapped_column(
        ForeignKey("finops_budgets.id", ondelete="CASCADE"), index=True
    )
    month: Mapped[str] = mapped_column(String(7))
    threshold: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # actual or forecast
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    crossed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinopsAnomaly(Base):
    """A day whose cost for an owner and service broke from its usual pattern, explained."""

    __tablename__ = "finops_anomalies"
    __table_args__ = (UniqueConstraint("owner_ref", "service", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner_ref: Mapped[str] = mapped_column(String(512), index=True)
    service: Mapped[str] = mapped_column(String(255))
    day: Mapped[date] = mapped_column(Date, index=True)
    currency: Mapped[str] = mapped_column(String(3))
    actual: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    expected: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    score: Mapped[float] = mapped_column()
    drivers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType, default=None)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
