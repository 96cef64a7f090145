"""Portal pages of detection: detections (``/detect``, filtered by entity, team or rule), one
rule (``/detect/rules/{id}``), and the detections section of entity and group pages. Each shows
what its JSON twin under ``/api/v1/detect`` returns."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sentier.api.deps import DB
from sentier.api.routers.detect import RuleId
from sentier.api.views import detect as views
from sentier.web.app import WebUser, href_of, render
from sentier.web.sections import ENTITY_SECTIONS, Section

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/detect", response_class=HTMLResponse)
def detections_page(
    request: Request,
    principal: WebUser,
    session: DB,
    entity: Annotated[str | None, Query(max_length=512)] = None,
    team: Annotated[str | None, Query(max_length=512)] = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    page = views.detections_page(
        session, entity=entity, team=team, rule=rule, limit=PAGE_SIZE, offset=offset
    )
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    next_url = None
    if offset + PAGE_SIZE < page["total"]:
        next_url = "/detect?" + urlencode([*query, ("offset", str(offset + PAGE_SIZE))])
    filters: dict[str, Any] = {"entity": entity, "team": team, "rule": rule}
    return render(
        request,
        "detect.html",
        {
            "page": page,
            "filters": filters,
            "next_url": next_url,
            "href_of": href_of,
            "json_url": "/api/v1/detect/detections" + (f"?{urlencode(query)}" if query else ""),
        },
    )


@router.get("/detect/rules/{rule_id}", response_class=HTMLResponse)
def rule_page(rule_id: RuleId, request: Request, principal: WebUser) -> HTMLResponse:
    rule = views.rule_detail(rule_id)
    if rule is None:
        return render(request, "error.html", {"status": 404, "message": f"No rule {rule_id}."}, 404)
    return render(
        request, "detect_rule.html", {"rule": rule, "json_url": f"/api/v1/detect/rules/{rule_id}"}
    )


def detections_section(session: Session, ref: str, kind: str) -> Section | None:
    """Detections of the entity (of a group: of the entities its teams own), when any."""
    summary = views.entity_detections(session, ref, kind)
    if not summary["detections"]:
        return None
    _, rest = ref.split(":", 1)
    namespace, name = rest.split("/", 1)
    return Section(
        title=f"Detections ({summary['open']} open)",
        template="detect_section.html",
        context={"summary": summary, "href_of": href_of},
        json_url=f"/api/v1/entities/{kind.lower()}/{namespace}/{name}/detections",
    )


ENTITY_SECTIONS.append(detections_section)
