"""Detections in the store: attribute, suppress, keep, and raise them as alerts.

``record_detections`` is the one way detections enter the store, whichever engine found them:
each is attributed to a catalog entity (``attribution``), judged against the active
suppressions, stored once (its ``key`` makes re-running idempotent) and — unless suppressed,
or feeding only a correlation — handed to AIOps' alert ingestion as an alert (severity from the
rule's ``level``, ATT&CK tags as labels), so it joins incidents and reaches the owner like any
alert. Everything happens in the caller's transaction.

Suppressions are false positives judged by someone: a rule (or ``*``), optionally an entity and
field values, a reason and an expiry (at most ``MAX_SUPPRESSION_DAYS`` ahead). A suppressed
detection is kept, marked with the suppression, and not alerted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from sentier.detect.attribution import Attributor
from sentier.detect.engine import Detection
from sentier.detect.errors import DetectError
from sentier.store.models import DetectCursor, DetectDetection, Suppression, utcnow

MAX_SUPPRESSION_DAYS = 366
MAX_REASON = 2000
ALERT_SOURCE = "sigma"


def detection_key(detection: Detection) -> str:
    body = json.dumps(
        [detection.rule.id, detection.origin, list(detection.group), detection.window],
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()[:64]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- suppressions ------------------------------------------------------------------------------


def add_suppression(
    session: Session,
    *,
    rule_id: str,
    reason: str,
    expires_at: datetime,
    created_by: str,
    entity_ref: str | None = None,
    match: dict[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Store a suppression; raises DetectError for a missing reason or a bad expiry."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason:
        raise DetectError("a suppression needs a reason", field="reason")
    if len(reason) > MAX_REASON:
        raise DetectError(f"reason longer than {MAX_REASON} characters", field="reason")
    expires_at = _aware(expires_at)
    if expires_at <= now:
        raise DetectError("the expiry must be in the future", field="expires_at")
    if expires_at > now + timedelta(days=MAX_SUPPRESSION_DAYS):
        raise DetectError(
            f"the expiry must be within {MAX_SUPPRESSION_DAYS} days", field="expires_at"
        )
    if not rule_id.strip() or len(rule_id) > 128:
        raise DetectError("a rule id (or *) of at most 128 characters", field="rule_id")
    if match and (len(match) > 20 or any(len(k) > 256 or len(v) > 1024 for k, v in match.items())):
        raise DetectError("at most 20 field values, each bounded", field="match")
    entity = resolve_entity(session, entity_ref) if entity_ref else None
    row = Suppression(
        rule_id=rule_id.strip(),
        entity_ref=entity,
        match=dict(match or {}),
        reason=reason,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return suppression_summary(row, now)


def resolve_entity(session: Session, ref: str) -> str:
    """The full reference of a catalog entity named by ``ref`` (a full or partial reference);
    raises DetectError naming it when the catalog has no such entity."""
    from sentier.catalog import find_entity

    found = find_entity(session, ref.strip())
    if found is None:
        raise DetectError(f"no catalog entity {ref}", field="entity_ref")
    return found.ref


def entity_owner(session: Session, ref: str | None) -> str | None:
    """The group owning the entity ``ref`` (a group owns itself); None for no entity or an
    entity without an owner — who may suppress its detections is decided on it."""
    from sentier.catalog import get_entity

    if not ref:
        return None
    found = get_entity(session, ref)
    if found is None:
        return None
    return found.ref if found.kind.lower() == "group" else found.owner_ref


def get_suppression(session: Session, suppression_id: int) -> dict[str, Any]:
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise DetectError(f"no suppression {suppression_id}", field="id")
    return suppression_summary(row)


def suppression_summary(row: Suppression, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "entity_ref": row.entity_ref,
        "match": row.match,
        "reason": row.reason,
        "created_by": row.created_by,
        "created_at": _aware(row.created_at).isoformat(),
        "expires_at": _aware(row.expires_at).isoformat(),
        "active": _aware(row.expires_at) > now,
    }


def list_suppressions(session: Session, *, active_only: bool = False) -> list[dict[str, Any]]:
    now = utcnow()
    query = select(Suppression).order_by(Suppression.id)
    if active_only:
        query = query.where(Suppression.expires_at > now)
    return [suppression_summary(row, now) for row in session.scalars(query)]


def remove_suppression(session: Session, suppression_id: int) -> None:
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise DetectError(f"no suppression {suppression_id}", field="id")
    session.delete(row)
    session.flush()


def _suppressed_by(detection: Detection, active: list[Suppression]) -> int | None:
    fields = detection.record.fields if detection.record else {}
    for row in active:
        if row.rule_id not in ("*", detection.rule.id):
            continue
        if row.entity_ref and row.entity_ref != (detection.entity or ""):
            continue
        if any(fields.get(k) != v for k, v in (row.match or {}).items()):
            continue
        return row.id
    return None


# -- detections --------------------------------------------------------------------------------


def _alert(detection: Detection, fingerprint: str) -> Any:
    from sentier.aiops.alerts import FIRING, Alert

    info = detection.rule
    labels = {
        "rule_id": info.id,
        "level": info.level or "",
        "detection": detection.kind,
        **({"attack": ",".join(info.attack)} if info.attack else {}),
        **({"entity": detection.entity} if detection.entity else {}),
        **{f"group.{k}": v for k, v in detection.group},
    }
    annotations = {
        "summary": info.title,
        "description": info.description or "",
        "tags": ",".join(info.tags),
        "origin": detection.origin,
        # Detection Rule License 1.1: the rule's author and id travel with what it detected.
        "rule_author": info.author or "",
        "rule_reference": info.id,
    }
    return Alert(
        source=ALERT_SOURCE,
        fingerprint=fingerprint,
        name=info.title,
        status=FIRING,
        severity=info.severity,
        starts_at=detection.at,
        summary=info.title,
        labels=labels,
        annotations={k: v for k, v in annotations.items() if v},
        entity_hint=detection.entity or detection.hint,
        origin=detection.origin,
    )


def record_detections(
    session: Session,
    detections: Iterable[Detection],
    *,
    source: str = "logs",
    attributor: Attributor | None = None,
    alert: bool = True,
) -> dict[str, Any]:
    """Attribute, judge, store and alert ``detections`` (see the module's docstring)."""
    attributor = attributor or Attributor.from_catalog(session)
    now = utcnow()
    active = list(session.scalars(select(Suppression).where(Suppression.expires_at > now)))
    batch = list(detections)
    keys = [detection_key(d) for d in batch]
    known: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(
            session.scalars(select(DetectDetection.key).where(DetectDetection.key.in_(chunk)))
        )
    new = suppressed = 0
    alerts = []
    seen: set[str] = set()
    for detection, key in zip(batch, keys, strict=True):
        if key in known or key in seen:
            continue
        seen.add(key)
        hints = detection.record.hints if detection.record else ()
        detection.entity, detection.hint = attributor.resolve(hints)
        detection.owner = attributor.owner_of(detection.entity)
        detection.suppressed_by = _suppressed_by(detection, active)
        fingerprint = hashlib.sha256(
            f"{detection.rule.id}|{detection.entity or detection.hint or ''}".encode()
        ).hexdigest()[:32]
        alerted = alert and detection.generate and detection.suppressed_by is None
        info = detection.rule
        message = (detection.record.fields.get("message") if detection.record else None) or None
        session.add(
            DetectDetection(
                key=key,
                rule_id=info.id[:128],
                title=info.title,
                level=info.level,
                severity=info.severity,
                tags=list(info.tags),
                kind=detection.kind,
                at=detection.at,
                origin=detection.origin[:4000],
                source=source[:32],
                entity_ref=detection.entity,
                owner_ref=detection.owner,
                hint=(detection.hint or "")[:512] or None,
                group=dict(detection.group),
                count=detection.count,
                message=message[:2000] if message else None,
                status="suppressed" if detection.suppressed_by is not None else "open",
                suppression_id=detection.suppressed_by,
                alert_fingerprint=fingerprint if alerted else None,
                created_at=now,
            )
        )
        new += 1
        if detection.suppressed_by is not None:
            suppressed += 1
        if alerted:
            alerts.append(_alert(detection, fingerprint))
    session.flush()
    ingestion: dict[str, Any] = {}
    if alerts:
        from sentier.aiops.alerts import ingest_alerts

        ingestion = ingest_alerts(session, alerts).as_dict()
    return {
        "detections": len(batch),
        "new": new,
        "already_known": len(batch) - new,
        "suppressed": suppressed,
        "alerts": len(alerts),
        "incidents_opened": ingestion.get("incidents_opened", []),
        "incidents_updated": ingestion.get("incidents_updated", []),
    }


def detection_summary(row: DetectDetection) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule_id": row.rule_id,
        "title": row.title,
        "level": row.level,
        "severity": row.severity,
        "tags": row.tags,
        "kind": row.kind,
        "at": _aware(row.at).isoformat(),
        "origin": row.origin,
        "source": row.source,
        "entity_ref": row.entity_ref,
        "owner_ref": row.owner_ref,
        "hint": row.hint,
        "group": row.group,
        "count": row.count,
        "message": row.message,
        "status": row.status,
        "suppression_id": row.suppression_id,
    }


