"""What ``bench/soak.py`` found (issue 12, "make it repeatable"), each kept from coming back.

Three servers on one PostgreSQL, killed with -9 every 30 s, the database restarted once:

- requests meeting the restart answered **500** "an unexpected error occurred": a database
  that is restarting, a lost connection, a deadlock or SQLite's "database is locked" is now a
  **503** with ``Retry-After`` (the client may send it again), other errors stay 500;
- an ingestion job running when the database restarted was left **"running" for ever** in a
  server that lived on: its failure could not be recorded while the database was down, the
  exception was lost in the executor, and only a *restarting* server fails stale jobs. Jobs
  now wait the restart out: the ingestion is done again, the outcome recorded once the
  database answers;
- FinOps showback answered 500 (DuckDB "No files found") when another server's ingestion
  replaced a slice between the report's reading of the manifest and of the files: replaced
  files are now retired, removed by a later commit after a grace period;
- a connection dropped by the restart after a request's answer had gone out made the
  session's final rollback raise ("Caught handled exception, but response already started").
"""

from __future__ import annotations

import socket
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc

from sentier import auth
from sentier.api import create_app, finops_jobs, jobs
from sentier.api.routers import catalog as catalog_router
from sentier.store import is_transient, retry_transient, session_scope
from sentier.store.models import CatalogSource, Entity, IngestJob

DESCRIPTOR = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
spec:
  type: service
  lifecycle: production
  owner: team-a
"""


# -- genuine database failures -----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused_connection() -> sa_exc.OperationalError:
    """What a request meets while PostgreSQL is down: the connection is refused."""
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none")
    try:
        engine.connect()
    except sa_exc.OperationalError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("nothing should listen there")


def admin_shutdown() -> sa_exc.OperationalError:
    """What a statement under way meets when PostgreSQL is restarted (SQLSTATE 57P01)."""
    original = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
    return sa_exc.OperationalError("SELECT 1", None, original)


def sqlite_locked(path: Path) -> sa_exc.OperationalError:
    """SQLite's "database is locked", from a writer that another one holds back."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
    except sa_exc.OperationalError as error:
        return error
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    raise AssertionError("the write should have been locked out")


def missing_table(path: Path) -> sa_exc.OperationalError:
    """An OperationalError that is a bug, not a passing condition: it must stay a 500."""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
    except sa_exc.OperationalError as error:
        return error
    finally:
        engine.dispose()
    raise AssertionError("the table should not exist")


def test_passing_database_failures_are_told_from_bugs(tmp_path: Path) -> None:
    assert is_transient(refused_connection())
    assert is_transient(admin_shutdown())
    assert is_transient(sqlite_locked(tmp_path / "locked.db"))
    assert is_transient(sa_exc.TimeoutError("QueuePool limit of size 10 overflow 20 reached"))
    deadlock = psycopg.errors.DeadlockDetected("deadlock detected")
    assert is_transient(sa_exc.OperationalError("UPDATE x", None, deadlock))
    assert not is_transient(missing_table(tmp_path / "empty.db"))
    duplicate = psycopg.errors.UniqueViolation("duplicate key value")
    assert not is_transient(sa_exc.IntegrityError("INSERT", None, duplicate))
    assert not is_transient(ValueError("not a database error"))


def test_retry_transient_waits_a_restart_out_and_gives_up_on_bugs() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise admin_shutdown()
        return "done"

    assert retry_transient(flaky, what="test", first_wait=0.01) == "done"
    assert len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise sa_exc.IntegrityError("INSERT", None, psycopg.errors.UniqueViolation("dup"))

    calls.clear()
    with pytest.raises(sa_exc.IntegrityError):
        retry_transient(broken, what="test", first_wait=0.01)
    assert len(calls) == 1  # a bug is not retried

    calls.clear()
    with pytest.raises(sa_exc.OperationalError):
        retry_transient(flaky, what="test", first_wait=0.05, budget_seconds=0.01)
    assert len(calls) == 1  # past the budget, the failure is raised


