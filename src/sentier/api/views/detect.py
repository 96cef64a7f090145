"""What the detection API and portal pages show: rules, detections per entity and team,
suppressions. One function per result shape, shared by ``routers.detect`` and
``web.pages.detect`` (every portal page has its JSON twin)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sentier import catalog, detect
from sentier.detect import store as detect_store


@lru_cache(maxsize=1)
def _ruleset(extra: str) -> detect.RuleSet:
    paths = [Path(p) for p in extra.split(os.pathsep) if p]
    return detect.load_rules([p for p in paths if p.exists()], shipped=True)


def ruleset() -> detect.RuleSet:
    """sentier's rules and those of ``SENTIER_DETECT_RULES`` (directories, path-separated)."""
    return _ruleset(os.environ.get("SENTIER_DETECT_RULES", ""))


def rules_list(q: str | None = None, level: str | None = None) -> dict[str, Any]:
    loaded = ruleset()
    items = loaded.summaries()
    if level:
        items = [i for i in items if i["level"] == level]
    if q:
        needle = q.lower()
        items = [
            i for i in items if needle in f"{i['id']} {i['title']} {' '.join(i['tags'])}".lower()
        ]
    return {"rules": items, "refused": [str(e) for e in loaded.refused]}


def rule_detail(rule_id: str) -> dict[str, Any] | None:
    found = ruleset().find(rule_id)
    if found is None:
        return None
    data = found.summary()
    if isinstance(found, detect.Rule):
        data["sql"] = detect.rule_sql(found)
    return data


def team_groups(session: Session, team: str) -> list[str]:
    return catalog.descendant_groups(session, team.lower())


def detections_page(
    session: Session,
    *,
    entity: str | None = None,
    team: str | None = None,
    rule: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    owners = team_groups(session, team) if team else None
    return detect_store.list_detections(
        session,
        entity=entity,
        owners=owners,
        rule=rule,
        status=status,
        limit=limit,
        offset=offset,
    )


def entity_detections(session: Session, ref: str, kind: str) -> dict[str, Any]:
    """An entity's detections; a group's are those of the entities its teams own."""
    if kind.lower() == "group":
        owners = team_groups(session, ref)
        counts = detect_store.detection_counts(session, owners=owners)
        page = detect_store.list_detections(session, owners=owners, limit=50)
    else:
        counts = detect_store.detection_counts(session, entity=ref)
        page = detect_store.list_detections(session, entity=ref, limit=50)
    return {"entity_ref": ref, **counts, "detections": page["items"], "total": page["total"]}
