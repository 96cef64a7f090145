"""Background billing ingestions requested through the API, and the steering that follows them.

Like catalog ingestions (``api.jobs``), the job's state is a row of ``ingest_jobs`` (``action``
``finops.ingest``), so any worker answers ``GET /api/v1/jobs/{id}``; the work runs on a thread
of this process. Once billing landed, anomalies are detected and budgets checked, so their
events go out without anyone having to open a page.
"""

from __future__ import annotations

import logging
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentier import liveness
from sentier.api.problems import Problem
from sentier.store import get_engine, retry_transient, session_scope
from sentier.store.models import IngestJob

ACTION = "finops.ingest"
# A path naming a whole disk by mistake is refused rather than walked for minutes.
MAX_ENTRIES = 50_000
MAX_PROBLEMS = 200

_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sentier-finops")
log = logging.getLogger("sentier.jobs")


def billing_files(paths: list[str]) -> list[Path]:
    """The billing files under ``paths`` (files or directories on the server), or a 400."""
    from sentier.finops.sources import is_billing_file

    found: list[Path] = []
    seen = 0
    for text in paths:
        try:
            path = Path(text).expanduser()
            exists, is_dir = path.exists(), path.is_dir()
        except (OSError, ValueError) as error:
            raise Problem(400, f"{text!r}: not a usable path ({error})", slug="bad-path") from error
        if not exists:
            raise Problem(400, f"{text}: no such file or directory on the server", slug="bad-path")
        if not is_dir:
            if not is_billing_file(path):
                raise Problem(
                    400,
                    f"{text}: not a billing file (expected .csv, .csv.gz or .parquet)",
                    slug="bad-path",
                )
            found.append(path.resolve())
            continue
        for root, directories, files in os.walk(path):
            directories.sort()
            seen += len(directories) + len(files)
            if seen > MAX_ENTRIES:
                raise Problem(
                    400,
                    f"{text}: more than {MAX_ENTRIES:,} entries below it; "
                    "name the directory of the billing exports",
                    slug="bad-path",
                )
            found.extend(
                (Path(root) / name).resolve()
                for name in sorted(files)
                if is_billing_file(Path(root) / name)
            )
    if not found:
        raise Problem(
            400,
            f"no billing files (.csv, .csv.gz, .parquet) in {', '.join(paths)}",
            slug="no-billing-files",
        )
    return sorted(set(found))


def enqueue(
    files: list[Path],
    *,
    provider_format: str,
    currency: str | None,
    requested_by: str,
    run_inline: bool = False,
) -> str:
    """Record a job for ingesting ``files`` and start it; returns the job id."""
    job_id = str(uuid.uuid4())
    with session_scope(get_engine()) as session:
        session.add(
            IngestJob(
                id=job_id,
                source_id=None,
                action=ACTION,
                requested_by=requested_by,
                worker=liveness.current(),
                summary={
                    "files": [str(f) for f in files],
                    "provider_format": provider_format,
                    "currency": currency,
                },
            )
        )
    if run_inline:
        run(job_id)
    else:
        _executor.submit(run, job_id)
    return job_id


def run(job_id: str) -> None:
    """Run the job; like catalog jobs (``api.jobs.run``), a database restart or lock conflict
    is waited out (the ingestion is idempotent: done again, it replaces the same slices) and
    the outcome is recorded once the database answers, never left "running"."""
    what = f"billing ingestion job {job_id}"
    try:
        request = retry_transient(lambda: _start(job_id), what=what)
        if request is None:
            return
        status, error, summary = _ingest(job_id, request)
        retry_transient(lambda: _finish(job_id, status, error, summary), what=what)
    except Exception:
        log.exception("%s: could not be run or recorded", what)
        return
    if "steering" in summary:
        warm_up()


def _start(job_id: str) -> dict[str, Any] | None:
    with session_scope(get_engine()) as session:
        job = session.get(IngestJob, job_id)
        if job is None or job.action != ACTION:
            return None
        job.status, job.started_at = "running", datetime.now(UTC)
        return dict(job.summary or {})


def _ingest(job_id: str, request: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    from sentier.finops import FinOpsError, ingest
    from sentier.finops.tags import plan_or_default
    from sentier.tagging import TaggingError

    summary: dict[str, Any] = {"request": request}
    error: str | None = None
    try:
        report = retry_transient(
            lambda: ingest(
                get_engine(),
                [Path(p) for p in request.get("files", [])],
                provider_format=str(request.get("provider_format") or "focus"),
                tagging_plan=plan_or_default(),
                default_currency=request.get("currency"),
            ),
            what=f"billing ingestion job {job_id}",
            budget_seconds=120,
        )
        result = report.as_dict()
        for item in result["files"]:
            item["problems"] = item["problems"][:MAX_PROBLEMS]
        summary.update(result)
        status = "succeeded" if report.ok else "failed"
        if report.rows:
            summary["steering"] = steer()
    except (FinOpsError, TaggingError) as exc:
        status, error = "failed", str(exc)
    except Exception as exc:
        log.exception("billing ingestion job %s failed", job_id)
        status, error = "failed", f"unexpected error: {exc.__class__.__name__}"
    return status, error, summary


def _finish(job_id: str, status: str, error: str | None, summary: dict[str, Any]) -> None:
    with session_scope(get_engine()) as session:
        job = session.get(IngestJob, job_id)
        if job is not None:
            job.status, job.error, job.summary = status, error, summary
            job.finished_at = datetime.now(UTC)


def steer() -> dict[str, Any]:
    """Anomalies and budgets after new billing (``finops.steering``), on the server's rules.

    A failure here (rules the server cannot read, say) is reported in the job, not raised: the
    billing itself has landed.
    """
    from sentier.analytics import duckdb_connection
    from sentier.api.views.finops import catalog_snapshot
    from sentier.finops import Facts, FinOpsError, load_rules
    from sentier.finops.steering import steer as run_steering
    from sentier.tagging import TaggingError

    try:
        with session_scope(get_engine()) as session:
            rules = load_rules()
            facts = Facts(duckdb_connection())
            try:
                return run_steering(session, facts, catalog_snapshot(session), rules)
            finally:
                facts.con.disconnect()
    except (FinOpsError, TaggingError) as exc:
        return {"error": str(exc)}


def warm_up() -> None:
    """Compute the FinOps overview (allocation, daily series, forecasts, budgets) into this
    process's report cache, so the first visitor of the portal does not wait for it."""
    from sentier.analytics import FactStore
    from sentier.api.views import finops as views
    from sentier.finops.ingest import DATASET

    try:
        if not FactStore.default().dataset(DATASET).manifest().periods():
            return
        with session_scope(get_engine()) as session, views.open_inputs(session) as inputs:
            views.overview(session, inputs)
    except Exception:
        log.warning("FinOps report warm-up failed", exc_info=True)


class WarmingUp:
    """A background starter (``api.background``): warms the report cache when serving starts."""

    def __init__(self) -> None:
        self.thread = threading.Thread(target=warm_up, name="sentier-finops-warm", daemon=True)
        self.thread.start()

    async def stop(self) -> None:
        """Nothing to interrupt: the thread only fills a cache, and is a daemon."""


def start_warm_up() -> WarmingUp | None:
    from sentier.analytics import FactStore
    from sentier.finops.ingest import DATASET

    if not FactStore.default().dataset(DATASET).manifest().periods():
        return None
    return WarmingUp()
