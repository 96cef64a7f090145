"""Findings stored per scan, attributed to catalog entities, with events for every change.

Attribution: a configured path mapping (glob -> entity) wins; otherwise the entity whose
``backstage.io/source-location`` or ``backstage.io/managed-by-location`` (``file:``/``dir:``
targets) is the deepest directory containing the file. What matches nothing stays
unattributed (``entity_ref`` null), never dropped.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier import events
from sentier.events.types import POLICY_FINDING_FIXED, POLICY_FINDING_OPENED
from sentier.policy.config import PathMapping
from sentier.policy.rules.engine import Finding
from sentier.policy.scan import ScanResult
from sentier.store import bulk_insert
from sentier.store.models import CatalogSource, PolicyFinding, PolicyScan
from sentier.store.models.base import utcnow

LOCATION_ANNOTATIONS = ("backstage.io/source-location", "backstage.io/managed-by-location")


def _location_dir(value: str) -> str | None:
    for prefix in ("file:", "dir:"):
        if value.startswith(prefix):
            path = value[len(prefix) :]
            if not os.path.isabs(path):
                return None
            if path.endswith((".yaml", ".yml")):
                path = os.path.dirname(path)
            return os.path.normpath(path)
    return None


def entity_locations(
    session: Session, *, registered_only: bool = False
) -> list[tuple[str, str, str | None]]:
    """(directory, entity ref, owner ref) of every entity with a local location annotation.

    ``source-location`` is whatever the descriptor's author wrote. With ``registered_only``, a
    location counts only inside the root of the entity's own catalog source (a path an admin
    registered, or the tree an editor pushed): what decides who may scan where on the server.
    """
    from sentier.catalog import EntityFilter, is_within, list_entities, root_of

    roots: dict[int, list[Path]] = {}
    if registered_only:
        for source_id, target in session.execute(select(CatalogSource.id, CatalogSource.target)):
            roots[source_id] = [root_of(Path(p)) for p in target.split("\n") if p]
    out: dict[tuple[str, str], str | None] = {}
    for annotation in LOCATION_ANNOTATIONS:
        after = None
        while True:
            page = list_entities(
                session, EntityFilter(annotations=[annotation]), limit=500, after=after
            )
            for entity in page.items:
                annotations = (entity.body.get("metadata") or {}).get("annotations") or {}
                directory = _location_dir(str(annotations.get(annotation, "")))
                if registered_only and directory is not None:
                    allowed = roots.get(entity.source_id) or []
                    if not any(is_within(directory, root) for root in allowed):
                        directory = None
                if directory and (directory, entity.ref) not in out:
                    out[(directory, entity.ref)] = entity.owner_ref
            if not page.next_cursor:
                break
            after = page.next_cursor
    return [(d, ref, owner) for (d, ref), owner in out.items()]


def latest_scan_paths(session: Session, target: str) -> list[str] | None:
    """The paths of the latest scan stored under ``target``; None when there is none."""
    row = session.scalars(
        select(PolicyScan).where(PolicyScan.target == target).order_by(PolicyScan.id.desc())
    ).first()
    return list(row.paths or []) if row is not None else None


class Attributor:
    def __init__(
        self, session: Session, mappings: Sequence[PathMapping] = (), root: str = "."
    ) -> None:
        from sentier.catalog import find_entity

        self.mappings = list(mappings)
        self.root = root
        self.locations = sorted(entity_locations(session), key=lambda item: -len(item[0]))
        self.session = session
        self._find = find_entity
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, file: str) -> tuple[str | None, str | None]:
        cached = self._cache.get(file)
        if cached is not None:
            return cached
        result: tuple[str | None, str | None] = (None, None)
        absolute = os.path.abspath(file)
        relative = os.path.relpath(absolute, os.path.abspath(self.root))
        for mapping in self.mappings:
            if fnmatch.fnmatch(relative, mapping.pattern) or fnmatch.fnmatch(file, mapping.pattern):
                entity = self._find(self.session, mapping.entity)
                result = (
                    (entity.ref, entity.owner_ref) if entity else (mapping.entity.lower(), None)
                )
                break
        else:
            for directory, ref, owner in self.locations:
                if absolute == directory or absolute.startswith(directory + os.sep):
                    result = (ref, owner)
                    break
        self._cache[file] = result
        return result


def target_of(paths: Sequence[str]) -> str:
    return ",".join(sorted(os.path.abspath(p) for p in paths))[:512]


def record_scan(
    session: Session,
    result: ScanResult,
    *,
    target: str | None = None,
    mappings: Sequence[PathMapping] = (),
    root: str = ".",
) -> dict[str, Any]:
    """Store a scan and its findings; emit opened/fixed events; returns what changed."""
    target = target or target_of(result.paths)
    previous_id = session.scalar(select(func.max(PolicyScan.id)).where(PolicyScan.target == target))
    previous: dict[str, PolicyFinding] = {}
    if previous_id is not None:
        for row in session.scalars(
            select(PolicyFinding).where(
                PolicyFinding.scan_id == previous_id, PolicyFinding.state != "fixed"
            )
        ):
            previous[row.fingerprint] = row
    attribute = Attributor(session, mappings, root)
    scan = PolicyScan(target=target, paths=result.paths, summary=result.summary())
    session.add(scan)
    session.flush()
    now = utcnow()
    rows: list[dict[str, Any]] = []
    pending: list[events.PendingEvent] = []
    current: set[str] = set()
    opened = still = 0
    for finding in result.findings:
        fingerprint = finding.fingerprint
        if fingerprint in current:
            continue
        current.add(fingerprint)
        entity_ref, owner_ref = attribute(finding.file)
        before = previous.get(fingerprint)
        if before is None and finding.legacy_fingerprint in previous:
            # Stored before fingerprints were anchored: the same finding, not a new one.
            before = previous[finding.legacy_fingerprint]
            current.add(finding.legacy_fingerprint)
        state = "still-open" if before is not None else "new"
        if state == "new":
            opened += 1
        else:
            still += 1
        rows.append(
            _row(
                scan.id,
                finding,
                state,
                entity_ref,
                owner_ref,
                before.first_seen_at if before else now,
            )
        )
        if state == "new" and finding.status == "open":
            pending.append(
                events.PendingEvent(
                    POLICY_FINDING_OPENED,
                    entity_ref or f"file:{finding.file}",
                    {**finding.as_dict(), "scan_id": scan.id, "entity_ref": entity_ref},
                    owner_ref,
                )
            )
    fixed = 0
    for fingerprint, before in previous.items():
        if fingerprint in current:
            continue
        fixed += 1
        rows.append(
            {
                "scan_id": scan.id,
                "fingerprint": fingerprint,
                "state": "fixed",
                "status": before.status,
                "rule_id": before.rule_id,
                "severity": before.severity,
                "category": before.category,
                "title": before.title,
                "message": before.message,
                "file": before.file,
                "line": before.line,
                "resource": before.resource,
                "resource_type": before.resource_type,
                "pack": before.pack,
                "entity_ref": before.entity_ref,
                "owner_ref": before.owner_ref,
                "first_seen_at": before.first_seen_at,
            }
        )
        if before.status == "open":
            pending.append(
                events.PendingEvent(
                    POLICY_FINDING_FIXED,
                    before.entity_ref or f"file:{before.file}",
                    {
                        "fingerprint": fingerprint,
                        "rule_id": before.rule_id,
                        "file": before.file,
                        "resource": before.resource,
                        "scan_id": scan.id,
                        "entity_ref": before.entity_ref,
                    },
                    before.owner_ref,
                )
            )
    bulk_insert(session, PolicyFinding.__table__, rows)  # type: ignore[arg-type]
    scan.opened, scan.fixed, scan.still_open = opened, fixed, still
    if pending:
        events.record_many(session, pending)
    return {
        "scan_id": scan.id,
        "target": target,
        "new": opened,
        "fixed": fixed,
        "still_open": still,
    }


def _row(
    scan_id: int,
    finding: Finding,
    state: str,
    entity_ref: str | None,
    owner_ref: str | None,
    first_seen: Any,
) -> dict[str, Any]:
    return {
        "scan_id": scan_id,
        "fingerprint": finding.fingerprint,
        "state": state,
        "status": finding.status,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "category": finding.category,
        "title": finding.title,
        "message": finding.message,
        "file": finding.file,
        "line": finding.line,
        "resource": finding.resource,
        "resource_type": finding.resource_type,
        "pack": finding.pack,
        "entity_ref": entity_ref,
        "owner_ref": owner_ref,
        "first_seen_at": first_seen,
    }


def _as_dict(row: PolicyFinding) -> dict[str, Any]:
    return {
        "scan_id": row.scan_id,
        "fingerprint": row.fingerprint,
        "state": row.state,
        "status": row.status,
        "rule_id": row.rule_id,
        "severity": row.severity,
        "category": row.category,
        "title": row.title,
        "message": row.message,
        "file": row.file,
        "line": row.line,
        "resource": row.resource,
        "resource_type": row.resource_type,
        "entity_ref": row.entity_ref,
        "owner_ref": row.owner_ref,
        "first_seen_at": row.first_seen_at.isoformat() if row.first_seen_at else None,
    }


def latest_scan_ids(session: Session) -> list[int]:
    return list(session.scalars(select(func.max(PolicyScan.id)).group_by(PolicyScan.target)))


def _filtered(
    query: Any,
    *,
    scans: Sequence[int],
    entity: str | None = None,
    entities: Sequence[str] | None = None,
    owner: str | None = None,
    rule: str | None = None,
    severities: Sequence[str] = (),
    state: str | None = None,
    status: str | None = None,
    include_fixed: bool = False,
) -> Any:
    query = query.where(PolicyFinding.scan_id.in_(list(scans)))
    if state:
        query = query.where(PolicyFinding.state == state)
    elif not include_fixed:
        query = query.where(PolicyFinding.state != "fixed")
    if entity:
        query = query.where(PolicyFinding.entity_ref == entity.lower())
    if entities is not None:
        query = query.where(PolicyFinding.entity_ref.in_([e.lower() for e in entities]))
    if owner:
        query = query.where(PolicyFinding.owner_ref == owner.lower())
    if rule:
        query = query.where(PolicyFinding.rule_id == rule.upper())
    if severities:
        query = query.where(PolicyFinding.severity.in_([s.lower() for s in severities]))
    if status:
        query = query.where(PolicyFinding.status == status)
    return query


def list_findings(
    session: Session,
    *,
    entity: str | None = None,
    entities: Sequence[str] | None = None,
    owner: str | None = None,
    rule: str | None = None,
    severities: Sequence[str] = (),
    state: str | None = None,
    status: str | None = None,
    scan_id: int | None = None,
    include_fixed: bool = False,
    limit: int = 1000,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Findings of the latest scan of every target (or of one scan), filtered.

    ``state`` is new, still-open or fixed (fixed ones only when asked for); ``status`` is
    open, suppressed or baselined; ``entities`` restricts to several entities (a group's).
    """
    scans = [scan_id] if scan_id is not None else latest_scan_ids(session)
    if not scans:
        return []
    query = _filtered(
        select(PolicyFinding),
        scans=scans,
        entity=entity,
        entities=entities,
        owner=owner,
        rule=rule,
        severities=severities,
        state=state,
        status=status,
        include_fixed=include_fixed,
    )
    query = query.order_by(
        PolicyFinding.file, PolicyFinding.line, PolicyFinding.rule_id, PolicyFinding.id
    )
    return [_as_dict(row) for row in session.scalars(query.offset(offset).limit(limit))]


