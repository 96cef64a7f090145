"""Persistence: engines, sessions, models and migrations (SQLite by default, PostgreSQL by URL)."""

from sentier.store.bulk import bulk_insert
from sentier.store.engine import (
    dispose_engines,
    get_engine,
    is_postgresql,
    session_factory,
    session_scope,
)
from sentier.store.migrate import ensure_current, is_current, upgrade
from sentier.store.retry import is_transient, retry_transient

__all__ = [
    "bulk_insert",
    "dispose_engines",
    "ensure_current",
    "get_engine",
    "is_current",
    "is_postgresql",
    "is_transient",
    "retry_transient",
    "session_factory",
    "session_scope",
    "upgrade",
]
