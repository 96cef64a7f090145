"""Miner state in the store: a named snapshot saved after a run and reloaded before the next."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.aiops.logs.miner import MinerSettings, TemplateMiner
from sentier.store.models import LogMinerState, utcnow


def load_miner(session: Session, name: str, settings: MinerSettings | None = None) -> TemplateMiner:
    """The miner saved under ``name``, or a fresh one when there is none yet."""
    row = session.scalar(select(LogMinerState).where(LogMinerState.name == name))
    if row is None:
        return TemplateMiner(settings)
    return TemplateMiner.restore(row.snapshot, settings)


def save_miner(session: Session, name: str, miner: TemplateMiner) -> None:
    """Store (or replace) the snapshot of ``name`` in the session's transaction."""
    snapshot = miner.snapshot()
    row = session.scalar(select(LogMinerState).where(LogMinerState.name == name))
    if row is None:
        row = LogMinerState(name=name, snapshot=snapshot)
        session.add(row)
    row.snapshot = snapshot
    row.lines = miner.lines
    row.templates = len(miner)
    row.updated_at = utcnow()
    session.flush()


def list_miners(session: Session) -> list[dict[str, object]]:
    rows = session.scalars(select(LogMinerState).order_by(LogMinerState.name))
    return [
        {"name": r.name, "lines": r.lines, "templates": r.templates, "updated_at": r.updated_at}
        for r in rows
    ]
