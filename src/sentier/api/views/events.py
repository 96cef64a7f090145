"""Events and webhooks as the API serves them and the portal shows them (one source for both).

Who sees what: every signed-in user reads the event log and the list of subscriptions (viewers
read everything), but only those who may manage a subscription — admins, and editors whose
groups include its group filter — see its whole URL (query string and token-like path
segments, where receivers often keep a token; see ``sentier.events.redact``) and get the
buttons that change it. Errors and events quoting a URL are redacted by the domain for all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator
from sqlalchemy.orm import Session

from sentier import auth, events
from sentier.api.deps import client_ip, deny
from sentier.api.problems import Problem
from sentier.auth import Principal
from sentier.config import get_settings
from sentier.events import EventsError
from sentier.store import get_engine, session_factory

RECENT_DELIVERIES = 20
DEAD_LETTERS = 50


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Every time is stored in UTC; SQLite hands it back without its zone, JSON says it.
Instant = Annotated[datetime, AfterValidator(_utc)]
# PostgreSQL text cannot hold U+0000: refused at the edge, on every backend alike.
NO_NUL = r"^[^\x00]*$"

STATUS = {
    "invalid": 422,
    "unauthorized": 401,
    "refused": 403,
    "not_found": 404,
    "conflict": 409,
    "unavailable": 503,
}


def problem_of(error: EventsError) -> Problem:
    """The problem+json of a domain error: a stable type per code, and the offending field."""
    return Problem(
        STATUS[error.code],
        str(error),
        slug="events-" + error.code.replace("_", "-"),
        field=error.field,
    )


@contextmanager
def domain_errors() -> Iterator[None]:
    """Raise the problem+json of an ``EventsError`` raised in the block."""
    try:
        yield
    except EventsError as error:
        raise problem_of(error) from error


def may_manage(session: Session, principal: Principal, group_ref: str | None) -> bool:
    """Admins manage every subscription; editors those filtered on one of their groups."""
    if principal.has_role("admin"):
        return True
    if group_ref is None or not principal.has_role("editor"):
        return False
    return principal.may_write_owned_by(session, group_ref)


def group_refusal(session: Session, principal: Principal, group: str | None) -> str | None:
    """Why ``principal`` may not filter a subscription on ``group`` (None when they may)."""
    if principal.has_role("admin"):
        return None
    if not group:
        return "editors subscribe with a group filter (one of their groups)"
    with domain_errors():
        key = events.normalise_group(group)
    if not principal.may_write_owned_by(session, key):
        return f"{key} is not one of your groups"
    return None


def create_refusal(
    session: Session, principal: Principal, group: str | None, allow_private: bool
) -> str | None:
    """Why ``principal`` may not create this subscription (None when they may)."""
    if not principal.has_role("editor"):
        return "requires the editor role"
    if allow_private and not principal.has_role("admin"):
        return "only admins may allow private targets"
    return group_refusal(session, principal, group)


def require_manage(
    request: Request, session: Session, principal: Principal, subscription_id: str
) -> dict[str, Any]:
    """The subscription, if ``principal`` may change it (else 403, audited; 404 if unknown)."""
    with domain_errors():
        record = events.get_subscription(session, subscription_id)
    if not may_manage(session, principal, record["group"]):
        deny(
            request,
            principal,
            "only admins, or editors of the subscription's group, may change it",
            subscription_id,
        )
    return record


@contextmanager
def ssrf_audited(request: Request, principal: Principal, target: str | None) -> Iterator[None]:
    """Audit (in its own transaction) a webhook target the SSRF rules refused, then let the
    error go on to the caller, which answers it as usual."""
    try:
        yield
    except EventsError as error:
        if error.code == "refused":
            session = session_factory(get_engine())()
            try:
                auth.audit(
                    session,
                    actor=principal.label,
                    action="webhook.ssrf-refused",
                    outcome="denied",
                    target=target,
                    ip=client_ip(request, get_settings()),
                    user_agent=request.headers.get("user-agent"),
                    details={"reason": events.redact_text(error.message)},
                )
                session.commit()
            finally:
                session.close()
        raise


def subscription_view(
    session: Session, principal: Principal, record: dict[str, Any]
) -> dict[str, Any]:
    manage = may_manage(session, principal, record.get("group"))
    view = {**record, "may_manage": manage}
    if not manage:
        view["url"] = events.redact_url(str(record["url"]))
    return view


def webhooks_overview(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Every subscription with its queue counts and last delivery (``GET /api/v1/webhooks``)."""
    return [subscription_view(session, principal, s) for s in events.list_subscriptions(session)]


def webhook_detail(session: Session, principal: Principal, subscription_id: str) -> dict[str, Any]:
    """A subscription, its latest deliveries and its dead letters (``GET /api/v1/webhooks/ID``)."""
    record = events.get_subscription(session, subscription_id)
    return {
        **subscription_view(session, principal, record),
        "recent_deliveries": events.list_deliveries(
            session, subscription_id, limit=RECENT_DELIVERIES, newest_first=True
        ),
        "dead_letters": events.list_deliveries(
            session, subscription_id, status="dead", limit=DEAD_LETTERS, newest_first=True
        ),
    }


def type_choices() -> list[str]:
    """Type globs offered by the portal's filters: each domain's ``io.sentier.<domain>.*``."""
    return [
        f"io.sentier.{domain}.*" for domain in sorted({t["domain"] for t in events.list_types()})
    ]
