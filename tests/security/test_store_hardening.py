"""The store under attack or accident: racing migrations, a truncated audit trail, file modes."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from sentier.auth import audit
from sentier.store import is_current, is_postgresql, session_scope
from sentier.store.engine import create_sentier_engine
from sentier.store.models import AuditEvent
from tests.api.conftest import write_catalog
from tests.conftest import PG_ADMIN_URL, _unavailable


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty PostgreSQL database (no migration applied), dropped afterwards."""
    try:
        admin = create_sentier_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any connection failure means "not available"
        _unavailable("PostgreSQL on 127.0.0.1:5432")
    name = f"sentier_race_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_MIGRATE = """
import sys, time
from pathlib import Path
from sentier.store import upgrade
from sentier.store.engine import create_sentier_engine
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = create_sentier_engine(url)
ready.touch()
while not go.exists():
    time.sleep(0.005)
upgrade(engine)
"""


def _upgrade_concurrently(url: str, tmp_path: Path, servers: int = 3) -> list[str]:
    """``servers`` processes (alembic's context is per process) upgrading at the same instant;
    the errors of those that failed."""
    go = tmp_path / "go"
    readies = [tmp_path / f"ready-{n}" for n in range(servers)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _MIGRATE, url, str(ready), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready in readies) and time.monotonic() < deadline:
        time.sleep(0.02)
    go.touch()
    errors = []
    for child in children:
        _, stderr = child.communicate(timeout=120)
        if child.returncode != 0:
            lines = stderr.strip().splitlines()
            errors.append(next((line for line in reversed(lines) if "Error" in line), lines[-1]))
    engine = create_sentier_engine(url)
    try:
        assert is_current(engine)
    finally:
        engine.dispose()
    return errors


def test_servers_starting_together_on_an_empty_postgresql_all_migrate(
    fresh_postgres: str, tmp_path: Path
) -> None:
    """M3: without a lock, the second server died with UniqueViolation on alembic_version."""
    assert _upgrade_concurrently(fresh_postgres, tmp_path) == []


def test_servers_starting_together_on_an_empty_sqlite_all_migrate(tmp_path: Path) -> None:
    assert _upgrade_concurrently(f"sqlite:///{tmp_path / 'race.db'}", tmp_path) == []


def test_the_audit_trail_cannot_be_truncated_or_emptied(engine: Engine) -> None:
    """On PostgreSQL, TRUNCATE skipped the row triggers refusing UPDATE and DELETE."""
    with session_scope(engine) as session:
        audit(session, actor="token:x (t)", action="token.create", outcome="ok")
    for statement in ("TRUNCATE audit_events", "DELETE FROM audit_events"):
        if statement.startswith("TRUNCATE") and not is_postgresql(engine):
            continue  # SQLite has no TRUNCATE; its unqualified DELETE meets the trigger
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 1


# -- files under SENTIER_HOME -----------------------------------------------------------------


def _sentier(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``sentier`` command (a new process, started as users start it), umask 022."""
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    command = [sys.executable, "-m", "sentier", *args]
    previous = os.umask(0o022)
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    finally:
        os.umask(previous)


def _open_to_others(home: Path) -> list[str]:
    paths = [home, *home.rglob("*")]
    return sorted(
        f"{path.relative_to(home.parent)} {stat.filemode(path.stat().st_mode)}"
        for path in paths
        if path.stat().st_mode & 0o077
    )


def test_everything_sentier_creates_under_its_home_is_private(tmp_path: Path) -> None:
    """Database, WAL and folders were 0644/0755 (only the key files were 0600)."""
    home = tmp_path / "home"
    write_catalog(tmp_path / "catalog")
    result = _sentier(home, "catalog", "ingest", str(tmp_path / "catalog"))
    assert result.returncode == 0, result.stderr
    assert (home / "sentier.db").exists()
    assert _open_to_others(home) == []


def test_an_existing_home_open_to_others_is_closed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    legacy = home / "sentier.db"
    sqlite3.connect(legacy).execute("PRAGMA journal_mode=WAL").close()
    legacy.chmod(0o644)
    result = _sentier(home, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o600
    assert _open_to_others(home) == []


def test_the_store_creates_its_database_private_whatever_the_umask(tmp_path: Path) -> None:
    """A server started without the CLI (any ASGI server): the store still creates 0600."""
    database = tmp_path / "deep" / "sentier.db"
    previous = os.umask(0o022)
    try:
        engine = create_sentier_engine(f"sqlite:///{database}")
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            connection.commit()
            # While a connection is open, the WAL and its index exist beside the database.
            modes = {
                path.name: stat.S_IMODE(path.stat().st_mode) for path in database.parent.iterdir()
            }
        engine.dispose()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    assert modes == {"sentier.db": 0o600, "sentier.db-wal": 0o600, "sentier.db-shm": 0o600}
