"""``/api/v1/events``, ``/api/v1/webhooks``, ``/api/v1/deliveries``: the event log, outgoing
webhook subscriptions and their deliveries; the inbound hooks are in ``hooks``.

Each route is one call into ``sentier.events`` (see docs/events.md); ``EventsError`` becomes a
problem+json whose type names its code (``urn:sentier:problem:events-not-found``...). Admins
manage every subscription; editors those filtered on one of their groups.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from sentier import events
from sentier.api import background
from sentier.api.deps import DB, Viewer, audit_write, deny
from sentier.api.routers import hooks
from sentier.api.views import events as views
from sentier.api.views.events import NO_NUL, Instant, domain_errors
from sentier.config import get_settings
from sentier.store import get_engine

log = logging.getLogger("sentier.api.events")
router = APIRouter(prefix="/api/v1", tags=["events"])

# -- parameters and bodies ----------------------------------------------------------------------

AfterSequence = Annotated[int, Query(ge=0, le=2**62, description="an event's `sequence`")]
DeliveryId = Annotated[int, PathParam(ge=1, le=2**62)]
SubscriptionId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
TypeGlob = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9.*?\-_\[\]]+$")]


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[
        str, Field(min_length=1, max_length=2048, pattern=NO_NUL, description="http(s) receiver")
    ]
    types: Annotated[
        list[TypeGlob] | None,
        Field(max_length=50, description="event type globs; all events when omitted"),
    ] = None
    group: Annotated[
        str | None,
        Field(
            max_length=400,
            pattern=NO_NUL,
            description="only events owned by this group and its sub-groups (required of "
            "editors: one of their groups)",
        ),
    ] = None
    secret: Annotated[
        str | None,
        Field(max_length=200, pattern=NO_NUL, description="whsec_...; generated if omitted"),
    ] = None
    description: Annotated[str | None, Field(max_length=2000, pattern=NO_NUL)] = None
    allow_private: Annotated[
        bool, Field(description="admins only: allow a private or loopback target")
    ] = False


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str | None, Field(min_length=1, max_length=2048, pattern=NO_NUL)] = None
    types: Annotated[list[TypeGlob] | None, Field(min_length=1, max_length=50)] = None
    group: Annotated[
        str | None, Field(max_length=400, pattern=NO_NUL, description='"" removes the filter')
    ] = None
    description: Annotated[str | None, Field(max_length=2000, pattern=NO_NUL)] = None
    status: Literal["active", "disabled"] | None = None
    allow_private: bool | None = None


class SecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: Annotated[str | None, Field(max_length=200, pattern=NO_NUL)] = None


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    after: Annotated[int, Field(ge=0, le=2**62, description="replay events after this sequence")]


# -- responses -----------------------------------------------------------------------------------


class EventTypeOut(BaseModel):
    type: str
    domain: str
    description: str | None
    documented: bool
    dataschema: dict[str, Any] | None


class EventOut(BaseModel, extra="allow"):
    specversion: str
    id: str
    source: str
    type: str
    time: str
    sequence: Annotated[
        str, Field(description="CloudEvents `sequence` extension: compare as strings to order")
    ]
    subject: str | None = None
    data: Any = None
    ownerref: str | None = None


class EventPage(BaseModel):
    items: list[EventOut]
    next: Annotated[
        int | None, Field(description="`after` of the next page (`before` when newest first)")
    ]


class SubscriptionOut(BaseModel):
    id: str
    url: str
    types: list[str]
    group: str | None
    description: str | None
    allow_private: bool
    status: str
    disabled_reason: str | None
    created_at: Instant
    updated_at: Instant


class SubscriptionCreated(SubscriptionOut):
    secret: Annotated[str, Field(description="the signing secret, shown this once")]


class SubscriptionSummary(SubscriptionOut):
    may_manage: bool
    pending: int
    dead: int
    delivered: int
    last_delivered_at: Instant | None


class DeliveryOut(BaseModel):
    id: int
    subscription_id: str
    event_id: str
    event_type: str
    sequence: Annotated[str, Field(description="the event's CloudEvents `sequence`")]
    status: str
    attempts: int
    created_at: Instant
    first_attempt_at: Instant | None
    last_attempt_at: Instant | None
    next_attempt_at: Instant | None
    delivered_at: Instant | None
    last_status_code: int | None
    last_error: str | None


class AttemptOut(BaseModel):
    attempted_at: Instant
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class SubscriptionDetail(SubscriptionOut):
    may_manage: bool
    deliveries: Annotated[dict[str, int], Field(description="count of deliveries per status")]
    recent_deliveries: list[DeliveryOut]
    dead_letters: list[DeliveryOut]


class ReplayOut(BaseModel):
    subscription_id: str
    added: int
    requeued: int


# -- the event log ----------------------------------------------------------------------------


@router.get("/events/types", response_model=list[EventTypeOut], summary="Event type catalogue")
def event_types(principal: Viewer) -> list[dict[str, Any]]:
    """Every event type sentier emits, with a JSON Schema (2020-12) of its ``data``."""
    return events.list_types()


@router.get("/events", response_model=EventPage, summary="List or replay events")
def list_events(
    principal: Viewer,
    session: DB,
    type: Annotated[
        str | None,
        Query(
            max_length=255,
            pattern=NO_NUL,
            description="a type, a prefix, or a glob such as io.sentier.catalog.*",
        ),
    ] = None,
    subject: Annotated[str | None, Query(max_length=512, pattern=NO_NUL)] = None,
    after: AfterSequence = 0,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    newest_first: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The event log in commit order, filtered; follow ``next`` as ``after`` to page (replay)."""
    return events.events_page(
        session,
        type=type,
        subject=subject,
        after=after,
        before=before,
        newest_first=newest_first,
        limit=limit,
    )


