"""Health and readiness (open to load balancers, revealing nothing) and metrics (authenticated)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from sentier.api import metrics
from sentier.api.deps import Viewer

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz() -> JSONResponse:
    """Ready when the database answers and carries every migration this code knows."""
    from sentier.store import get_engine, is_current

    try:
        current = is_current(get_engine())
    except Exception:  # noqa: BLE001 - any database failure means "not ready"
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    if not current:
        return JSONResponse(
            {"status": "unavailable", "database": "migrations pending"}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/metrics", response_class=Response)
def prometheus(principal: Viewer) -> Response:
    """Prometheus text exposition (authenticated: give Prometheus a viewer token)."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
