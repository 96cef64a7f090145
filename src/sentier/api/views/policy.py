"""What the policy pages and endpoints show, computed once for both: stored findings (by
entity, owner, rule, severity, state), scans, the rule packs, and the region registry."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from sentier import catalog, policy
from sentier.api.problems import Problem
from sentier.auth import Principal
from sentier.policy import Rule

SEVERITIES = ("critical", "high", "medium", "low", "info")
# A request scans in the request; a tree larger than this belongs to the CLI (or CI).
MAX_SCAN_FILES = 20_000
STATES = ("new", "still-open", "fixed")
STATUSES = ("open", "suppressed", "baselined")


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    return {s: counts[s] for s in SEVERITIES if counts.get(s)}


def group_entities(session: Session, group_ref: str) -> list[str]:
    """The entities a group owns, through its child groups too (what its findings are on)."""
    return [e.ref for e in catalog.owned_by_group(session, group_ref)]


def findings_page(
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
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of stored findings (the latest scan of every target unless ``scan_id``)."""
    filters: dict[str, Any] = {
        "entity": entity,
        "entities": entities,
        "owner": owner,
        "rule": rule,
        "severities": severities,
        "state": state,
        "status": status,
        "include_fixed": state == "fixed",
    }
    items = policy.list_findings(session, scan_id=scan_id, limit=limit, offset=offset, **filters)
    total = policy.count_findings(session, scan_id=scan_id, **filters)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def overview(session: Session) -> dict[str, Any]:
    """Open findings of the latest scans by severity, rule, owner and entity, and the scans."""
    open_only: dict[str, Any] = {"status": "open"}
    by_severity = _ordered(policy.count_findings(session, by="severity", **open_only))
    titles = {r.id: (r.title, r.severity) for r in all_rules()}
    by_rule = [
        {
            "rule_id": rule_id,
            "title": titles.get(rule_id, (rule_id, ""))[0],
            "severity": titles.get(rule_id, ("", ""))[1],
            "count": count,
        }
        for rule_id, count in policy.count_findings(session, by="rule_id", **open_only).items()
    ]
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    by_rule.sort(key=lambda r: (rank.get(r["severity"], 9), -r["count"], r["rule_id"]))
    by_owner = sorted(
        (
            {"owner_ref": ref, "count": count}
            for ref, count in policy.count_findings(session, by="owner_ref", **open_only).items()
        ),
        key=lambda r: (r["owner_ref"] is None, -r["count"], r["owner_ref"] or ""),
    )
    by_entity = sorted(
        (
            {"entity_ref": ref, "count": count}
            for ref, count in policy.count_findings(session, by="entity_ref", **open_only).items()
        ),
        key=lambda r: (r["entity_ref"] is None, -r["count"], r["entity_ref"] or ""),
    )
    states = policy.count_findings(session, by="state", include_fixed=True)
    return {
        "open": sum(by_severity.values()),
        "by_severity": by_severity,
        "by_state": {s: states[s] for s in STATES if states.get(s)},
        "by_rule": by_rule,
        "by_owner": by_owner,
        "by_entity": by_entity,
        "unattributed": next((r["count"] for r in by_entity if r["entity_ref"] is None), 0),
        "scans": policy.list_scans(session, limit=10),
    }


def entity_findings(session: Session, ref: str, kind: str) -> dict[str, Any]:
    """An entity's findings; a group's are those on the entities it owns."""
    summary: dict[str, Any]
    if kind.lower() == "group":
        owned = group_entities(session, ref)
        summary = policy.entity_summary(session, ref, entities=owned)
        summary["through"] = "owned entities"
        summary["entities"] = len(owned)
    else:
        summary = policy.entity_summary(session, ref)
    summary["by_severity"] = _ordered(summary["by_severity"])
    return summary


@lru_cache(maxsize=1)
def all_rules() -> tuple[Rule, ...]:
    """The built-in packs (installed with sentier, so read once per process)."""
    return tuple(policy.load_rules())


def provider_of(rule: Rule) -> str | None:
    """The cloud or platform a security rule is filed under (its folder in the pack)."""
    parts = rule.path.replace("\\", "/").split("/packs/", 1)
    if len(parts) == 2:
        folders = parts[1].split("/")
        if len(folders) > 2:
            return folders[1]
    return None