# -- webhook subscriptions ------------------------------------------------------------------


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=SubscriptionCreated,
    summary="Subscribe a URL to events",
)
def create_webhook(
    body: SubscriptionIn, request: Request, principal: Viewer, session: DB
) -> dict[str, Any]:
    """Admins subscribe anything; editors with a ``group`` filter on one of their groups.

    The signing secret is in the answer, this once.
    """
    reason = views.create_refusal(session, principal, body.group, body.allow_private)
    if reason:
        deny(request, principal, reason, events.redact_url(body.url))
    with domain_errors(), views.ssrf_audited(request, principal, events.redact_url(body.url)):
        created = events.add_subscription(
            session,
            body.url,
            types=body.types,
            group=body.group,
            secret=body.secret,
            description=body.description,
            allow_private=body.allow_private,
        )
    audit_write(
        request,
        session,
        principal,
        "webhook.create",
        created["id"],
        {"url": events.redact_url(body.url), "types": created["types"], "group": created["group"]},
    )
    session.commit()
    return created


@router.get("/webhooks", response_model=list[SubscriptionSummary], summary="Subscriptions")
def list_webhooks(principal: Viewer, session: DB) -> list[dict[str, Any]]:
    """Every subscription with its pending and dead-lettered counts and last delivery."""
    return views.webhooks_overview(session, principal)


@router.get("/webhooks/{subscription_id}", response_model=SubscriptionDetail)
def get_webhook(subscription_id: SubscriptionId, principal: Viewer, session: DB) -> dict[str, Any]:
    """One subscription with its latest deliveries and its dead letters."""
    with domain_errors():
        return views.webhook_detail(session, principal, subscription_id)


@router.patch("/webhooks/{subscription_id}", response_model=SubscriptionOut)
def update_webhook(
    subscription_id: SubscriptionId,
    body: SubscriptionPatch,
    request: Request,
    principal: Viewer,
    session: DB,
) -> dict[str, Any]:
    """Change a subscription; ``status: active`` resumes one disabled (by a 410, or a user).

    An editor who changes the URL makes the subscription public-only again: allowing a private
    target is an admin's decision about one URL.
    """
    views.require_manage(request, session, principal, subscription_id)
    admin = principal.has_role("admin")
    if body.allow_private is not None and not admin:
        deny(request, principal, "only admins may allow private targets", subscription_id)
    if body.group is not None:
        reason = views.group_refusal(session, principal, body.group)
        if reason:
            deny(request, principal, reason, subscription_id)
    allow_private = body.allow_private
    if body.url is not None and not admin:
        allow_private = False
    with domain_errors(), views.ssrf_audited(request, principal, subscription_id):
        updated = events.update_subscription(
            session,
            subscription_id,
            url=body.url,
            types=body.types,
            group=body.group,
            description=body.description,
            status=body.status,
            allow_private=allow_private,
        )
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        changes["url"] = events.redact_url(changes["url"])
    audit_write(request, session, principal, "webhook.update", subscription_id, changes)
    session.commit()
    return updated


@router.delete("/webhooks/{subscription_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(
    subscription_id: SubscriptionId, request: Request, principal: Viewer, session: DB
) -> Response:
    """Remove a subscription with its deliveries and their attempts."""
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        events.remove_subscription(session, subscription_id)
    audit_write(request, session, principal, "webhook.delete", subscription_id)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{subscription_id}/secret", response_model=SubscriptionCreated)
