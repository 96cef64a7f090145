"""Who calls a tool, and what they may do: the API's tokens, roles and audit trail.

Over HTTP the caller is the principal the endpoint authenticated (``http``); over stdio it is
the token given to ``sentier mcp``, verified again on every call so a revoked or expired token
stops working at once. Refusals and writes go to the audit trail as the API records them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy.orm import Session

from sentier import auth
from sentier.auth import Principal, Role
from sentier.store import get_engine, session_factory


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    transport: Literal["stdio", "http"]
    ip: str | None = None
    user_agent: str | None = None


# How a server learns who calls: from the tool call's context.
Identify = Callable[[Context], Caller]


def http_caller(ctx: Context) -> Caller:
    """The principal the HTTP endpoint authenticated for this very request."""
    request = ctx.request_context.request
    state = getattr(request, "state", None)
    principal = getattr(state, "principal", None) if state is not None else None
    if not isinstance(principal, Principal):
        raise ToolError("unauthenticated: the MCP endpoint takes a bearer token")
    headers = getattr(request, "headers", {})
    client = getattr(request, "client", None)
    return Caller(
        principal,
        "http",
        ip=getattr(state, "client_ip", None) or (client.host if client else None),
        user_agent=headers.get("user-agent"),
    )


def token_caller(token: str) -> Identify:
    """Callers of a stdio server: the token, re-verified on each call (revocation holds)."""

    def identify(_ctx: Context) -> Caller:
        return Caller(verify_token(token), "stdio", user_agent="sentier mcp (stdio)")

    return identify


def verify_token(token: str) -> Principal:
    """The principal of an API token, or ``ToolError`` (and a failed-authentication record)."""
    session = session_factory(get_engine())()
    try:
        try:
            return auth.authenticate_token(session, token)
        except auth.TokenError as error:
            auth.audit(
                session,
                actor="anonymous",
                action=auth.AUTH_FAILED,
                outcome="failed",
                target="mcp:stdio",
                user_agent="sentier mcp (stdio)",
                details={"reason": str(error)},
            )
            session.commit()
            raise ToolError(f"unauthenticated: {error}") from error
    finally:
        session.close()


def refuse(caller: Caller, tool: str, reason: str, target: str | None = None) -> NoReturn:
    """Record a refused call in the audit trail (its own transaction) and fail the tool."""
    session = session_factory(get_engine())()
    try:
        auth.audit(
            session,
            actor=caller.principal.label,
            action=f"mcp {tool}",
            outcome="denied",
            target=target or f"mcp:{tool}",
            ip=caller.ip,
            user_agent=caller.user_agent,
            details={"reason": reason, "transport": caller.transport},
        )
        session.commit()
    finally:
        session.close()
    raise ToolError(f"forbidden: {reason}")


def require(caller: Caller, role: Role, tool: str) -> None:
    if not caller.principal.has_role(role):
        refuse(caller, tool, f"requires the {role} role")


def audit_write(
    session: Session,
    caller: Caller,
    action: str,
    target: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record a successful write in the same transaction as the write, as the API does (same
    action names), saying it came through MCP."""
    auth.audit(
        session,
        actor=caller.principal.label,
        action=action,
        outcome="ok",
        target=target,
        ip=caller.ip,
        user_agent=caller.user_agent,
        details={**(details or {}), "via": f"mcp/{caller.transport}"},
    )
