"""greenops

Revision ID: 0500_greenops
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0500_greenops"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "greenops_resource_facts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("instance_type", sa.String(length=128), nullable=True),
        sa.Column("cpu_utilization", sa.Float(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_greenops_resource_facts")),
        sa.UniqueConstraint(
            "source", "resource_id", "period", name=op.f("uq_greenops_resource_facts_source")
        ),
    )
    with op.batch_alter_table("greenops_resource_facts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_greenops_resource_facts_resource_id"), ["resource_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_greenops_resource_facts_source"), ["source"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("greenops_resource_facts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_greenops_resource_facts_source"))
        batch_op.drop_index(batch_op.f("ix_greenops_resource_facts_resource_id"))
    op.drop_table("greenops_resource_facts")
