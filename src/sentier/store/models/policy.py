"""Tables of the policy domain: scans and the findings of each scan.

Findings are stored per scan, so the history of a finding (opened, still open, fixed) is a
query; ``fingerprint`` (rule, file, resource, message) identifies a finding across scans of
the same ``target`` even when lines move.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class PolicyScan(Base):
    __tablename__ = "policy_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(512), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    paths: Mapped[list[str]] = mapped_column(JSONType)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    still_open: Mapped[int] = mapped_column(Integer, default=0)


class PolicyFinding(Base):
    __tablename__ = "policy_findings"
    __table_args__ = (
        Index("ix_policy_findings_scan_state", "scan_id", "state"),
        Index("ix_policy_findings_entity_state", "entity_ref", "state"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    scan_id: Mapped[int] = mapped_column(
        ForeignKey("policy_scans.id", ondelete="CASCADE"), index=True
    )
    fingerprint: Mapped[str] = mapped_column(String(40), index=True)
    # new | still-open | fixed (relative to the previous scan of the same target)
    state: Mapped[str] = mapped_column(String(16))
    # open | suppressed | baselined
    status: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[str] = mapped_column(String(128), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(128))
    title: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    file: Mapped[str] = mapped_column(Text)
    line: Mapped[int] = mapped_column(Integer)
    resource: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(String(255))
    pack: Mapped[str] = mapped_column(String(64))
    entity_ref: Mapped[str | None] = mapped_column(String(512), default=None)
    owner_ref: Mapped[str | None] = mapped_column(String(512), index=True, default=None)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
