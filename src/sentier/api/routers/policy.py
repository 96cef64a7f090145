"""``/api/v1/policy``: stored IaC findings, scans, the rule packs; an entity's findings; the
sovereignty registry.

Reading is for every viewer. Scanning a path on the server is a write (a stored scan,
events): admins may scan any path; editors only inside the source location of an entity
their groups own, so the API cannot be used to probe the server's files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from sentier import catalog, policy
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
# A request scans in the request; a tree larger than this belongs to the CLI (or CI).
MAX_SCAN_FILES = 20_000


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


def _too_large(paths: list[str]) -> bool:
    """More than MAX_SCAN_FILES files under the paths? Stops counting as soon as it knows."""
    from sentier.policy.loaders import SKIP_DIRS

    seen = 0
    for path in paths:
        for _root, dirs, files in os.walk(path):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(".")]
            seen += len(files)
            if seen > MAX_SCAN_FILES:
                return True
    return False


def _scan_root(session: Any, principal: Any, path: str) -> str | None:
    """The directory that lets ``principal`` scan ``path``: for editors, the location of an
    entity their groups own, inside the entity's registered source (a descriptor's author writes
    its ``source-location``: it alone must not open the server's files); "/" for admins."""
    if principal.has_role("admin"):
        return os.sep
    for directory, _ref, owner in policy.entity_locations(session, registered_only=True):
        if catalog.is_within(path, directory) and principal.may_write_owned_by(session, owner):
            return str(directory)
    return None


def _may_scan(session: Any, principal: Any, path: str) -> bool:
    return _scan_root(session, principal, path) is not None


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
    paths: list[str] = []
    roots: list[str] = []
    for raw in body.paths:
        if "\x00" in raw:
            raise Problem(400, "a path cannot contain NUL", slug="path-not-found")
        given = Path(raw)
        path = str(given.resolve())
        if not given.is_absolute() or not Path(path).exists():
            raise Problem(
                400,
                f"{raw}: no such absolute file or directory on the server",
                slug="path-not-found",
            )
        root = _scan_root(session, principal, path)
        if root is None:
            deny(request, principal, f"may not scan {raw}: outside your groups' entities", raw)
        paths.append(path)
        roots.append(str(root))
    if body.target and not principal.has_role("admin"):
        # Scans under one target are compared with each other: scanning other paths under a
        # series one may not scan would mark its findings fixed.
        previous = policy.latest_scan_paths(session, body.target)
        if previous and not all(_may_scan(session, principal, p) for p in previous):
            deny(
                request,
                principal,
                f"may not scan under target {body.target}: its scans cover paths outside "
                "your groups' entities",
                body.target,
            )
    if _too_large(paths):
        raise Problem(
            413,
            f"more than {MAX_SCAN_FILES} files to scan: run `sentier scan --store` instead",
            slug="scan-too-large",
        )
    first = paths[0] if Path(paths[0]).is_dir() else str(Path(paths[0]).parent)
    try:
        config = policy.load_config(policy.find_config(first))
        # An editor's scan reads nothing outside the locations that allowed it (symlinks and
        # file() included); an admin's is not confined (modules often sit beside the tree).
        confine = None if principal.has_role("admin") else roots
        result = policy.scan_paths(paths, config=config, packs=body.packs, confine_to=confine)
    except policy.PolicyError as error:
        raise Problem(400, str(error), slug="bad-policy-input") from error
    changes = policy.record_scan(
        session,
        result,
        target=body.target,
        mappings=config.path_mappings,
        root=str(Path(config.source).parent) if config.source else first,
    )
    audit_write(
        request,
        session,
        principal,
        "policy.scan",
        changes["target"],
        {"paths": paths, "scan_id": changes["scan_id"], "new": changes["new"]},
    )
    session.commit()
    scan = policy.get_scan(session, changes["scan_id"])
    return {
        "scan": scan,
        "new": changes["new"],
        "fixed": changes["fixed"],
        "still_open": changes["still_open"],
        "open": len(result.open),
    }


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