def rule_summary(rule: Rule) -> dict[str, Any]:
    return {
        **{k: v for k, v in rule.summary().items() if k != "tests"},
        "provider": provider_of(rule),
        "frameworks": rule.frameworks,
    }


def rules_list(
    *,
    pack: str | None = None,
    provider: str | None = None,
    severity: str | None = None,
    q: str | None = None,
) -> list[dict[str, Any]]:
    text = (q or "").strip().lower()
    out = []
    for rule in all_rules():
        if pack and rule.pack != pack:
            continue
        if provider and provider_of(rule) != provider:
            continue
        if severity and rule.severity != severity:
            continue
        if text and text not in f"{rule.id} {rule.title} {rule.category}".lower():
            continue
        out.append(rule_summary(rule))
    return out


def rule_detail(rule_id: str) -> dict[str, Any] | None:
    rule = next((r for r in all_rules() if r.id.lower() == rule_id.lower()), None)
    if rule is None:
        return None
    data = rule.as_dict()
    data.pop("path", None)  # where sentier is installed is not the caller's business
    data["provider"] = provider_of(rule)
    data["tests"] = [{"name": t.name, "file": t.filename, "expect": t.expect} for t in rule.tests]
    return data


def regions(provider: str | None = None) -> dict[str, Any]:
    """The sovereignty registry: every region with its jurisdiction facts, by provider."""
    from sentier import sovereignty

    registry = sovereignty.registry()
    key = sovereignty.normalise_provider(provider) or provider if provider else None
    return {
        "providers": {
            name: [region.as_dict() for region in found.values()]
            for name, found in sorted(registry.items())
            if key is None or name == key
        },
        "policy": sovereignty.default_policy(),
    }


class Refused(Exception):
    """The principal may not do this; the shell records the refusal and answers 403."""

    def __init__(self, reason: str, target: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.target = target


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


def scan_root(session: Session, principal: Principal, path: str) -> str | None:
    """The directory that lets ``principal`` scan ``path``: for editors, the location of an
    entity their groups own, inside the entity's registered source (a descriptor's author writes
    its ``source-location``: it alone must not open the server's files); "/" for admins."""
    if principal.has_role("admin"):
        return os.sep
    for directory, _ref, owner in policy.entity_locations(session, registered_only=True):
        if catalog.is_within(path, directory) and principal.may_write_owned_by(session, owner):
            return str(directory)
    return None


def store_scan(
    session: Session,
    principal: Principal,
    raw_paths: Sequence[str],
    *,
    target: str | None = None,
    packs: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Scan absolute paths on the server as ``principal`` may, and store the scan (not
    committed: the shell audits the write in the same transaction, then commits).

    Who may scan what (the API and the MCP server both call this): admins any path; editors
    only inside the location of an entity their groups own (``Refused`` otherwise), reading
    nothing outside it. Bad input is a ``Problem`` (400, or 413 for a tree too large)."""
    paths: list[str] = []
    roots: list[str] = []
    for raw in raw_paths:
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
        root = scan_root(session, principal, path)
        if root is None:
            raise Refused(f"may not scan {raw}: outside your groups' entities", raw)
        paths.append(path)
        roots.append(root)
    if not paths:
        raise Problem(400, "no path to scan", slug="path-not-found")
    if target and not principal.has_role("admin"):
        # Scans under one target are compared with each other: scanning other paths under a
        # series one may not scan would mark its findings fixed.
        previous = policy.latest_scan_paths(session, target)
        if previous and not all(scan_root(session, principal, p) for p in previous):
            raise Refused(
                f"may not scan under target {target}: its scans cover paths outside "
                "your groups' entities",
                target,
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
        result = policy.scan_paths(
            paths, config=config, packs=list(packs) if packs else None, confine_to=confine
        )
    except policy.PolicyError as error:
        raise Problem(400, str(error), slug="bad-policy-input") from error
    changes = policy.record_scan(
        session,
        result,
        target=target,
        mappings=config.path_mappings,
        root=str(Path(config.source).parent) if config.source else first,
    )
    return {
        "target": changes["target"],
        "paths": paths,
        "scan": policy.get_scan(session, changes["scan_id"]),
        "new": changes["new"],
        "fixed": changes["fixed"],
        "still_open": changes["still_open"],
        "open": len(result.open),
        "findings": [f.as_dict() for f in result.open],
    }
