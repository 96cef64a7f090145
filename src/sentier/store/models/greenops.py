"""Tables of GreenOps: what the billing does not say about resources.

A FOCUS line rarely names what ran (instance type) and never how busy it was. Users bring
both per cloud resource (an inventory, average CPU utilisation from their metrics); the carbon
model joins them to the lines by ResourceId. Carbon figures themselves are computed from the
cost facts on demand, never stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, utcnow


class GreenopsResourceFact(Base):
    """One resource's instance type and/or average CPU utilisation, for a month or always."""

    __tablename__ = "greenops_resource_facts"
    __table_args__ = (UniqueConstraint("source", "resource_id", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(255), index=True)
    resource_id: Mapped[str] = mapped_column(Text, index=True)
    # Billing period YYYY-MM, or "" for every period.
    period: Mapped[str] = mapped_column(String(7), default="")
    instance_type: Mapped[str | None] = mapped_column(String(128), default=None)
    cpu_utilization: Mapped[float | None] = mapped_column(Float, default=None)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
