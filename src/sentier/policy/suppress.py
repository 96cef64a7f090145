"""Suppressions (inline, per path in config) and the baseline of accepted findings.

Inline: ``# sentier:ignore RULE-ID reason`` (also ``//``) on the finding's line, on the line
above it, or on the first line of the resource's block. Config: a rule (or ``*``) on path
globs with a reason and an optional expiry date; an expired suppression no longer applies and
says so. Baseline: a JSON file of fingerprints; matching findings are accepted, only new ones
fail CI.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sentier.policy.errors import PolicyError
from sentier.policy.rules.engine import Finding

_INLINE = re.compile(r"(?:#|//)\s*sentier:ignore\s+([A-Za-z0-9_*,.\-]+)\s*(.*)$")


@dataclass(frozen=True)
class PathSuppression:
    rule: str
    paths: tuple[str, ...]
    reason: str
    expires: date | None = None

    def matches(self, finding: Finding, root: str) -> bool:
        if self.rule not in ("*", finding.rule_id):
            return False
        relative = (
            os.path.relpath(finding.file, root) if os.path.isabs(finding.file) else finding.file
        )
        return any(
            fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(finding.file, pattern)
            for pattern in self.paths
        )


def parse_suppressions(items: Any, source: str) -> list[PathSuppression]:
    out = []
    for index, item in enumerate(items or []):
        field = f"suppressions[{index}]"
        if not isinstance(item, dict):
            raise PolicyError("a suppression must be a mapping", file=source, field=field)
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise PolicyError("a suppression needs a reason", file=source, field=f"{field}.reason")
        paths = item.get("paths") or item.get("path") or ["**"]
        expires = item.get("expires")
        if isinstance(expires, str):
            try:
                expires = date.fromisoformat(expires)
            except ValueError as error:
                raise PolicyError(
                    "expires must be a date (YYYY-MM-DD)", file=source, field=f"{field}.expires"
                ) from error
        out.append(
            PathSuppression(
                rule=str(item.get("rule", "*")),
                paths=tuple(str(p) for p in (paths if isinstance(paths, list) else [paths])),
                reason=reason,
                expires=expires if isinstance(expires, date) else None,
            )
        )
    return out


class _Lines:
    def __init__(self) -> None:
        self.cache: dict[str, list[str]] = {}

    def get(self, path: str) -> list[str]:
        lines = self.cache.get(path)
        if lines is None:
            try:
                with open(path, encoding="utf-8", errors="replace") as handle:
                    lines = handle.read().splitlines()
            except OSError:
                lines = []
            self.cache[path] = lines
        return lines


def _inline(lines: list[str], line: int, rule_id: str) -> str | None:
    for number in (line, line - 1):
        if 1 <= number <= len(lines):
            match = _INLINE.search(lines[number - 1])
            if match and (rule_id in match.group(1).split(",") or match.group(1) in ("*", "all")):
                return match.group(2).strip() or "suppressed inline"
    return None


def apply_suppressions(
    findings: Sequence[Finding],
    *,
    resource_lines: dict[str, tuple[str, int]] | None = None,
    config: Sequence[PathSuppression] = (),
    root: str = ".",
    today: date | None = None,
) -> list[str]:
    """Mark suppressed findings in place; returns notes (expired suppressions...)."""
    today = today or date.today()
    lines = _Lines()
    notes: list[str] = []
    expired_seen: set[int] = set()
    for finding in findings:
        if finding.rule_id.startswith("SNT-PARSE"):
            continue
        file_lines = lines.get(finding.file)
        reason = _inline(file_lines, finding.line, finding.rule_id)
        if reason is None and resource_lines:
            start = resource_lines.get(finding.resource)
            if start and start[0] == finding.file:
                reason = _inline(file_lines, start[1], finding.rule_id)
        if reason is not None:
            finding.status = "suppressed"
            finding.suppression = f"inline: {reason}"
            continue
        for index, suppression in enumerate(config):
            if not suppression.matches(finding, root):
                continue
            if suppression.expires and suppression.expires < today:
                if index not in expired_seen:
                    expired_seen.add(index)
                    notes.append(
                        f"suppression of {suppression.rule} on {', '.join(suppression.paths)} "
                        f"expired on {suppression.expires.isoformat()}"
                    )
                continue
            finding.status = "suppressed"
            finding.suppression = f"config: {suppression.reason}"
            break
    return notes


class Anchors:
    """Where a file is, said the same way however the scan was invoked (``infra/``,
    ``./infra``, an absolute path, another checkout of the repository): relative to the root of
    its git repository, or its absolute real path outside one."""

    def __init__(self) -> None:
        self._roots: dict[str, str | None] = {}

    def __call__(self, file: str) -> str:
        real = os.path.realpath(file)
        root = self._root(os.path.dirname(real))
        return os.path.relpath(real, root).replace(os.sep, "/") if root else real

    def root_of(self, directory: str) -> str | None:
        """The root of the git repository holding ``directory`` (a real path), if any."""
        return self._root(directory)

    def _root(self, directory: str) -> str | None:
        visited: list[str] = []
        probe = directory
        found: str | None = None
        while True:
            if probe in self._roots:
                found = self._roots[probe]
                break
            visited.append(probe)
            if os.path.exists(os.path.join(probe, ".git")):
                found = probe
                break
            parent = os.path.dirname(probe)
            if parent == probe:
                break
            probe = parent
        for seen in visited:
            self._roots[seen] = found
        return found


def anchor(findings: Sequence[Finding]) -> None:
    anchors = Anchors()
    for finding in findings:
        finding.anchor = anchors(finding.file)


def write_baseline(findings: Sequence[Finding], path: str) -> int:
    entries = sorted(
        (
            {
                "fingerprint": f.fingerprint,
                "rule_id": f.rule_id,
                "file": f.file,
                "resource": f.resource,
            }
            for f in findings
            if f.status == "open"
        ),
        key=lambda e: (e["file"], e["rule_id"], e["resource"]),
    )
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"version": 2, "findings": entries}, handle, indent=2)
        handle.write("\n")
    return len(entries)


def read_baseline(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as error:
        raise PolicyError(f"cannot read baseline: {error.strerror}", file=path) from error
    except ValueError as error:
        raise PolicyError(
            f"baseline is not JSON: {error}", file=path, line=getattr(error, "lineno", None)
        ) from error
    if not isinstance(data, dict) or not isinstance(data.get("findings"), list):
        raise PolicyError("baseline must hold {'findings': [...]}", file=path, field="findings")
    return {str(e.get("fingerprint")) for e in data["findings"] if isinstance(e, dict)}


def apply_baseline(findings: Sequence[Finding], fingerprints: set[str]) -> int:
    count = 0
    for finding in findings:
        if finding.status == "open" and (
            finding.fingerprint in fingerprints or finding.legacy_fingerprint in fingerprints
        ):
            finding.status = "baselined"
            count += 1
    return count
