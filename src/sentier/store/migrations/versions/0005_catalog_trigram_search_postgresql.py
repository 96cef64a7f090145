"""catalog search through a trigram index on PostgreSQL

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

The PostgreSQL side of 0004: ``pg_trgm``'s GIN index serves ``search_text LIKE '%word%'`` (the
query search already sends) from an index instead of a scan. ``pg_trgm`` ships with PostgreSQL
and is a trusted extension (13+), so a database owner may create it; where it cannot be
created, nothing changes and search keeps scanning.
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy.exc import DBAPIError

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_entities_search_text_trgm"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError:
        savepoint.rollback()  # not allowed to create it here: search scans, as before
        return
    savepoint.commit()
    bind.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON entities USING gin (search_text gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
