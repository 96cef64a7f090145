"""detect

Revision ID: 0600_detect
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0600_detect"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "detect_detections",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("tags", _JSON, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("entity_ref", sa.String(length=512), nullable=True),
        sa.Column("owner_ref", sa.String(length=512), nullable=True),
        sa.Column("hint", sa.String(length=512), nullable=True),
        sa.Column("group", _JSON, nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("suppression_id", sa.Integer(), nullable=True),
        sa.Column("alert_fingerprint", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_detections")),
        sa.UniqueConstraint("key", name=op.f("uq_detect_detections_key")),
    )
    with op.batch_alter_table("detect_detections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detect_detections_at"), ["at"], unique=False)
        batch_op.create_index("ix_detect_detections_entity_at", ["entity_ref", "at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_detect_detections_owner_ref"), ["owner_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_detect_detections_rule_id"), ["rule_id"], unique=False)
    op.create_table(
        "detect_suppressions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=128), nullable=False),
        sa.Column("entity_ref", sa.String(length=512), nullable=True),
        sa.Column("match", _JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detect_suppressions")),
    )
    with op.batch_alter_table("detect_suppressions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_detect_suppressions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_detect_suppressions_rule_id"), ["rule_id"], unique=False
        )
    op.create_table(
        "detect_cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("state", _JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_detect_cursors")),
    )


def downgrade() -> None:
    op.drop_table("detect_cursors")
    with op.batch_alter_table("detect_suppressions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detect_suppressions_rule_id"))
        batch_op.drop_index(batch_op.f("ix_detect_suppressions_expires_at"))
    op.drop_table("detect_suppressions")
    with op.batch_alter_table("detect_detections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detect_detections_rule_id"))
        batch_op.drop_index(batch_op.f("ix_detect_detections_owner_ref"))
        batch_op.drop_index("ix_detect_detections_entity_at")
        batch_op.drop_index(batch_op.f("ix_detect_detections_at"))
    op.drop_table("detect_detections")
