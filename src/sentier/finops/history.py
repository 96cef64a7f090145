"""What was ingested, from where, and what was quarantined: plain rows from the bookkeeping."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.store.models import FinopsFile, FinopsIngestion, FinopsSlice


def ingestion_history(session: Session, *, limit: int = 20) -> list[dict[str, Any]]:
    """The last ``limit`` ingestion runs, newest first, each with its files and their problems."""
    runs = session.scalars(
        select(FinopsIngestion).order_by(FinopsIngestion.id.desc()).limit(limit)
    ).all()
    out = []
    for run in runs:
        files = session.scalars(
            select(FinopsFile).where(FinopsFile.ingestion_id == run.id).order_by(FinopsFile.id)
        ).all()
        out.append(
            {
                "id": run.id,
                "started_at": run.started_at,
                "status": run.status,
                "provider_format": run.provider_format,
                "rows": run.rows,
                "summary": run.summary,
                "files": [
                    {
                        "path": f.path,
                        "sha256": f.sha256,
                        "status": f.status,
                        "focus_version": f.focus_version,
                        "rows": f.rows,
                        "periods": f.periods,
                        "problems": f.problems or [],
                        "totals": f.totals,
                    }
                    for f in files
                ],
            }
        )
    return out


def stored_slices(session: Session) -> list[dict[str, Any]]:
    """The billing periods and accounts currently stored, with their totals."""
    rows = session.scalars(select(FinopsSlice).order_by(FinopsSlice.period, FinopsSlice.slice_id))
    return [
        {
            "period": r.period,
            "provider": r.provider,
            "billing_account": r.billing_account,
            "rows": r.rows,
            "totals": r.totals,
            "ingestion_id": r.ingestion_id,
            "updated_at": r.updated_at,
        }
        for r in rows
    ]
