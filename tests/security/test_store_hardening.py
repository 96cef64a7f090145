"""The store under attack or accident: racing migrations, a truncated audit trail, file modes."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from sentier.store import is_current
from sentier.store.engine import create_sentier_engine
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
