"""``/api/v1/sources`` and ``/api/v1/jobs``: where catalog entities come from, and ingestions.

Registering a path on the server, triggering a re-ingestion and unregistering are for admins.
Pushing a set of descriptors is open to editors for what their groups own: every entity
pushed, replaced or removed by the push must be owned by one of their groups (or a child).
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy import select

from sentier import catalog
from sentier.api import jobs
from sentier.api.deps import DB, Admin, Editor, Viewer, audit_write, deny
from sentier.api.problems import Problem
from sentier.catalog.check import check_paths
from sentier.config import get_settings
from sentier.store.models import CatalogSource, Entity, IngestJob

router = APIRouter(prefix="/api/v1", tags=["sources"])

# Identifiers fit a signed 64-bit integer; larger ones are refused before reaching the database.
SourceId = Annotated[int, PathParam(ge=1, le=2**62)]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_PUSH_FILES = 2000
MAX_PUSH_BYTES = 20 * 1024 * 1024


class SourceIn(BaseModel):
    name: Annotated[str, Field(pattern=_NAME.pattern, description="lower-case identifier")]
    path: Annotated[str, Field(min_length=1, description="file or directory on the server")]


class PushIn(BaseModel):
    name: Annotated[str, Field(pattern=_NAME.pattern)]
    files: Annotated[dict[str, str], Field(description="relative path -> descriptor YAML text")]


class JobOut(BaseModel):
    id: str
    source_id: int | None
    status: str
    requested_by: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    summary: dict[str, Any] | None
    error: str | None


class SourceOut(BaseModel):
    id: int
    name: str
    type: str
    target: str
    last_ingested_at: str | None
    last_status: str | None
    last_summary: dict[str, Any] | None


class Accepted(BaseModel):
    source: SourceOut
    job: str


def _source_out(source: CatalogSource) -> dict[str, Any]:
    return {
        "id": source.id,
        "name": source.name,
        "type": source.type,
        "target": source.target,
        "last_ingested_at": source.last_ingested_at.isoformat()
        if source.last_ingested_at
        else None,
        "last_status": source.last_status,
        "last_summary": source.last_summary,
    }


@router.get("/sources", response_model=list[SourceOut])
def list_sources(principal: Viewer, session: DB) -> list[dict[str, Any]]:
    return [
        _source_out(s) for s in session.scalars(select(CatalogSource).order_by(CatalogSource.name))
    ]


def _get_source(session: Any, source_id: int) -> CatalogSource:
    source = session.get(CatalogSource, source_id)
    if source is None:
        raise Problem(404, f"no source {source_id}", slug="source-not-found")
    return source  # type: ignore[no-any-return]


@router.get("/sources/{source_id}", response_model=SourceOut)
def get_source(source_id: SourceId, principal: Viewer, session: DB) -> dict[str, Any]:
    return _source_out(_get_source(session, source_id))


@router.post("/sources", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
def register_source(
    body: SourceIn, request: Request, principal: Admin, session: DB
) -> dict[str, Any]:
    """Register a path on the server as a catalog source and ingest it in the background."""
    path = Path(body.path).expanduser()
    if not path.exists():
        raise Problem(
            400, f"{body.path}: no such file or directory on the server", slug="path-not-found"
        )
    if session.scalar(select(CatalogSource).where(CatalogSource.name == body.name)):
        raise Problem(409, f"a source named {body.name} already exists", slug="source-exists")
    source = CatalogSource(name=body.name, type="path", target=str(path.resolve()))
    session.add(source)
    session.flush()
    audit_write(request, session, principal, "source.register", body.name, {"path": str(path)})
    session.commit()
    job = jobs.enqueue(source.id, principal.label)
    return {"source": _source_out(source), "job": job}


def _safe_relative(name: str) -> PurePosixPath:
    relative = PurePosixPath(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise Problem(
            400, f"{name}: file names must be relative, without '..'", slug="bad-file-name"
        )
    if not (relative.name.endswith((".yaml", ".yml"))):
        raise Problem(
            400, f"{name}: only .yaml/.yml descriptor files can be pushed", slug="bad-file-name"
        )
    return relative


@router.post("/sources/push", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
def push_source(body: PushIn, request: Request, principal: Editor, session: DB) -> dict[str, Any]:
    """Push a set of descriptor files as one source (replacing its previous content)."""
    if not body.files:
        raise Problem(400, "files: at least one descriptor is needed", slug="empty-push")
    if (
        len(body.files) > MAX_PUSH_FILES
        or sum(len(t) for t in body.files.values()) > MAX_PUSH_BYTES
    ):
        raise Problem(
            413, f"at most {MAX_PUSH_FILES} files and {MAX_PUSH_BYTES // 2**20} MiB per push"
        )
    existing = session.scalar(select(CatalogSource).where(CatalogSource.name == body.name))
    if existing is not None and existing.type != "push":
        raise Problem(
            409,
            f"source {body.name} is a registered path, not a pushed source",
            slug="source-exists",
        )
    root = Path(get_settings().home) / "pushed"
    staging = root / f".staging-{uuid.uuid4().hex}"
    try:
        for name, text in body.files.items():
            target = staging / _safe_relative(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        result = check_paths([staging / n for n in body.files], boundary=staging)
        refused = _refused(session, principal, staging, existing)
        if refused:
            deny(
                request,
                principal,
                "not owned by your groups: " + ", ".join(refused[:20]),
                body.name,
            )
        final = root / body.name
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    # Every pushed file is a root, whatever its name (a directory walk would only see
    # catalog-info.yaml and *.catalog.yaml).
    roots = "\n".join(str(final / _safe_relative(name)) for name in sorted(body.files))
    if existing is None:
        existing = CatalogSource(name=body.name, type="push", target=roots)
        session.add(existing)
        session.flush()
    else:
        existing.target = roots
    audit_write(
        request,
        session,
        principal,
        "source.push",
        body.name,
        {"files": len(body.files), "entities": result.entities, "errors": len(result.errors)},
    )
    session.commit()
    job = jobs.enqueue(existing.id, principal.label)
    return {"source": _source_out(existing), "job": job}


def _refused(
    session: Any, principal: Any, staging: Path, existing: CatalogSource | None
) -> list[str]:
    """Entity refs this push would create, change or remove without the right to."""
    if principal.has_role("admin"):
        return []
    from sentier.catalog import read_descriptor

    pushed: dict[str, str | None] = {}
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            for entity in read_descriptor(path, path.read_bytes(), root=staging).entities:
                pushed[entity.key] = entity.owner_ref
    refused = [
        ref for ref, owner in pushed.items() if not principal.may_write_owned_by(session, owner)
    ]
    current = session.execute(
        select(Entity.ref, Entity.owner_ref).where(Entity.ref.in_(list(pushed)))
    ).all()
    refused += [ref for ref, owner in current if not principal.may_write_owned_by(session, owner)]
    if existing is not None:
        gone = session.execute(
            select(Entity.ref, Entity.owner_ref).where(Entity.source_id == existing.id)
        ).all()
        refused += [
            ref
            for ref, owner in gone
            if ref not in pushed and not principal.may_write_owned_by(session, owner)
        ]
    return sorted(set(refused))


@router.post(
    "/sources/{source_id}/refresh", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted
)
def refresh_source(
    source_id: SourceId, request: Request, principal: Admin, session: DB
) -> dict[str, Any]:
    """Re-ingest a source now (ingestion is a reconciliation: only changes are written)."""
    source = _get_source(session, source_id)
    audit_write(request, session, principal, "source.refresh", source.name)
    session.commit()
    return {"source": _source_out(source), "job": jobs.enqueue(source.id, principal.label)}


@router.delete("/sources/{source_id}")
def unregister_source(
    source_id: SourceId, request: Request, principal: Admin, session: DB
) -> dict[str, Any]:
    """Unregister a source; its entities are removed (each with a ``removed`` event)."""
    source = _get_source(session, source_id)
    name = source.name
    removed = catalog.remove_source(session, source_id)
    audit_write(request, session, principal, "source.unregister", name, {"removed": removed})
    session.commit()
    if (Path(get_settings().home) / "pushed" / name).exists():
        shutil.rmtree(Path(get_settings().home) / "pushed" / name, ignore_errors=True)
    return {"source": name, "removed": removed}


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, principal: Viewer, session: DB) -> dict[str, Any]:
    job = session.get(IngestJob, job_id)
    if job is None:
        raise Problem(404, f"no job {job_id}", slug="job-not-found")
    out = jobs.as_dict(job)
    if not (principal.has_role("admin") or job.requested_by == principal.label):
        out["requested_by"] = None  # token ids are for admins (and the requester)
    return out
