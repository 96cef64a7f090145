"""``/api/v1/sources`` and ``/api/v1/jobs``: where catalog entities come from, and ingestions.

Registering a path on the server, triggering a re-ingestion and unregistering are for admins.
Pushing a set of descriptors is open to editors for what their groups own: every entity
pushed, replaced or removed by the push must be owned by one of their groups (or a child).
"""

from __future__ import annotations

import re
import time
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Request, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier import catalog
from sentier.api import jobs
from sentier.api.deps import DB, Admin, Editor, Viewer, audit_write, deny
from sentier.api.problems import Problem
from sentier.auth import Principal
from sentier.store import get_engine, session_factory
from sentier.store.models import CatalogSource, Entity, IngestJob

router = APIRouter(prefix="/api/v1", tags=["sources"])

# Identifiers fit a signed 64-bit integer; larger ones are refused before reaching the database.
SourceId = Annotated[int, PathParam(ge=1, le=2**62)]
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


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
    last_error: str | None = Field(
        None, description="why the last ingestion failed as a whole (e.g. its path vanished)"
    )


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
        "last_error": (source.last_summary or {}).get("error"),
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
    """Register a path on the server as a catalog source and ingest it in the background.

    A path another source already covers (the same, or one inside the other) is refused with
    409, naming that source: two sources reading the same files would conflict on every entity.
    """
    try:
        path = Path(body.path).expanduser()
        exists = path.exists()
    except (OSError, ValueError) as error:
        raise Problem(400, f"path: not a usable path ({error})", slug="path-not-found") from error
    if not exists:
        raise Problem(
            400, f"{body.path}: no such file or directory on the server", slug="path-not-found"
        )
    if session.scalar(select(CatalogSource).where(CatalogSource.name == body.name)):
        raise Problem(409, f"a source named {body.name} already exists", slug="source-exists")
    source, job = register_path(request, session, principal, body.name, path)
    return {"source": _source_out(source), "job": job}


def register_path(
    request: Request,
    session: Any,
    principal: Any,
    name: str,
    path: Path,
    details: dict[str, object] | None = None,
) -> tuple[CatalogSource, str]:
    """Register an existing server path as source ``name`` (audited) and start its ingestion.

    A path another source already covers is refused with 409 naming that source.
    """
    try:
        catalog.source_for(session, [path], name)
    except catalog.SourceOverlap as overlap:
        raise Problem(409, str(overlap), slug="source-overlap", source=overlap.source) from None
    source = CatalogSource(name=name, type="path", target=str(path.resolve()))
    session.add(source)
    session.flush()
    audit_write(
        request, session, principal, "source.register", name, {"path": str(path), **(details or {})}
    )
    session.commit()
    return source, jobs.enqueue(source.id, principal.label)


# A refused push answers with the status its reason calls for.
_REFUSAL_STATUS = {"too-large": 413, "bad-file-name": 400, "empty-push": 400}


def _refusal(refused: catalog.CatalogError) -> Problem:
    """A refused push as a problem document: ``a.yaml:12: metadata.name: duplicate ...``,
    or ``files["x"]: ...`` for what is not inside a file."""
    problem = refused.problem
    detail = (
        str(problem) if problem.file else ": ".join(filter(None, (problem.field, problem.message)))
    )
    return Problem(_REFUSAL_STATUS.get(problem.code, 422), detail, slug=problem.code)


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"a push may be at most {limit:,} bytes of JSON")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"a push may be at most {limit:,} bytes of JSON")
        chunks.append(chunk)
    return b"".join(chunks)


def _push_body(raw: bytes) -> PushIn:
    try:
        return PushIn.model_validate_json(raw)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", *(catalog.pushed.shown(str(part)) for part in e["loc"])),
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in error.errors(include_url=False, include_input=False)
            ]
        ) from None


_PUSH_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": PushIn.model_json_schema()}},
    }
}


