"""Portal pages of the events domain: the event log, webhook subscriptions and deliveries.

Each page renders what its JSON twin returns (``api.views.events``); each form goes through the
same permission checks as the API and is CSRF-protected. Secrets are shown once, on the page
answering the form that made them, never in a URL.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sentier import events
from sentier.api.deps import DB, audit_write, deny
from sentier.api.problems import Problem
from sentier.api.routers.events import DeliveryId, SubscriptionId
from sentier.api.views import events as views
from sentier.api.views.events import domain_errors
from sentier.auth import Principal
from sentier.events import EventsError
from sentier.web.app import WebUser, check_csrf, render

router = APIRouter(include_in_schema=False)
PAGE = 50
_REF = re.compile(r"^([a-z]+):([^/\s]+)/(\S+)$")
CATALOG_KINDS = frozenset(
    {"component", "api", "resource", "system", "domain", "group", "user", "location", "template"}
)


def subject_href(subject: str | None) -> str | None:
    """The portal page of an event's subject, when it has one (a catalog entity, a webhook)."""
    if not subject:
        return None
    if subject.startswith("webhook:"):
        return f"/webhooks/{quote(subject.removeprefix('webhook:'))}"
    match = _REF.match(subject)
    if match and match.group(1) in CATALOG_KINDS:
        return "/catalog/" + "/".join(quote(part) for part in match.groups())
    return None


def _not_found(request: Request, error: EventsError) -> HTMLResponse:
    if error.code != "not_found":
        raise views.problem_of(error) from error
    return render(request, "error.html", {"status": 404, "message": f"{error}."}, status_code=404)


@router.get("/events", response_class=HTMLResponse)
def event_log(
    request: Request,
    principal: WebUser,
    session: DB,
    type: Annotated[str, Query(max_length=255, pattern=views.NO_NUL)] = "",
    subject: Annotated[str, Query(max_length=512, pattern=views.NO_NUL)] = "",
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    """The newest events first, filtered by a type glob and a subject."""
    page = events.events_page(
        session,
        type=type.strip() or None,
        subject=subject.strip() or None,
        before=before,
        newest_first=True,
        limit=PAGE,
    )
    for item in page["items"]:
        item["data_text"] = json.dumps(item.get("data"), indent=2, ensure_ascii=False, default=str)
        item["subject_href"] = subject_href(item.get("subject"))
    filters = {k: v for k, v in {"type": type.strip(), "subject": subject.strip()}.items() if v}
    twin = {**filters, "newest_first": "true", "limit": str(PAGE)}
    if before:
        twin["before"] = str(before)
    older = urlencode({**filters, "before": page["next"]}) if page["next"] else None
    return render(
        request,
        "events.html",
        {
            "page": page,
            "type": type,
            "subject": subject,
            "type_choices": views.type_choices(),
            "older": older,
            "json_url": "/api/v1/events?" + urlencode(twin),
        },
    )


@router.get("/webhooks", response_class=HTMLResponse)
def webhooks(request: Request, principal: WebUser, session: DB) -> HTMLResponse:
    return _webhooks_page(request, principal, session)


def _webhooks_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    error: str | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "webhooks.html",
        {
            "subscriptions": views.webhooks_overview(session, principal),
            "type_choices": views.type_choices(),
            "error": error,
            "form": form or {},
            "json_url": "/api/v1/webhooks",
        },
        status_code=status_code,
    )


@router.post("/webhooks", response_model=None)
def create_webhook(
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    types: Annotated[str, Form(max_length=2000)] = "",
    group: Annotated[str, Form(max_length=400)] = "",
    description: Annotated[str, Form(max_length=2000)] = "",
    allow_private: Annotated[bool, Form()] = False,
) -> Response:
    """The admins' create form; the answer shows the new secret, this once."""
    check_csrf(request, principal, csrf)
    if not principal.has_role("admin"):
        deny(request, principal, "the portal's create form is for admins (editors: the API)")
    form = {"url": url, "types": types, "group": group, "description": description}
    patterns = [p.strip() for p in types.split(",") if p.strip()]
    try:
        if "\x00" in url + types + group + description:
            raise EventsError("text may not contain U+0000", field="form")
        with views.ssrf_audited(request, principal, events.redact_url(url)):
            created = events.add_subscription(
                session,
                url.strip(),
                types=patterns or None,
                group=group.strip() or None,
                description=description.strip() or None,
                allow_private=allow_private,
            )
    except EventsError as error:
        session.rollback()
        return _webhooks_page(
            request, principal, session, error=str(error), form=form, status_code=422
        )
    audit_write(
        request,
        session,
        principal,
        "webhook.create",
        created["id"],
        {"url": events.redact_url(url), "types": created["types"], "group": created["group"]},
    )
    session.commit()
    return _webhook_page(request, principal, session, created["id"], secret=created["secret"])


