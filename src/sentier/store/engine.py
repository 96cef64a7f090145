"""Engines and sessions: the one database session factory of sentier.

SQLite is tuned for an embedded, single-machine deployment (WAL so that the portal keeps
reading while an ingestion writes); PostgreSQL is reached through psycopg 3.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def normalise_url(url: str) -> str:
    """Map plain ``postgresql://`` URLs onto the psycopg 3 driver we ship with."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


# The database file and the files SQLite keeps beside it (which it creates with the database
# file's own mode).
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _private_sqlite_file(database: Path) -> None:
    """Create the database file 0600 (in a 0700 directory) before SQLite does, whatever the
    process's umask: SQLite gives its WAL and shared-memory files the database's mode. Files of
    an existing database are narrowed to 0600."""
    if not database.parent.exists():
        database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with suppress(FileExistsError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in _SQLITE_COMPANIONS:
        path = database.with_name(database.name + suffix)
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except FileNotFoundError:
            continue
        except PermissionError:
            continue  # another user's database, opened read-only: SQLite says what it can do


def create_sentier_engine(url: str, **pool: int) -> Engine:
    """A new engine for ``url``; SQLite files get their directory created and WAL enabled."""
    url = normalise_url(url)
    parsed = make_url(url)
    # orjson: entity bodies and event payloads are serialised for every row written.
    kwargs: dict[str, Any] = {
        "future": True,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
        # Requests run on up to 40 worker threads: a pool close to that avoids queueing.
        "pool_size": 10,
        "max_overflow": 20,
        **pool,
    }
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _private_sqlite_file(Path(database))
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs["pool_pre_ping"] = True
    return create_engine(url, **kwargs)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default: the configured database)."""
    if url is None:
        from sentier.config import get_settings

        url = get_settings().resolved_database_url
    url = normalise_url(url)
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = create_sentier_engine(url)
    return engine


_auth_engines: dict[str, Engine] = {}


def auth_engine(url: str | None = None) -> Engine:
    """A second, small pool for the API's authentication reads on the event loop.

    Kept apart from the requests' pool so that the loop never waits for a connection that a
    request on a worker thread holds (which could deadlock a full pool).
    """
    if url is None:
        from sentier.config import get_settings

        url = get_settings().resolved_database_url
    url = normalise_url(url)
    engine = _auth_engines.get(url)
    if engine is None:
        engine = _auth_engines[url] = create_sentier_engine(url, pool_size=2, max_overflow=4)
    return engine


def dispose_engines() -> None:
    """Close every pooled connection (tests, and forked worker processes)."""
    for engine in (*_engines.values(), *_auth_engines.values()):
        engine.dispose()
    _engines.clear()
    _auth_engines.clear()


_factories: weakref.WeakKeyDictionary[Engine, sessionmaker[Session]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` that keep loaded objects usable after commit.

    One factory per engine: a ``sessionmaker`` builds a Session subclass and its event
    dispatch, which cost more than the API's lookup by name itself when made per request.
    """
    factory = _factories.get(engine)
    if factory is None:
        factory = _factories[engine] = sessionmaker(bind=engine, expire_on_commit=False)
    return factory


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back if it raises."""
    session = session_factory(engine or get_engine())()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def is_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
