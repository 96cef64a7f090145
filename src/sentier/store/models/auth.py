"""Tables of authentication and the audit trail.

Tokens are stored as a salt and a scrypt hash only: the secret is shown once, at creation.
The audit table is append-only (triggers refuse UPDATE and DELETE on both backends, and
TRUNCATE on PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sentier.store.models.base import Base, JSONType, utcnow


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    groups: Mapped[list[str]] = mapped_column(JSONType, default=list)
    salt: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(255), default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginCode(Base):
    """A one-time, short-lived link that logs a browser in (``make demo`` prints one)."""

    __tablename__ = "login_codes"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    hash: Mapped[str] = mapped_column(String(128))
    token_id: Mapped[str] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalSession(Base):
    """A portal login. The signed cookie names it; logout, expiry or revoking the token ends it,
    for every worker at once (the state is here, not in any process)."""

    __tablename__ = "portal_sessions"

    # SHA-256 of the session secret the cookie carries: a copy of this table opens nothing.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[str] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_action_at", "action", "at"),
        Index("ix_audit_events_ip_at", "ip", "at"),
        Index("ix_audit_events_credential_at", "credential", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(Text, default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str | None] = mapped_column(String(512), default=None)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # The existing token a failed authentication presented a wrong secret for: failures that
    # cost a scrypt, limited per token and per address apart from anonymous ones.
    credential: Mapped[str | None] = mapped_column(String(64), default=None)


class IngestJob(Base):
    """A catalog ingestion requested through the API, run in the background."""

    __tablename__ = "ingest_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_id: Mapped[int | None] = mapped_column(
        ForeignKey("catalog_sources.id", ondelete="SET NULL"), index=True, default=None
    )
    action: Mapped[str] = mapped_column(String(32), default="ingest")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    requested_by: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    # The process that will run the job (``sentier.liveness`` token): a server starting after
    # a kill -9 fails the jobs of dead processes, and leaves the others' alone.
    worker: Mapped[str | None] = mapped_column(String(64), default=None)