def _webhook_page(
    request: Request,
    principal: Principal,
    session: Session,
    subscription_id: str,
    *,
    secret: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    try:
        detail = views.webhook_detail(session, principal, subscription_id)
    except EventsError as error:
        return _not_found(request, error)
    return render(
        request,
        "webhook.html",
        {
            "sub": detail,
            "secret": secret,
            "notice": notice,
            "json_url": f"/api/v1/webhooks/{subscription_id}",
        },
    )


@router.get("/webhooks/{subscription_id}", response_class=HTMLResponse)
def webhook(
    subscription_id: SubscriptionId,
    request: Request,
    principal: WebUser,
    session: DB,
    requeued: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> HTMLResponse:
    notice = f"Delivery {requeued} is queued again." if requeued else None
    return _webhook_page(request, principal, session, subscription_id, notice=notice)


@router.post("/webhooks/{subscription_id}/status", response_model=None)
def set_status(
    subscription_id: SubscriptionId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
    status: Annotated[str, Form(pattern="^(active|disabled)$")] = "active",
) -> Response:
    """Pause a subscription or resume it (after a 410 Gone, for instance)."""
    check_csrf(request, principal, csrf)
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        events.update_subscription(session, subscription_id, status=status)
    audit_write(request, session, principal, "webhook.update", subscription_id, {"status": status})
    session.commit()
    return RedirectResponse(f"/webhooks/{subscription_id}", status_code=303)


@router.post("/webhooks/{subscription_id}/secret", response_model=None)
def rotate_secret(
    subscription_id: SubscriptionId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf)
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        rotated = events.rotate_secret(session, subscription_id)
    audit_write(request, session, principal, "webhook.rotate-secret", subscription_id)
    session.commit()
    return _webhook_page(request, principal, session, subscription_id, secret=rotated["secret"])


@router.post("/webhooks/{subscription_id}/delete", response_model=None)
def delete_webhook(
    subscription_id: SubscriptionId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, principal, csrf)
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        events.remove_subscription(session, subscription_id)
    audit_write(request, session, principal, "webhook.delete", subscription_id)
    session.commit()
    return RedirectResponse("/webhooks", status_code=303)


@router.get("/deliveries/{delivery_id}", response_class=HTMLResponse)
def delivery(
    delivery_id: DeliveryId, request: Request, principal: WebUser, session: DB
) -> HTMLResponse:
    """One delivery and every attempt: what the receiver answered, and when."""
    try:
        detail = events.get_delivery(session, delivery_id)
        sub = views.subscription_view(
            session, principal, events.get_subscription(session, detail["subscription_id"])
        )
    except EventsError as error:
        return _not_found(request, error)
    return render(
        request,
        "delivery.html",
        {"delivery": detail, "sub": sub, "json_url": f"/api/v1/deliveries/{delivery_id}"},
    )


@router.post("/deliveries/{delivery_id}/redeliver", response_model=None)
def redeliver(
    delivery_id: DeliveryId,
    request: Request,
    principal: WebUser,
    session: DB,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Queue a dead letter (or any delivery) again, with its original ``webhook-id``."""
    check_csrf(request, principal, csrf)
    try:
        detail = events.get_delivery(session, delivery_id)
    except EventsError as error:
        raise Problem(404, str(error), slug="events-not-found") from error
    subscription_id = detail["subscription_id"]
    views.require_manage(request, session, principal, subscription_id)
    with domain_errors():
        events.redeliver(session, delivery_id)
    audit_write(
        request,
        session,
        principal,
        "webhook.redeliver",
        subscription_id,
        {"delivery": delivery_id, "event_id": detail["event_id"]},
    )
    session.commit()
    return RedirectResponse(f"/webhooks/{subscription_id}?requeued={delivery_id}", status_code=303)