def rotate_webhook_secret(
    subscription_id: SubscriptionId,
    request: Request,
    principal: Viewer,
    session: DB,
    body: SecretIn | None = None,
) -> dict[str, Any]:
    """Replace the signing secret (given, or generated); the new one is shown this once."""
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        rotated = events.rotate_secret(session, subscription_id, body.secret if body else None)
    audit_write(request, session, principal, "webhook.rotate-secret", subscription_id)
    session.commit()
    return rotated


@router.post("/webhooks/{subscription_id}/replay", response_model=ReplayOut)
def replay_webhook(
    subscription_id: SubscriptionId,
    body: ReplayIn,
    request: Request,
    principal: Viewer,
    session: DB,
) -> dict[str, Any]:
    """Queue the past events after ``after`` that match the subscription, again (same ids)."""
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        result = events.replay(session, subscription_id, after=body.after)
    audit_write(
        request, session, principal, "webhook.replay", subscription_id, {"after": body.after}
    )
    session.commit()
    return result


@router.get("/webhooks/{subscription_id}/deliveries", response_model=list[DeliveryOut])
def list_webhook_deliveries(
    subscription_id: SubscriptionId,
    principal: Viewer,
    session: DB,
    status: Literal["pending", "delivered", "dead"] | None = None,
    after: Annotated[int, Query(ge=0, le=2**62, description="a delivery id")] = 0,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    newest_first: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Deliveries in the order they are sent (or newest first); ``status=dead``: dead letters."""
    with domain_errors():
        return events.list_deliveries(
            session,
            subscription_id,
            status=status,
            after=after,
            before=before,
            newest_first=newest_first,
            limit=limit,
        )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def get_delivery(delivery_id: DeliveryId, principal: Viewer, session: DB) -> dict[str, Any]:
    """One delivery with every attempt: status code, error, duration, response excerpt."""
    with domain_errors():
        return events.get_delivery(session, delivery_id)


@router.get("/deliveries/{delivery_id}/attempts", response_model=list[AttemptOut])
def list_attempts(delivery_id: DeliveryId, principal: Viewer, session: DB) -> list[Any]:
    """The attempts of one delivery, oldest first."""
    with domain_errors():
        attempts: list[Any] = events.get_delivery(session, delivery_id)["attempt_log"]
    return attempts


@router.post("/deliveries/{delivery_id}/redeliver", response_model=DeliveryOut)
def redeliver(
    delivery_id: DeliveryId, request: Request, principal: Viewer, session: DB
) -> dict[str, Any]:
    """Queue a delivery again (a dead letter, or one to resend), keeping its ``webhook-id``."""
    with domain_errors():
        delivery = events.get_delivery(session, delivery_id)
    views.require_manage(request, session, principal, delivery["subscription_id"])
    with domain_errors():
        queued = events.redeliver(session, delivery_id)
    audit_write(
        request,
        session,
        principal,
        "webhook.redeliver",
        delivery["subscription_id"],
        {"delivery": delivery_id, "event_id": delivery["event_id"]},
    )
    session.commit()
    return queued


# -- the dispatcher inside ``sentier serve`` -------------------------------------------------


def start_dispatcher() -> background.Running | None:
    """Deliver webhooks (and forward to the broker) from this server process.

    Every worker runs one: leases give each subscription to one dispatcher at a time, and the
    router's cursor is locked while it routes, so order and at-least-once hold. Off with
    ``SENTIER_EVENTS_DISPATCH_IN_SERVE=0`` (when ``sentier events dispatch`` runs apart).
    """
    if not get_settings().events.dispatch_in_serve or not _database_ready():
        return None
    dispatcher = events.Dispatcher(get_engine())
    dispatcher.start()
    return dispatcher


def _database_ready() -> bool:
    """Whether the configured database exists and is migrated (``sentier serve`` migrates
    first); an app built for another purpose (tests, tooling) neither creates it nor polls it."""
    settings = get_settings()
    url = make_url(settings.resolved_database_url)
    database = url.database
    file_backed = url.get_backend_name() == "sqlite" and database and database != ":memory:"
    if file_backed and not Path(str(database)).exists():
        return False
    try:
        return inspect(get_engine()).has_table("outbox_events")
    except SQLAlchemyError:
        log.warning("events dispatcher not started: the database is unreachable", exc_info=True)
        return False


background.STARTERS.append(start_dispatcher)


router.include_router(hooks.router)
