"""policy scans and findings

Revision ID: 0100_policy
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0100_policy"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "policy_scans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paths", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("opened", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("still_open", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_scans")),
    )
    with op.batch_alter_table("policy_scans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_policy_scans_target"), ["target"], unique=False)
    op.create_table(
        "policy_findings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("resource", sa.Text(), nullable=False),
        sa.Column("resource_type", sa.String(length=255), nullable=False),
        sa.Column("pack", sa.String(length=64), nullable=False),
        sa.Column("entity_ref", sa.String(length=512), nullable=True),
        sa.Column("owner_ref", sa.String(length=512), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["policy_scans.id"],
            name=op.f("fk_policy_findings_scan_id_policy_scans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_findings")),
    )
    with op.batch_alter_table("policy_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_policy_findings_fingerprint"), ["fingerprint"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_policy_findings_owner_ref"), ["owner_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_policy_findings_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_policy_findings_scan_id"), ["scan_id"], unique=False)
        batch_op.create_index("ix_policy_findings_scan_state", ["scan_id", "state"], unique=False)
        batch_op.create_index(
            "ix_policy_findings_entity_state", ["entity_ref", "state"], unique=False
        )


def downgrade() -> None:
    op.drop_table("policy_findings")
    op.drop_table("policy_scans")
