"""Portal pages of security as code: the findings overview and list (``/policy``), one rule
(``/policy/rules/{id}``), and the findings section of entity and group pages. Each shows what
its JSON twin under ``/api/v1/policy`` returns."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from sentier.api.deps import DB
from sentier.api.routers.policy import RuleId, Severity, State, Status
from sentier.api.views import policy as views
from sentier.web.app import WebUser, href_of, render
from sentier.web.sections import ENTITY_SECTIONS, Section

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/policy", response_class=HTMLResponse)
def policy_page(
    request: Request,
    principal: WebUser,
    session: DB,
    severity: Annotated[list[Severity] | None, Query()] = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    owner: Annotated[str | None, Query(max_length=512)] = None,
    entity: Annotated[str | None, Query(max_length=512)] = None,
    state: State | None = None,
    status: Status | None = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> HTMLResponse:
    filters: dict[str, Any] = {
        "severity": severity or [],
        "rule": rule,
        "owner": owner,
        "entity": entity,
        "state": state,
        "status": status,
    }
    page = views.findings_page(
        session,
        entity=entity,
        owner=owner,
        rule=rule,
        severities=severity or [],
        state=state,
        status=status,
        limit=PAGE_SIZE,
        offset=offset,
    )
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    next_url = None
    if offset + PAGE_SIZE < page["total"]:
        next_url = "/policy?" + urlencode([*query, ("offset", str(offset + PAGE_SIZE))])
    return render(
        request,
        "policy.html",
        {
            "overview": views.overview(session),
            "page": page,
            "filters": filters,
            "filtered": any(v for v in filters.values()),
            "severities": views.SEVERITIES,
            "next_url": next_url,
            "href_of": href_of,
            "json_url": "/api/v1/policy/findings" + (f"?{urlencode(query)}" if query else ""),
            "overview_url": "/api/v1/policy/overview",
        },
    )


@router.get("/policy/rules/{rule_id}", response_class=HTMLResponse)
def rule_page(rule_id: RuleId, request: Request, principal: WebUser) -> HTMLResponse:
    rule = views.rule_detail(rule_id)
    if rule is None:
        return render(request, "error.html", {"status": 404, "message": f"No rule {rule_id}."}, 404)
    return render(
        request,
        "policy_rule.html",
        {"rule": rule, "json_url": f"/api/v1/policy/rules/{rule['id']}"},
    )


def findings_section(session: Session, ref: str, kind: str) -> Section | None:
    """Open findings of the entity (of a group: of the entities it owns), when it has any."""
    summary = views.entity_findings(session, ref, kind)
    if not summary["findings"]:
        return None
    _, rest = ref.split(":", 1)
    namespace, name = rest.split("/", 1)
    return Section(
        title=f"Security findings ({summary['open']} open)",
        template="policy_section.html",
        context={"summary": summary, "group": kind.lower() == "group", "href_of": href_of},
        json_url=f"/api/v1/entities/{kind.lower()}/{namespace}/{name}/findings",
    )


ENTITY_SECTIONS.append(findings_section)