@router.post(
    "/sources/push",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    openapi_extra=_PUSH_BODY,
)
async def push_source(request: Request, principal: Editor) -> dict[str, Any]:
    """Push a set of descriptor files as one source (replacing its previous content).

    The body is bounded before it is read in full, then everything else (parsing each file
    once, checking rights, swapping the files in) runs on a worker thread, off the event loop.
    """
    raw = await _bounded_body(request, catalog.pushed.MAX_BODY_BYTES)
    return await run_in_threadpool(_push, raw, request, principal)


def _push(raw: bytes, request: Request, principal: Principal) -> dict[str, Any]:
    body = _push_body(raw)
    pushed = catalog.pushed
    try:
        files = pushed.check_files(body.files)
    except catalog.PushRefused as refused:
        raise _refusal(refused) from None
    deadline = time.monotonic() + pushed.READ_BUDGET_SECONDS
    with pushed.staging() as staging:
        try:
            read = pushed.read_files(staging, files, deadline=deadline)
        except catalog.PushRefused as refused:
            raise _refusal(refused) from None
        session = session_factory(get_engine())()
        try:
            with pushed.lock():
                source = _record_push(session, request, principal, body.name, files, read)
                directory = pushed.source_directory(source.type, source.target)
                assert directory is not None  # roots_in() put every root inside it
                with pushed.installed(staging, directory):
                    session.commit()
            out = _source_out(source)
        finally:
            session.close()
    return {"source": out, "job": jobs.enqueue(out["id"], principal.label)}


def _record_push(
    session: Session,
    request: Request,
    principal: Principal,
    name: str,
    files: dict[PurePosixPath, bytes],
    read: catalog.pushed.PushRead,
) -> CatalogSource:
    """The pushed source with its new roots, and the audit row (not committed yet)."""
    existing = session.scalar(select(CatalogSource).where(CatalogSource.name == name))
    if existing is not None and existing.type != "push":
        raise Problem(
            409, f"source {name} is a registered path, not a pushed source", slug="source-exists"
        )
    refused = _refused(session, principal, read.entities, existing)
    if refused:
        deny(request, principal, "not owned by your groups: " + ", ".join(refused[:20]), name)
    directory = None
    if existing is not None:
        directory = catalog.pushed.source_directory(existing.type, existing.target)
    roots = catalog.pushed.roots_in(directory or catalog.pushed.new_directory(), list(files))
    if existing is None:
        existing = CatalogSource(name=name, type="push", target=roots)
        session.add(existing)
    else:
        existing.target = roots
    session.flush()
    errors = [p for p in read.problems if p.severity == "error"]
    audit_write(
        request,
        session,
        principal,
        "source.push",
        name,
        {"files": len(files), "entities": len(read.entities), "errors": len(errors)},
    )
    return existing


def _refused(
    session: Any,
    principal: Principal,
    entities: list[catalog.ParsedEntity],
    existing: CatalogSource | None,
) -> list[str]:
    """Entity refs this push would create, change or remove without the right to: judged on
    the very entities the ingestion will store (each defined once in the push)."""
    if principal.has_role("admin"):
        return []
    pushed = {entity.key: entity.owner_ref for entity in entities}
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
    """Unregister a source; its entities are removed (each with a ``removed`` event).

    A pushed source's files go too, once the removal is committed; nothing else on the disk
    is ever removed (a registered path is only read, never deleted).
    """
    source = _get_source(session, source_id)
    return {"source": source.name, "removed": unregister(request, session, principal, source)}


def unregister(request: Request, session: Any, principal: Any, source: CatalogSource) -> int:
    """Unregister a source (audited): its entities go, and a pushed set's files; how many went."""
    name = source.name
    directory = catalog.pushed.source_directory(source.type, source.target)
    removed = catalog.remove_source(session, source.id)
    audit_write(request, session, principal, "source.unregister", name, {"removed": removed})
    session.commit()
    catalog.pushed.discard(directory)
    return removed


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, principal: Viewer, session: DB) -> dict[str, Any]:
    job = session.get(IngestJob, job_id)
    if job is None:
        raise Problem(404, f"no job {job_id}", slug="job-not-found")
    out = jobs.as_dict(job)
    if not (principal.has_role("admin") or job.requested_by == principal.label):
        out["requested_by"] = None  # token ids are for admins (and the requester)
    return out
