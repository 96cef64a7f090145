"""``/api/v1/policy``: stored IaC findings, scans, the rule packs; an entity's findings; the
sovereignty registry.

Reading is for every viewer. Scanning a path on the server is a write (a stored scan,
events): admins may scan any path; editors only inside the source location of an entity
their groups own, so the API cannot be used to probe the server's files.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from sentier import policy
from sentier.api.deps import DB, Editor, Viewer, audit_write, deny
from sentier.api.problems import Problem
from sentier.api.views import catalog as catalog_views
from sentier.api.views import policy as views

router = APIRouter(prefix="/api/v1", tags=["policy"])

Severity = Literal["critical", "high", "medium", "low", "info"]
State = Literal["new", "still-open", "fixed"]
Status = Literal["open", "suppressed", "baselined"]
ScanId = Annotated[int, PathParam(ge=1, le=2**62)]
RuleId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._-]+$")]
Text = Annotated[str | None, Query(max_length=512)]


class FindingOut(BaseModel):
    scan_id: int
    fingerprint: str
    state: str
    status: str
    rule_id: str
    severity: str
    category: str
    title: str
    message: str
    file: str
    line: int
    resource: str
    resource_type: str
    entity_ref: str | None
    owner_ref: str | None
    first_seen_at: str | None


class FindingPage(BaseModel):
    items: list[FindingOut]
    total: int
    limit: int
    offset: int


class ScanOut(BaseModel):
    id: int
    target: str
    started_at: str
    new: int
    fixed: int
    still_open: int
    summary: dict[str, Any]
    paths: list[str] | None = None


class EntityFindings(BaseModel):
    entity_ref: str
    open: int
    by_severity: dict[str, int]
    findings: list[FindingOut]
    through: str | None = None
    entities: int | None = None


class ScanIn(BaseModel):
    paths: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=4096)]],
        Field(min_length=1, max_length=20, description="files or directories on the server"),
    ]
    target: Annotated[
        str | None,
        Field(max_length=512, description="name under which scans are compared (default: paths)"),
    ] = None
    packs: Annotated[
        list[Literal["security", "tagging", "sovereignty"]] | None,
        Field(max_length=3, description="built-in packs to run (default: all)"),
    ] = None


class ScanCreated(BaseModel):
    scan: ScanOut
    new: int
    fixed: int
    still_open: int
    open: int


@router.get("/policy/findings", response_model=FindingPage, summary="Stored findings")
def list_findings(
    principal: Viewer,
    session: DB,
    entity: Text = None,
    owner: Text = None,
    rule: Annotated[str | None, Query(max_length=128)] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    state: State | None = None,
    status: Status | None = None,
    scan: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> dict[str, Any]:
    """Findings of the latest scan of every target (or of ``scan``), filtered; fixed ones
    only with ``state=fixed``. ``entity`` and ``owner`` are full references
    (``component:default/x``)."""
    return views.findings_page(
        session,
        entity=entity,
        owner=owner,
        rule=rule,
        severities=severity or [],
        state=state,
        status=status,
        scan_id=scan,
        limit=limit,
        offset=offset,
    )


@router.get("/policy/overview", summary="Open findings by severity, rule, owner and entity")
def overview(principal: Viewer, session: DB) -> dict[str, Any]:
    return views.overview(session)


@router.get("/policy/scans", response_model=list[ScanOut], summary="Stored scans, newest first")
def list_scans(
    principal: Viewer, session: DB, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    return policy.list_scans(session, limit=limit)  # type: ignore[no-any-return]


@router.get("/policy/scans/{scan_id}", response_model=ScanOut, summary="One stored scan")
def get_scan(scan_id: ScanId, principal: Viewer, session: DB) -> dict[str, Any]:
    found = policy.get_scan(session, scan_id)
    if found is None:
        raise Problem(404, f"no scan {scan_id}", slug="scan-not-found")
    return found  # type: ignore[no-any-return]


@router.post(
    "/policy/scans",
    status_code=status.HTTP_201_CREATED,
    response_model=ScanCreated,
    summary="Scan paths on the server and store the findings",
)
def create_scan(body: ScanIn, request: Request, principal: Editor, session: DB) -> dict[str, Any]:
    """Scan files or directories on the server with the built-in packs (and the
    ``sentier-policy.yaml`` found in the first directory), store the scan, attribute its
    findings to catalog entities and emit opened/fixed events, like ``sentier scan --store``."""
    try:
        done = views.store_scan(
            session, principal, body.paths, target=body.target, packs=body.packs
        )
    except views.Refused as refused:
        deny(request, principal, refused.reason, refused.target)
    audit_write(
        request,
        session,
        principal,
        "policy.scan",
        done["target"],
        {"paths": done["paths"], "scan_id": done["scan"]["id"], "new": done["new"]},
    )
    session.commit()
    return {k: done[k] for k in ("scan", "new", "fixed", "still_open", "open")}


@router.get("/policy/rules", summary="Rules of the built-in packs")
def list_rules(
    principal: Viewer,
    pack: Annotated[str | None, Query(max_length=64)] = None,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    severity: Severity | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> list[dict[str, Any]]:
    return views.rules_list(pack=pack, provider=provider, severity=severity, q=q)


@router.get("/policy/rules/{rule_id}", summary="One rule: description, remediation, samples")
def get_rule(rule_id: RuleId, principal: Viewer) -> dict[str, Any]:
    found = views.rule_detail(rule_id)
    if found is None:
        raise Problem(404, f"no rule {rule_id}", slug="rule-not-found")
    return found


@router.get(
    "/entities/{kind}/{namespace}/{name}/findings",
    response_model=EntityFindings,
    summary="An entity's findings (a group's: those of the entities it owns)",
)
def entity_findings(
    kind: str, namespace: str, name: str, principal: Viewer, session: DB
) -> dict[str, Any]:
    ref = catalog_views.ref_of(kind, namespace, name)
    entity = catalog_views.entity_detail(session, ref)
    if entity is None:
        raise Problem(404, f"no entity {ref}", slug="entity-not-found")
    return views.entity_findings(session, ref, entity["kind"])


@router.get("/sovereignty/regions", summary="Provider regions and their jurisdiction")
def sovereignty_regions(
    principal: Viewer, provider: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """The region registry the sovereignty pack judges with, and the default policy per data
    classification."""
    return views.regions(provider)