def count_findings(
    session: Session,
    *,
    by: str | None = None,
    scan_id: int | None = None,
    **filters: Any,
) -> Any:
    """How many findings match (same filters as ``list_findings``); with ``by`` (a column
    such as ``severity``, ``rule_id``, ``owner_ref``, ``entity_ref``), a count per value."""
    scans = [scan_id] if scan_id is not None else latest_scan_ids(session)
    if by is None:
        if not scans:
            return 0
        query = _filtered(select(func.count(PolicyFinding.id)), scans=scans, **filters)
        return int(session.scalar(query) or 0)
    if not scans:
        return {}
    column = getattr(PolicyFinding, by)
    query = _filtered(select(column, func.count(PolicyFinding.id)), scans=scans, **filters)
    return {value: int(n) for value, n in session.execute(query.group_by(column))}


def list_scans(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.scalars(select(PolicyScan).order_by(PolicyScan.id.desc()).limit(limit))
    return [
        {
            "id": r.id,
            "target": r.target,
            "started_at": r.started_at.isoformat(),
            "new": r.opened,
            "fixed": r.fixed,
            "still_open": r.still_open,
            "summary": r.summary,
        }
        for r in rows
    ]


def get_scan(session: Session, scan_id: int) -> dict[str, Any] | None:
    row = session.get(PolicyScan, scan_id)
    if row is None:
        return None
    return {
        "id": row.id,
        "target": row.target,
        "paths": row.paths,
        "started_at": row.started_at.isoformat(),
        "new": row.opened,
        "fixed": row.fixed,
        "still_open": row.still_open,
        "summary": row.summary,
    }


def entity_summary(
    session: Session, entity_ref: str, *, entities: Sequence[str] | None = None
) -> dict[str, Any]:
    """Findings of one entity (or of the ``entities`` a group owns) by severity, for its page
    and scorecards; ``open`` counts the findings neither suppressed nor baselined."""
    findings = (
        list_findings(session, entities=entities)
        if entities is not None
        else list_findings(session, entity=entity_ref)
    )
    by_severity: dict[str, int] = {}
    for f in findings:
        if f["status"] == "open":
            by_severity[f["severity"]] = by_severity.get(f["severity"], 0) + 1
    return {
        "entity_ref": entity_ref.lower(),
        "open": sum(by_severity.values()),
        "by_severity": by_severity,
        "findings": findings,
    }