# -- the API: 503 with Retry-After, never a 500 ------------------------------------------------


@pytest.fixture
def api(sqlite_engine: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with session_scope(sqlite_engine) as session:
        token = auth.create_token(session, name="reader", role="viewer").secret
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "failure",
    [
        lambda _path: refused_connection(),
        lambda _path: admin_shutdown(),
        lambda path: sqlite_locked(path / "locked.db"),
    ],
    ids=["postgresql-down", "postgresql-restarting", "sqlite-locked"],
)
def test_a_database_restart_or_lock_is_a_503_with_retry_after(
    api: tuple[TestClient, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    failure: Callable[[Path], Exception],
) -> None:
    client, headers = api
    error = failure(tmp_path)

    def meets_it(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(catalog_router.views, "entity_page", meets_it)
    answer = client.get("/api/v1/entities", headers=headers)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:sentier:problem:database-unavailable"
    assert "retry" in problem["detail"]
    assert "127.0.0.1" not in answer.text and "SELECT" not in answer.text


def test_a_database_error_that_is_a_bug_is_still_a_500(
    api: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client, headers = api
    error = missing_table(tmp_path / "empty.db")

    def meets_it(*_args: Any, **_kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(catalog_router.views, "entity_page", meets_it)
    answer = client.get("/api/v1/entities", headers=headers)
    assert answer.status_code == 500
    assert answer.json()["detail"] == "an unexpected error occurred"
    assert "no_such_table" not in answer.text


# -- jobs: the outcome is recorded, never left "running" ---------------------------------------


def fail_once(engine: Engine, statement_start: str, contains: str = "") -> list[str]:
    """Make the first statement starting with ``statement_start`` (and holding ``contains``)
    fail as SQLite does when another writer holds the database; returns what was failed."""
    failed: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not failed and statement.startswith(statement_start) and contains in statement:
            failed.append(statement)
            raise sqlite3.OperationalError("database is locked")

    event.listen(engine, "before_cursor_execute", before)
    return failed


def _source(engine: Engine, root: Path) -> int:
    root.mkdir(parents=True)
    (root / "catalog-info.yaml").write_text(DESCRIPTOR)
    with session_scope(engine) as session:
        source = CatalogSource(name="payments", type="path", target=str(root))
        session.add(source)
        session.flush()
        return source.id


def _job(engine: Engine, job_id: str) -> IngestJob:
    with session_scope(engine) as session:
        job = session.get(IngestJob, job_id)
        assert job is not None
        session.expunge(job)
        return job


def test_a_catalog_job_meeting_a_database_restart_is_done_again(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    source_id = _source(sqlite_engine, tmp_path / "catalog")
    failed = fail_once(sqlite_engine, "SELECT", "FROM entities")
    job = _job(sqlite_engine, jobs.enqueue(source_id, "test", run_inline=True))
    assert failed, "the ingestion should have met the failure"
    assert (job.status, job.error) == ("succeeded", None)
    with session_scope(sqlite_engine) as session:
        assert session.query(Entity).filter_by(name="payments").count() == 1


def test_a_catalog_job_records_its_outcome_once_the_database_answers(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    source_id = _source(sqlite_engine, tmp_path / "catalog")
    failed = fail_once(sqlite_engine, "UPDATE ingest_jobs", "finished_at")
    job = _job(sqlite_engine, jobs.enqueue(source_id, "test", run_inline=True))
    assert failed, "recording the outcome should have met the failure"
    assert job.status == "succeeded" and job.finished_at is not None


def test_a_billing_job_records_its_outcome_once_the_database_answers(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "billing.csv").write_text("not,focus\n1,2\n")
    failed = fail_once(sqlite_engine, "UPDATE ingest_jobs", "finished_at")
    job_id = finops_jobs.enqueue(
        [tmp_path / "billing.csv"],
        provider_format="focus",
        currency=None,
        requested_by="test",
        run_inline=True,
    )
    job = _job(sqlite_engine, job_id)
    assert failed, "recording the outcome should have met the failure"
    assert job.status == "failed" and job.finished_at is not None  # quarantined, not stuck
    assert job.summary is not None and job.summary["files"][0]["status"] == "quarantined"


def test_a_job_is_started_once_the_database_answers(sqlite_engine: Engine, tmp_path: Path) -> None:
    source_id = _source(sqlite_engine, tmp_path / "catalog")
    failed = fail_once(sqlite_engine, "UPDATE ingest_jobs", "started_at")
    job = _job(sqlite_engine, jobs.enqueue(source_id, "test", run_inline=True))
    assert failed
    assert job.status == "succeeded"  # not left "queued"


# -- FinOps reports while another server restates billing --------------------------------------


def test_a_report_still_reads_the_files_of_the_manifest_it_listed(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """Showback answered 500 (DuckDB "No files found") when another server's ingestion
    replaced the slice between the report's reading of the manifest and of the files."""
    import duckdb

    from sentier.analytics import FactStore
    from sentier.finops import ingest
    from tests.finops.finops_helpers import line, write_focus

    ingest(sqlite_engine, [write_focus(tmp_path / "sep.csv", [line(cost="10")])])
    dataset = FactStore.default().dataset("finops")
    # What a report under way read from the manifest (a slice's keys and monthly sums).
    listed = dataset.files("keys") + dataset.files("monthly")
    for cost in ("11", "12"):  # restated twice meanwhile, by another server
        ingest(sqlite_engine, [write_focus(tmp_path / "sep.csv", [line(cost=cost)])])
    now = dataset.files("keys") + dataset.files("monthly")
    assert len(listed) == 2 and not set(listed) & set(now)
    con = duckdb.connect()
    try:
        for path in listed:
            count = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)])
            assert count.fetchone() == (1,)
    finally:
        con.close()
    # Once readers are done (the grace period), the replaced files go.
    removed = dataset.remove_retired(older_than_seconds=0)
    assert set(listed) <= set(removed)
    assert not any(path.exists() for path in listed)
    assert all(path.exists() for path in now + dataset.files("lines"))


# -- the end of a request after the database dropped its connection ----------------------------


def test_a_connection_dropped_after_the_answer_does_not_break_the_request(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request's session is rolled back once the answer has gone out; a PostgreSQL restart
    in between made that rollback raise, and the error reached the server after the response
    had started ("Caught handled exception, but response already started")."""
    from sentier.config import get_settings
    from sentier.store import get_engine

    monkeypatch.setenv("SENTIER_DATABASE_URL", postgres_url)
    get_settings.cache_clear()
    engine = get_engine(postgres_url)
    with session_scope(engine) as session:
        token = auth.create_token(session, name="reader-pg", role="viewer").secret
    dropped: list[int] = []
    do_rollback = engine.dialect.do_rollback

    def restart_meanwhile(connection: Any) -> None:
        # The restart happens while the answer goes out: it meets the rollback that ends the
        # request's session (the dependency's exit), not the requests's own work.
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and not (
            frame.f_code.co_name == "_close" and frame.f_code.co_filename.endswith("deps.py")
        ):
            frame = frame.f_back
        if frame is not None and not dropped:
            dropped.append(1)
            raise psycopg.OperationalError("consuming input failed: server closed the connection")
        do_rollback(connection)

    app = create_app(background=False)  # no dispatcher to meet the failure first
    with TestClient(app, base_url="http://127.0.0.1") as client:
        monkeypatch.setattr(engine.dialect, "do_rollback", restart_meanwhile)
        answer = client.get("/api/v1/entities", headers={"Authorization": f"Bearer {token}"})
        monkeypatch.setattr(engine.dialect, "do_rollback", do_rollback)
    assert dropped and answer.status_code == 200
