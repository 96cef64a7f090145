"""``/api/v1/tokens`` and ``/api/v1/audit``: token management and the audit trail (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, Field

from sentier import auth
from sentier.api.deps import DB, Admin, CurrentPrincipal, audit_write
from sentier.api.problems import Problem
from sentier.auth import Role
from sentier.store.models import ApiToken, AuditEvent

router = APIRouter(prefix="/api/v1", tags=["admin"])


def _duration(text: str | None) -> timedelta | None:
    try:
        return auth.parse_duration(text) if text else None
    except ValueError as error:
        raise Problem(400, f"expires: {error}", slug="bad-duration") from error


class TokenIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=255)]
    role: Role
    groups: list[str] = Field(default_factory=list)
    expires: Annotated[str | None, Field(description="e.g. 30d, 12h", pattern=r"^\d+[mhdw]$")] = (
        None
    )


class TokenOut(BaseModel):
    id: str
    name: str
    role: str
    groups: list[str]
    created_at: str
    created_by: str | None
    expires_at: str | None
    revoked_at: str | None
    status: str


class TokenCreated(TokenOut):
    token: Annotated[str, Field(description="shown once; store it now")]


class AuditOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    target: str | None
    outcome: str
    ip: str | None
    user_agent: str | None
    details: dict[str, Any] | None


class Me(BaseModel):
    kind: str
    id: str
    name: str
    role: str
    groups: list[str]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _token_out(row: ApiToken) -> dict[str, Any]:
    now = datetime.now(UTC)
    expires = (
        row.expires_at.replace(tzinfo=UTC)
        if row.expires_at and not row.expires_at.tzinfo
        else row.expires_at
    )
    state = "revoked" if row.revoked_at else "expired" if expires and expires <= now else "active"
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "groups": list(row.groups or []),
        "created_at": _iso(row.created_at) or "",
        "created_by": row.created_by,
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "status": state,
    }


@router.get("/me", response_model=Me)
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """Who the credentials of this request stand for."""
    return {
        "kind": principal.kind,
        "id": principal.id,
        "name": principal.name,
        "role": principal.role,
        "groups": list(principal.groups),
    }


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(principal: Admin, session: DB) -> list[dict[str, Any]]:
    return [_token_out(row) for row in auth.list_tokens(session)]


@router.post("/tokens", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
def create_token(body: TokenIn, request: Request, principal: Admin, session: DB) -> dict[str, Any]:
    """Create a token; its secret is in this response only."""
    issued = auth.create_token(
        session,
        name=body.name,
        role=body.role,
        groups=body.groups,
        expires_in=_duration(body.expires),
        created_by=principal.label,
    )
    audit_write(
        request,
        session,
        principal,
        "token.create",
        issued.id,
        {"name": body.name, "role": body.role, "groups": body.groups},
    )
    session.commit()
    row = session.get(ApiToken, issued.id)
    assert row is not None
    return {**_token_out(row), "token": issued.secret}


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: str, request: Request, principal: Admin, session: DB) -> dict[str, Any]:
    try:
        row = auth.revoke_token(session, token_id)
    except auth.TokenError as error:
        raise Problem(404, str(error), slug="token-not-found") from error
    audit_write(request, session, principal, "token.revoke", token_id)
    session.commit()
    return _token_out(row)


@router.get("/audit", response_model=list[AuditOut])
def audit_log(
    principal: Admin,
    session: DB,
    action: str | None = None,
    actor: str | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**62, description="id of the oldest event already seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """The audit trail, newest first (append-only: nothing here can be edited or deleted)."""
    return [
        _audit_out(e)
        for e in auth.list_audit(session, action=action, actor=actor, before_id=before, limit=limit)
    ]


def _audit_out(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "details": event.details,
    }