def list_detections(
    session: Session,
    *,
    entity: str | None = None,
    owners: list[str] | None = None,
    rule: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Stored detections, newest first, filtered (``owners``: any of these groups)."""
    query = select(DetectDetection)
    if entity:
        query = query.where(DetectDetection.entity_ref == entity.lower())
    if owners:
        query = query.where(DetectDetection.owner_ref.in_([o.lower() for o in owners]))
    if rule:
        query = query.where(DetectDetection.rule_id == rule)
    if status:
        query = query.where(DetectDetection.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DetectDetection.at.desc(), DetectDetection.id.desc())
        .limit(max(1, min(limit, 1000)))
        .offset(max(0, offset))
    )
    return {
        "items": [detection_summary(r) for r in rows],
        "total": int(total),
        "limit": limit,
        "offset": offset,
    }


def detection_counts(
    session: Session, *, entity: str | None = None, owners: list[str] | None = None
) -> dict[str, Any]:
    """Open and suppressed detections by severity and rule (for an entity or teams)."""
    query = select(
        DetectDetection.status,
        DetectDetection.severity,
        DetectDetection.rule_id,
        DetectDetection.title,
        func.count(),
    )
    if entity:
        query = query.where(DetectDetection.entity_ref == entity.lower())
    if owners:
        query = query.where(DetectDetection.owner_ref.in_([o.lower() for o in owners]))
    query = query.group_by(
        DetectDetection.status,
        DetectDetection.severity,
        DetectDetection.rule_id,
        DetectDetection.title,
    )
    by_severity: dict[str, int] = {}
    by_rule: dict[str, dict[str, Any]] = {}
    totals = {"open": 0, "suppressed": 0}
    for status, severity, rule_id, title, count in session.execute(query):
        totals[status] = totals.get(status, 0) + int(count)
        if status == "open":
            by_severity[severity] = by_severity.get(severity, 0) + int(count)
        entry = by_rule.setdefault(rule_id, {"rule_id": rule_id, "title": title, "count": 0})
        entry["count"] += int(count)
    return {
        **totals,
        "by_severity": by_severity,
        "by_rule": sorted(by_rule.values(), key=lambda e: (-e["count"], e["rule_id"])),
    }


def unattributed_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                or_(DetectDetection.entity_ref.is_(None), DetectDetection.entity_ref == "")
            )
        )
        or 0
    )


# -- cursors -----------------------------------------------------------------------------------


# Any constant the other domains do not use: the key of the advisory lock of detection polls.
_POLL_LOCK = 0x5E47_DE7EC7


def take_poll_lock(session: Session) -> bool:
    """Whether this transaction may poll (see ``sources``): False on PostgreSQL when another
    transaction holds the lock; on SQLite, a write statement waits for the write lock."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        taken = session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _POLL_LOCK})
        return bool(taken)
    if dialect == "sqlite":
        session.execute(text("UPDATE detect_cursors SET position = position WHERE 1 = 0"))
    return True


def cursor(session: Session, name: str) -> int:
    return cursor_state(session, name)[0]


def cursor_state(session: Session, name: str) -> tuple[int, dict[str, Any] | None]:
    """Where the poll of source ``name`` stopped, and the correlation windows it left open."""
    row = session.get(DetectCursor, name)
    if row is None:
        return 0, None
    return int(row.position), row.state if isinstance(row.state, dict) else None


def advance(
    session: Session, name: str, position: int, *, state: dict[str, Any] | None = None
) -> None:
    row = session.get(DetectCursor, name)
    if row is None:
        session.add(
            DetectCursor(name=name, position=position, state=state or None, updated_at=utcnow())
        )
    else:
        row.position = max(row.position, position)
        row.state = state or None
        row.updated_at = utcnow()
    session.flush()


__all__ = [
    "add_suppression",
    "detection_counts",
    "detection_key",
    "entity_owner",
    "get_suppression",
    "list_detections",
    "list_suppressions",
    "record_detections",
    "remove_suppression",
    "resolve_entity",
]
