"""Shared fixtures: isolated settings, real databases (SQLite always, PostgreSQL for real).

PostgreSQL tests run against 127.0.0.1:5432 in a throwaway database created for this test run
and dropped at its end. Where the server is absent they skip, except when
``SENTIER_REQUIRE_SERVICES=1`` (set by ``.ci/run``): then its absence fails the run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sentier.config import get_settings
from sentier.store import dispose_engines, upgrade
from sentier.store.engine import create_sentier_engine
from sentier.store.models import Base

PG_ADMIN_URL = os.environ.get(
    "SENTIER_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("SENTIER_REQUIRE_SERVICES") == "1"
REQUIRE_CORPORA = os.environ.get("SENTIER_REQUIRE_CORPORA") == "1"


def _unavailable(what: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI (SENTIER_REQUIRE_SERVICES=1) but unavailable")
    pytest.skip(f"{what} unavailable")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own SENTIER_HOME and no database URL from the environment."""
    home = tmp_path / "sentier-home"
    monkeypatch.setenv("SENTIER_HOME", str(home))
    monkeypatch.delenv("SENTIER_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture(scope="session")
def corpora() -> Path:
    """The shared evaluation corpora (SENTIER_CORPORA); skips clearly where they are absent."""
    value = os.environ.get("SENTIER_CORPORA")
    path = Path(value) if value else None
    if path is None or not path.is_dir():
        message = (
            "evaluation corpora not found: set SENTIER_CORPORA to the corpora directory "
            f"(got {value!r})"
        )
        if REQUIRE_CORPORA:
            pytest.fail(message)
        pytest.skip(message)
    return path.resolve()


# -- databases --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = create_sentier_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database for this run, migrated once, dropped at the end."""
    try:
        admin = create_sentier_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any connection failure means "not available"
        _unavailable("PostgreSQL on 127.0.0.1:5432")
    name = f"sentier_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_sentier_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    dispose_engines()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    """Empty every table between tests. The audit trail refuses TRUNCATE (migration 0006): its
    trigger is switched off inside this one transaction by the tables' owner, the test user,
    and on again before the commit, so the database the tests see keeps it."""
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(
            text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_truncate")
        )
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_truncate"))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "sentier.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A clean, migrated database of each backend; also set as SENTIER_DATABASE_URL."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("postgres_url")
        _truncate_postgres(create_sentier_engine(url))
    monkeypatch.setenv("SENTIER_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on ``db_url``: every test using it runs on SQLite and on PostgreSQL."""
    from sentier.store import get_engine

    yield get_engine(db_url)


@pytest.fixture
def sqlite_engine(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine on a fresh SQLite database, for tests where the backend does not matter."""
    from sentier.store import get_engine

    monkeypatch.setenv("SENTIER_DATABASE_URL", sqlite_url)
    get_settings.cache_clear()
    yield get_engine(sqlite_url)
