"""``/api/v1/detect``: detection rules (Sigma), what they detected per entity and team, and the
suppressions of false positives. Reading is for every viewer. Suppressing is a write on the
entity whose detections it hides: an editor suppresses (and lifts suppressions) only on
entities their groups own; a suppression without an entity hides detections everywhere and is
an admin's. Each write is audited, each refusal too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sentier.api import background
from sentier.api.deps import DB, Editor, Viewer, audit_write, deny
from sentier.api.detect_consumer import start_detect_consumer
from sentier.api.problems import Problem
from sentier.api.views import catalog as catalog_views
from sentier.api.views import detect as views
from sentier.auth import Principal
from sentier.detect import DetectError
from sentier.detect import store as detect_store

router = APIRouter(prefix="/api/v1", tags=["detect"])
background.STARTERS.append(start_detect_consumer)

RuleId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
Ref = Annotated[str | None, Query(max_length=512)]
Level = Literal["informational", "low", "medium", "high", "critical"]


class SuppressionIn(BaseModel):
    rule_id: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^(\*|[A-Za-z0-9._-]+)$")]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    expires_at: datetime
    entity_ref: Annotated[str | None, Field(max_length=512)] = None
    match: Annotated[
        dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=1024)]],
        Field(max_length=20),
    ] = Field(default_factory=dict)


def _may_suppress(
    request: Request, principal: Principal, session: Session, entity: str | None, target: str
) -> None:
    """Refuse (403, audited) unless ``principal`` may write what ``entity``'s owner owns."""
    if entity is None:
        if not principal.has_role("admin"):
            deny(request, principal, "a suppression without an entity is an admin's", target)
        return
    owner = detect_store.entity_owner(session, entity)
    if not principal.may_write_owned_by(session, owner):
        deny(request, principal, f"{entity} is owned by {owner or 'no group'}", target)


@router.get("/detect/rules", summary="Detection rules (sentier's and SENTIER_DETECT_RULES)")
def list_rules(
    principal: Viewer,
    q: Annotated[str | None, Query(max_length=200)] = None,
    level: Level | None = None,
) -> dict[str, Any]:
    return views.rules_list(q=q, level=level)


@router.get("/detect/rules/{rule_id}", summary="One rule: what it says, its log source, its SQL")
def get_rule(rule_id: RuleId, principal: Viewer) -> dict[str, Any]:
    found = views.rule_detail(rule_id)
    if found is None:
        raise Problem(404, f"no rule {rule_id}", slug="rule-not-found")
    return found


@router.get("/detect/detections", summary="Stored detections, newest first")
def list_detections(
    principal: Viewer,
    session: DB,
    entity: Ref = None,
    team: Ref = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    status: Literal["open", "suppressed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """``entity`` is a full reference; ``team`` a group reference (its child groups too)."""
    return views.detections_page(
        session, entity=entity, team=team, rule=rule, status=status, limit=limit, offset=offset
    )


@router.get(
    "/entities/{kind}/{namespace}/{name}/detections",
    summary="An entity's detections (a group's: those of the entities its teams own)",
)
def entity_detections(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> dict[str, Any]:
    ref = catalog_views.ref_of(kind, namespace, name)
    entity = catalog_views.entity_detail(session, ref)
    if entity is None:
        raise Problem(404, f"no entity {ref}", slug="entity-not-found")
    return views.entity_detections(session, ref, entity["kind"])


@router.get("/detect/suppressions", summary="Suppressions of false positives")
def list_suppressions(principal: Viewer, session: DB, active: bool = False) -> list[dict[str, Any]]:
    return detect_store.list_suppressions(session, active_only=active)


@router.post(
    "/detect/suppressions",
    status_code=status.HTTP_201_CREATED,
    summary="Suppress a rule's detections, with a reason, until an expiry",
)
def create_suppression(
    body: SuppressionIn, request: Request, principal: Editor, session: DB
) -> dict[str, Any]:
    try:
        entity = detect_store.resolve_entity(session, body.entity_ref) if body.entity_ref else None
    except DetectError as error:
        raise Problem(400, str(error), slug="bad-suppression") from error
    _may_suppress(request, principal, session, entity, f"detect-rule:{body.rule_id}")
    try:
        created = detect_store.add_suppression(
            session,
            rule_id=body.rule_id,
            reason=body.reason,
            expires_at=body.expires_at,
            created_by=principal.label,
            entity_ref=entity,
            match=body.match,
        )
    except DetectError as error:
        raise Problem(400, str(error), slug="bad-suppression") from error
    audit_write(
        request,
        session,
        principal,
        "detect.suppress",
        body.rule_id,
        {
            "id": created["id"],
            "entity_ref": entity,
            "reason": body.reason,
            "expires_at": created["expires_at"],
        },
    )
    session.commit()
    return created


@router.delete("/detect/suppressions/{suppression_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_suppression(
    suppression_id: Annotated[int, PathParam(ge=1, le=2**31)],
    request: Request,
    principal: Editor,
    session: DB,
) -> Response:
    try:
        found = detect_store.get_suppression(session, suppression_id)
    except DetectError as error:
        raise Problem(404, str(error), slug="suppression-not-found") from error
    _may_suppress(request, principal, session, found["entity_ref"], f"suppression:{suppression_id}")
    detect_store.remove_suppression(session, suppression_id)
    audit_write(request, session, principal, "detect.unsuppress", str(suppression_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
