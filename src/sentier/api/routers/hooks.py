"""``/api/v1/hooks/...``: inbound hooks (Alertmanager, CloudEvents, git pushes), their
management (``/api/v1/inbound-hooks``, admins) and what they stored (``/api/v1/inbound``).

Hooks are called by machines that hold no sentier token (Alertmanager, a git server): they
authenticate with the hook's own bearer token or HMAC signature (failures are audited and rate
limited like any failed authentication). A bearer ``snt_...`` API token (or an OIDC JWT) is
accepted too; the caller then needs the editor role (admin for git, which re-ingests a catalog
source). ``/api/v1/hooks/{kind}`` posts to the hook named like its kind,
``/api/v1/hooks/{kind}/{name}`` to any other hook of that kind. Bodies are read raw (HMACs are
computed over the exact bytes), schema-validated by the domain and stored once per sender id.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from sentier import auth, events
from sentier.api.deps import DB, Admin, Viewer, _fail, audit_write, authenticate, client_ip
from sentier.api.problems import Problem
from sentier.api.views.events import NO_NUL, Instant, domain_errors, problem_of
from sentier.auth import Principal
from sentier.config import get_settings
from sentier.events import MAX_BODY_BYTES, EventsError
from sentier.store import get_engine, session_factory

log = logging.getLogger("sentier.api.hooks")
router = APIRouter(tags=["hooks"])  # mounted under /api/v1 by routers.events

HookName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,64}$")]


class HookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    kind: Literal["alertmanager", "cloudevents", "git"]
    auth: Literal["token", "hmac"] = "token"
    source: Annotated[
        str | None,
        Field(min_length=1, max_length=255, pattern=NO_NUL, description="git: source to ingest"),
    ] = None


class MessageOut(BaseModel):
    id: int
    hook: str
    kind: str
    sender_id: str
    received_at: Instant
    status: str
    result: dict[str, Any] | None
    duplicate: bool


class InboundOut(MessageOut):
    payload: dict[str, Any] | None
    headers: dict[str, Any]


class HookOut(BaseModel):
    name: str
    kind: str
    auth: str
    source: str | None
    created_at: Instant


class HookCreated(HookOut):
    token: Annotated[str | None, Field(description="bearer token, shown this once")] = None
    secret: Annotated[str | None, Field(description="HMAC secret, shown this once")] = None


# -- inbound hooks: management and stored messages -----------------------------------------


@router.get("/inbound-hooks", response_model=list[HookOut], summary="Inbound hooks")
def list_hooks(principal: Admin, session: DB) -> list[dict[str, Any]]:
    return events.list_hooks(session)


@router.post("/inbound-hooks", status_code=status.HTTP_201_CREATED, response_model=HookCreated)
def create_hook(body: HookIn, request: Request, principal: Admin, session: DB) -> dict[str, Any]:
    """Create an inbound hook; its bearer token or HMAC secret is in the answer, this once."""
    with domain_errors():
        created = events.add_hook(session, body.name, body.kind, auth=body.auth, source=body.source)
    audit_write(
        request,
        session,
        principal,
        "hook.create",
        body.name,
        {"kind": body.kind, "auth": body.auth, "source": body.source},
    )
    session.commit()
    return created


@router.delete("/inbound-hooks/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_hook(name: HookName, request: Request, principal: Admin, session: DB) -> Response:
    with domain_errors():
        events.remove_hook(session, name)
    audit_write(request, session, principal, "hook.delete", name)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/inbound", response_model=list[InboundOut], summary="Stored inbound messages")
def list_inbound(
    principal: Viewer,
    session: DB,
    kind: Literal["alertmanager", "cloudevents", "git"] | None = None,
    unconsumed: bool = False,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """What the hooks received, in arrival order, as parsed payloads (credentials removed)."""
    return events.list_inbound(session, kind=kind, unconsumed=unconsumed, after=after, limit=limit)


# -- inbound hooks: receiving ----------------------------------------------------------------


async def raw_body(request: Request) -> bytes:
    """The request body, refused past the hooks' size limit before it is all read."""
    limit = MAX_BODY_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Problem(413, f"body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(raw_body)]


def api_caller(request: Request, session: DB) -> Principal | None:
    """The sentier principal of a hook call made with an API token or OIDC JWT, else None
    (the hook then checks its own credential)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    settings = get_settings()
    jwt_like = credential.count(".") == 2 and auth.oidc_configured(settings)
    if not credential.startswith("snt_") and not jwt_like:
        return None
    principal = authenticate(request, session, settings)
    request.state.principal = principal
    return principal


ApiCaller = Annotated[Principal | None, Depends(api_caller)]


def _headers(request: Request) -> dict[str, str]:
    return {key: value for key, value in request.headers.items()}


def _deny(request: Request, principal: Principal, reason: str, hook: str) -> None:
    """Record a refused hook call and answer 403 (the action names the hook, whose path may be
    longer than an audit action)."""
    session = session_factory(get_engine())()
    try:
        auth.audit(
            session,
            actor=principal.label,
            action="hook.receive",
            outcome="denied",
            target=hook,
            ip=client_ip(request, get_settings()),
            user_agent=request.headers.get("user-agent"),
            details={"reason": reason},
        )
        session.commit()
    finally:
        session.close()
    raise Problem(403, reason)


def _receive(
    request: Request,
    session: DB,
    caller: Principal | None,
    kind: str,
    name: str,
    receive: Any,
) -> Any:
    """Authenticate, call the domain's ``receive``, audit, commit; the domain's result."""
    if caller is not None:
        needed: Literal["editor", "admin"] = "admin" if kind == "git" else "editor"
        if not caller.has_role(needed):
            _deny(request, caller, f"posting to a {kind} hook requires the {needed} role", name)
    try:
        result = receive(caller.label if caller else None)
    except EventsError as error:
        if error.code == "unauthorized":
            session.rollback()
            raise _fail(request, get_settings(), str(error)) from error
        raise problem_of(error) from error
    items = result if isinstance(result, list) else [result]
    details = {
        "kind": kind,
        "count": len(items),
        "messages": [item["id"] for item in items[:100]],
        "duplicates": sum(1 for item in items if item["duplicate"]),
    }
    if caller is not None:
        audit_write(request, session, caller, "hook.receive", name, details)
    else:
        auth.audit(
            session,
            actor=f"hook:{name}",
            action="hook.receive",
            outcome="ok",
            target=name,
            ip=client_ip(request, get_settings()),
            user_agent=request.headers.get("user-agent"),
            details=details,
        )
    session.commit()
    return result


def _status(response: Response, items: list[dict[str, Any]]) -> None:
    """202 when something new was stored, 200 when the sender repeated itself."""
    new = any(not item["duplicate"] for item in items)
    response.status_code = status.HTTP_202_ACCEPTED if new else status.HTTP_200_OK


def _body_doc(schema: dict[str, Any] | None, *media: str) -> dict[str, Any]:
    content_schema = schema or {"type": "object"}
    return {
        "requestBody": {
            "required": True,
            "content": {m: {"schema": content_schema} for m in media},
        }
    }


_CLOUDEVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "minLength": 1},
        "source": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "subject": {"type": "string"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string"},
        "data": {},
    },
}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    200: {"description": "already received (the sender's id is known)"}
}


def _alertmanager(
    name: str,
    request: Request,
    response: Response,
    session: DB,
    body: bytes,
    caller: Principal | None,
) -> dict[str, Any]:
    result: dict[str, Any] = _receive(
        request,
        session,
        caller,
        "alertmanager",
        name,
        lambda who: events.receive_alertmanager(
            session, _headers(request), body, hook=name, principal=who
        ),
    )
    _status(response, [result])
    return result


@router.post(
    "/hooks/alertmanager",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=_ACCEPTED,
    openapi_extra=_body_doc(events.payload_schema("alertmanager"), "application/json"),
    summary="Prometheus Alertmanager webhook (v4)",
)
def alertmanager_hook(
    request: Request, response: Response, session: DB, body: RawBody, caller: ApiCaller
) -> dict[str, Any]:
    """An Alertmanager notification to the hook named ``alertmanager``, stored for AIOps.

    Idempotent: the same notification sent again is stored once.
    """
    return _alertmanager("alertmanager", request, response, session, body, caller)


@router.post(
    "/hooks/alertmanager/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=_ACCEPTED,
    openapi_extra=_body_doc(events.payload_schema("alertmanager"), "application/json"),
    summary="Prometheus Alertmanager webhook (v4) to a named hook",
)
def alertmanager_named_hook(
    name: HookName,
    request: Request,
    response: Response,
    session: DB,
    body: RawBody,
    caller: ApiCaller,
) -> dict[str, Any]:
    return _alertmanager(name, request, response, session, body, caller)


def _cloudevents(
    name: str,
    request: Request,
    response: Response,
    session: DB,
    body: bytes,
    caller: Principal | None,
) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = _receive(
        request,
        session,
        caller,
        "cloudevents",
        name,
        lambda who: events.receive_cloudevents(
            session, _headers(request), body, hook=name, principal=who
        ),
    )
    _status(response, result)
    return result


_CE_BODY = _body_doc(_CLOUDEVENT_SCHEMA, "application/cloudevents+json", "application/json")


@router.post(
    "/hooks/cloudevents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=list[MessageOut],
    responses=_ACCEPTED,
    openapi_extra=_CE_BODY,
    summary="CloudEvents (structured, binary or batch mode)",
)
def cloudevents_hook(
    request: Request, response: Response, session: DB, body: RawBody, caller: ApiCaller
) -> list[dict[str, Any]]:
    """CloudEvents to the hook named ``cloudevents``: structured (``application/cloudevents+
    json``), binary (``ce-*`` headers, the body is the data) or batch mode. Idempotent on each
    event's ``source`` + ``id``."""
    return _cloudevents("cloudevents", request, response, session, body, caller)


@router.post(
    "/hooks/cloudevents/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=list[MessageOut],
    responses=_ACCEPTED,
    openapi_extra=_CE_BODY,
    summary="CloudEvents to a named hook",
)
def cloudevents_named_hook(
    name: HookName,
    request: Request,
    response: Response,
    session: DB,
    body: RawBody,
    caller: ApiCaller,
) -> list[dict[str, Any]]:
    return _cloudevents(name, request, response, session, body, caller)


def _reingest(message_id: int) -> None:
    """After the push is committed: re-ingest its source (once per push, whatever happens)."""
    try:
        events.reingest_pushed_source(get_engine(), message_id)
    except EventsError as error:
        log.warning("git push %s: %s", message_id, error)


def _git(
    name: str,
    source: str | None,
    request: Request,
    response: Response,
    session: DB,
    body: bytes,
    caller: Principal | None,
    tasks: BackgroundTasks,
) -> dict[str, Any]:
    result: dict[str, Any] = _receive(
        request,
        session,
        caller,
        "git",
        name,
        lambda who: events.receive_git_push(
            session, _headers(request), body, hook=name, source=source, principal=who
        ),
    )
    _status(response, [result])
    if not result["duplicate"]:
        tasks.add_task(_reingest, result["id"])
    return result


SourceName = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=255,
        pattern=NO_NUL,
        description="catalog source to re-ingest, when neither the payload nor the hook names one",
    ),
]


@router.post(
    "/hooks/git",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=_ACCEPTED,
    openapi_extra=_body_doc(events.payload_schema("git"), "application/json"),
    summary="Git push notification: re-ingest a registered catalog source",
)
def git_hook(
    request: Request,
    response: Response,
    session: DB,
    body: RawBody,
    caller: ApiCaller,
    tasks: BackgroundTasks,
    source: SourceName = None,
) -> dict[str, Any]:
    """A push (GitHub, Gitea, GitLab or ``{"source": NAME}``) to the hook named ``git``; the
    source is re-ingested after the answer, once per delivery id."""
    return _git("git", source, request, response, session, body, caller, tasks)


@router.post(
    "/hooks/git/{name}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=MessageOut,
    responses=_ACCEPTED,
    openapi_extra=_body_doc(events.payload_schema("git"), "application/json"),
    summary="Git push notification to a named hook",
)
def git_named_hook(
    name: HookName,
    request: Request,
    response: Response,
    session: DB,
    body: RawBody,
    caller: ApiCaller,
    tasks: BackgroundTasks,
    source: SourceName = None,
) -> dict[str, Any]:
    return _git(name, source, request, response, session, body, caller, tasks)
