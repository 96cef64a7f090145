"""Jobs of a server killed with kill -9 do not stay "running" for ever: the next ``sentier
serve`` fails them (interrupted) and removes their staging files, leaving the work of live
servers alone (issue 12, Low)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier import liveness
from sentier.analytics import FactStore
from sentier.api import finops_jobs, jobs
from sentier.api.recovery import INTERRUPTED, recover_interrupted
from sentier.catalog import pushed
from sentier.cli import app as cli
from sentier.store import session_scope
from sentier.store.models import CatalogSource, IngestJob

runner = CliRunner()


@pytest.fixture
def killed() -> Iterator[str]:
    """The token of a process that was running, then killed with SIGKILL."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        token = liveness.make_token(process.pid)
    finally:
        process.kill()
        process.wait()
    assert liveness.is_dead(token)
    yield token


def _job(engine: Engine, job_id: str, status: str, worker: str | None, action: str) -> None:
    with session_scope(engine) as session:
        session.add(IngestJob(id=job_id, status=status, worker=worker, action=action))


def _status(engine: Engine, job_id: str) -> tuple[str, str | None]:
    with session_scope(engine) as session:
        job = session.get(IngestJob, job_id)
        assert job is not None
        return job.status, job.error


def _staging(killed: str) -> dict[str, Path]:
    """A push staging directory, a directory set aside mid-swap and a FOCUS ingestion's
    staging directory of the killed process, and the same of this (live) one."""
    root = pushed.root()
    paths = {
        "push-dead": root / f".staging-{killed}-0a1b2c3d4e5f",
        "push-live": root / f".staging-{liveness.current()}-0a1b2c3d4e5f",
        "aside-dead": root / f".old-{killed}-0a1b2c3d4e5f.0123456789abcdef0123456789abcdef",
        "focus-dead": FactStore.default().dataset("focus").root
        / "_staging"
        / f"20260101T000000-{killed}-0a1b2c3d",
        "focus-live": FactStore.default().dataset("focus").staging(),
    }
    for path in paths.values():
        path.mkdir(parents=True, exist_ok=True)
        (path / "part.yaml").write_text("x: 1")
    return paths


def test_jobs_of_a_killed_server_are_failed_and_their_staging_removed(
    sqlite_engine: Engine, killed: str
) -> None:
    _job(sqlite_engine, "catalog-running", "running", killed, "ingest")
    _job(sqlite_engine, "catalog-queued", "queued", killed, "ingest")
    _job(sqlite_engine, "focus-running", "running", killed, finops_jobs.ACTION)
    _job(sqlite_engine, "legacy-running", "running", None, "ingest")  # before tokens existed
    _job(sqlite_engine, "live-running", "running", liveness.current(), "ingest")
    _job(sqlite_engine, "other-host", "running", "ffffffff-1-1", finops_jobs.ACTION)
    _job(sqlite_engine, "done", "succeeded", killed, "ingest")
    paths = _staging(killed)
    recovered = recover_interrupted(sqlite_engine)
    assert sorted(recovered.jobs) == [
        "catalog-queued",
        "catalog-running",
        "focus-running",
        "legacy-running",
    ]
    for job_id in recovered.jobs:
        assert _status(sqlite_engine, job_id) == ("failed", INTERRUPTED)
    assert INTERRUPTED.startswith("interrupted")
    for job_id, status in (("live-running", "running"), ("other-host", "running")):
        assert _status(sqlite_engine, job_id) == (status, None)
    assert _status(sqlite_engine, "done") == ("succeeded", None)
    assert not paths["push-dead"].exists() and not paths["focus-dead"].exists()
    assert paths["push-live"].exists() and paths["focus-live"].exists()
    # A directory set aside during a swap that never finished goes back in place.
    assert not paths["aside-dead"].exists()
    assert (pushed.root() / "0123456789abcdef0123456789abcdef" / "part.yaml").exists()
    assert recover_interrupted(sqlite_engine).jobs == []  # once is enough


def test_a_set_aside_directory_whose_swap_finished_is_removed(
    sqlite_engine: Engine, killed: str
) -> None:
    root = pushed.root()
    (root / "0123").mkdir(parents=True)
    (root / "0123" / "new.yaml").write_text("new")
    aside = root / f".old-{killed}-abc.0123"
    aside.mkdir()
    (aside / "old.yaml").write_text("old")
    recover_interrupted(sqlite_engine)
    assert not aside.exists() and (root / "0123" / "new.yaml").read_text() == "new"


def test_jobs_record_the_process_that_runs_them(sqlite_engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "billing.csv").write_text("not,focus\n1,2\n")
    with session_scope(sqlite_engine) as session:
        source = CatalogSource(name="empty", type="path", target=str(tmp_path))
        session.add(source)
        session.flush()
        source_id = source.id
    catalog_job = jobs.enqueue(source_id, "test", run_inline=True)
    focus_job = finops_jobs.enqueue(
        [tmp_path / "billing.csv"],
        provider_format="focus",
        currency=None,
        requested_by="test",
        run_inline=True,
    )
    with session_scope(sqlite_engine) as session:
        for job_id in (catalog_job, focus_job):
            job = session.get(IngestJob, job_id)
            assert job is not None and job.worker == liveness.current()
            assert not liveness.is_dead(job.worker)


def test_sentier_serve_recovers_before_serving(
    sqlite_engine: Engine, killed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: served.append(args[0]))
    _job(sqlite_engine, "catalog-running", "running", killed, "ingest")
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert served == ["sentier.api:create_served_app"]
    assert _status(sqlite_engine, "catalog-running") == ("failed", INTERRUPTED)
    assert "1 job(s) interrupted" in " ".join(result.output.split())


def test_liveness_tells_a_reused_process_id_from_the_process_that_wrote_the_token() -> None:
    me = liveness.current()
    host, pid, ticks = me.split("-")
    assert not liveness.is_dead(me)
    assert liveness.is_dead(f"{host}-{pid}-{int(ticks) + 1}")  # same pid, another process
    assert not liveness.is_dead(f"{'0' * 8 if host != '0' * 8 else '1' * 8}-{pid}-{ticks}")
    assert liveness.is_dead("garbage") and liveness.is_dead(None)
