"""What a server killed midway (``kill -9``, a crash, the machine lost) left behind, put right
when ``sentier serve`` starts.

Ingestion jobs (catalog and FOCUS) run on a thread of the process that accepted them; if that
process dies, their rows stay ``queued`` or ``running`` for ever and their staging files stay
on disk. Each job row and staging directory carries its process's token
(:mod:`sentier.liveness`), so a starting server fails the jobs of dead processes (reason:
interrupted) and removes their staging files, while the work of servers still running beside
it, on this host or another, is left alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, select

from sentier import liveness
from sentier.store import session_scope
from sentier.store.models import IngestJob

log = logging.getLogger("sentier.jobs")

INTERRUPTED = (
    "interrupted: the server running this job stopped before it finished; "
    "nothing of it was stored (request it again)"
)


@dataclass
class Recovered:
    jobs: list[str] = field(default_factory=list)
    staging: list[Path] = field(default_factory=list)


def recover_interrupted(engine: Engine) -> Recovered:
    """Fail the unfinished jobs of dead processes and remove their staging files."""
    from sentier import catalog
    from sentier.analytics import FactStore

    recovered = Recovered()
    with session_scope(engine) as session:
        unfinished = session.scalars(
            select(IngestJob).where(IngestJob.status.in_(("queued", "running")))
        )
        for job in unfinished:
            if liveness.is_dead(job.worker):
                job.status, job.error = "failed", INTERRUPTED
                job.finished_at = datetime.now(UTC)
                recovered.jobs.append(job.id)
    recovered.staging.extend(catalog.pushed.remove_abandoned())
    for dataset in FactStore.default().datasets():
        recovered.staging.extend(dataset.remove_abandoned_staging())
    if recovered.jobs or recovered.staging:
        log.warning(
            "interrupted work recovered: %d job(s) failed, %d staging path(s) removed",
            len(recovered.jobs),
            len(recovered.staging),
        )
    return recovered
