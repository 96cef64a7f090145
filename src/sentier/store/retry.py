"""Riding out a database restart or a lock conflict: which failures a retry may cure.

A PostgreSQL restart, a dropped connection, a deadlock or serialization failure, SQLite's
"database is locked" after its busy timeout, an exhausted pool: none of these says anything
about the request or the job that met it, and the same work done again a moment later
succeeds. The API answers them 503 with ``Retry-After`` (never a 500), and background work
that must record its outcome (a job's final status) retries them rather than leaving the row
"running" for ever in a server that is still alive.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import exc as sa_exc

T = TypeVar("T")
log = logging.getLogger("sentier.store")

# SQLSTATE classes and codes of PostgreSQL failures that a retry may cure: connection
# exceptions (08), operator intervention (57P01 admin shutdown, 57P02 crash shutdown, 57P03
# cannot connect now), serialization failure and deadlock (40001, 40P01), lock not available
# (55P03), too many connections (53300).
_TRANSIENT_CLASSES = ("08",)
_TRANSIENT_CODES = frozenset({"57P01", "57P02", "57P03", "40001", "40P01", "55P03", "53300"})
_SQLITE_BUSY = ("database is locked", "database table is locked")


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is a database failure that the same work retried later may not meet."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    original: BaseException | None = error
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:
            return True
        original = error.orig
    if original is None:
        return False
    if isinstance(original, sqlite3.OperationalError):
        return any(text in str(original) for text in _SQLITE_BUSY)
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return False
    if not isinstance(original, psycopg.Error):
        return False
    state = original.sqlstate
    if state is None:
        # No server answer at all: the connection failed or was lost.
        return isinstance(original, psycopg.OperationalError | psycopg.InterfaceError)
    return state.startswith(_TRANSIENT_CLASSES) or state in _TRANSIENT_CODES


def describe(error: BaseException) -> str:
    """One line about a database failure (without the statement SQLAlchemy appends)."""
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def retry_transient(
    work: Callable[[], T],
    *,
    what: str,
    budget_seconds: float = 300.0,
    first_wait: float = 0.5,
    max_wait: float = 5.0,
) -> T:
    """``work()``, called again after each transient failure until ``budget_seconds`` have
    passed (then the failure is raised). ``work`` must be one transaction, safe to redo."""
    deadline = time.monotonic() + budget_seconds
    wait = first_wait
    while True:
        try:
            return work()
        except Exception as error:
            if not is_transient(error) or time.monotonic() + wait > deadline:
                raise
            log.warning("%s: %s; retrying in %.1fs", what, describe(error), wait)
        time.sleep(wait)
        wait = min(wait * 2, max_wait)
