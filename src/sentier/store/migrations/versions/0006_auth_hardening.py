"""auth hardening: revocable portal sessions, failures per token, an untruncatable audit trail

Revision ID: 0006_auth_hardening
Revises: 0005
Create Date: 2026-12-08

- ``portal_sessions``: a portal session is a row, so logging out (or revoking the token) ends
  it for every copy of the cookie and every worker.
- ``audit_events.credential``: the token a failed authentication named, so that failures
  costing a scrypt are limited per token and per address, apart from anonymous ones.
- PostgreSQL: ``TRUNCATE audit_events`` is refused like UPDATE and DELETE (a statement-level
  trigger; row triggers do not see TRUNCATE). SQLite has no TRUNCATE: its ``DELETE`` without
  ``WHERE`` already meets the DELETE trigger.

``ADD COLUMN`` and plain ``CREATE INDEX`` are used on audit_events, never a batch operation:
on SQLite a batch copies the table, and the append-only triggers would not come along.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_auth_hardening"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["token_id"],
            ["api_tokens.id"],
            name=op.f("fk_portal_sessions_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_sessions")),
    )
    op.create_index(
        op.f("ix_portal_sessions_expires_at"), "portal_sessions", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_portal_sessions_token_id"), "portal_sessions", ["token_id"], unique=False
    )
    op.add_column("audit_events", sa.Column("credential", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_audit_events_credential_at", "audit_events", ["credential", "at"], unique=False
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
            "FOR EACH STATEMENT EXECUTE FUNCTION sentier_audit_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
    op.drop_index("ix_audit_events_credential_at", table_name="audit_events")
    op.execute("ALTER TABLE audit_events DROP COLUMN credential")
    op.drop_index(op.f("ix_portal_sessions_token_id"), table_name="portal_sessions")
    op.drop_index(op.f("ix_portal_sessions_expires_at"), table_name="portal_sessions")
    op.drop_table("portal_sessions")
