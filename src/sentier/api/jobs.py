"""Background catalog ingestions: a job row in the database, the work on a thread of this process.

The job's state lives in the database, so any worker can answer ``GET /api/v1/jobs/{id}``.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentier import catalog, liveness
from sentier.api import metrics
from sentier.store import get_engine, retry_transient, session_scope
from sentier.store.models import CatalogSource, IngestJob

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentier-ingest")
log = logging.getLogger("sentier.jobs")


def enqueue(source_id: int, requested_by: str, *, run_inline: bool = False) -> str:
    """Create a job for (re-)ingesting a source and start it; returns the job id."""
    job_id = str(uuid.uuid4())
    with session_scope(get_engine()) as session:
        session.add(
            IngestJob(
                id=job_id,
                source_id=source_id,
                requested_by=requested_by,
                worker=liveness.current(),
            )
        )
    if run_inline:
        run(job_id)
    else:
        _executor.submit(run, job_id)
    return job_id


def run(job_id: str) -> None:
    """Run the job, recording its start and its outcome whatever the database does meanwhile.

    A database restart or a lock conflict (``store.is_transient``) is waited out: the
    ingestion, one transaction and a reconciliation, is done again, and the outcome is
    recorded once the database answers, so a server that lives on never leaves its job
    "running" (a killed one's jobs are failed by the next server to start).
    """
    what = f"ingestion job {job_id}"
    try:
        started = retry_transient(lambda: _start(job_id), what=what)
        if started is None:
            return
        name, roots = started
        status, error, summary = _ingest(job_id, name, roots)
        retry_transient(lambda: _finish(job_id, status, error, summary), what=what)
    except Exception:
        log.exception("%s: could not be run or recorded", what)


def _start(job_id: str) -> tuple[str, list[Path]] | None:
    """Mark the job running; its source's name and roots, or None if there is nothing to do."""
    with session_scope(get_engine()) as session:
        job = session.get(IngestJob, job_id)
        if job is None or job.source_id is None:
            return None
        source = session.get(CatalogSource, job.source_id)
        if source is None:
            job.status, job.error = "failed", "source no longer exists"
            job.finished_at = datetime.now(UTC)
            return None
        job.status, job.started_at = "running", datetime.now(UTC)
        return source.name, [Path(p) for p in source.target.split("\n") if p]


def _ingest(
    job_id: str, name: str, roots: list[Path]
) -> tuple[str, str | None, dict[str, Any] | None]:
    def ingest() -> catalog.IngestReport:
        # A pushed set is one tree (its files may name each other, nothing outside it): the
        # ingestion finds that boundary from the source itself.
        with session_scope(get_engine()) as session:
            return catalog.ingest_source(session, roots, name=name)

    started = time.perf_counter()
    try:
        report = retry_transient(ingest, what=f"ingestion job {job_id}", budget_seconds=120)
        status, error = ("succeeded" if report.ok else "failed"), report.failure
        summary = report.summary()
        summary["problems"] = [p.as_dict() for p in report.problems[:200]]
    except Exception as exc:
        log.exception("ingestion job %s failed", job_id)
        return "failed", str(exc), None
    finally:
        metrics.INGESTION_SECONDS.observe(time.perf_counter() - started)
    return status, error, summary


def _finish(job_id: str, status: str, error: str | None, summary: dict[str, Any] | None) -> None:
    with session_scope(get_engine()) as session:
        job = session.get(IngestJob, job_id)
        if job is not None:
            job.status, job.error, job.summary = status, error, summary
            job.finished_at = datetime.now(UTC)


def as_dict(job: IngestJob) -> dict[str, object]:
    return {
        "id": job.id,
        "source_id": job.source_id,
        "status": job.status,
        "requested_by": job.requested_by,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "summary": job.summary,
        "error": job.error,
    }
