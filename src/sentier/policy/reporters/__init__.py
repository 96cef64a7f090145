"""Reporters: a scan result as text, JSON, SARIF 2.1.0 (GitHub code scanning) or JUnit XML."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC
from html import escape as _html_escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from sentier import __version__
from sentier.policy.rules.engine import Finding
from sentier.policy.scan import ScanResult

FORMATS = ("text", "json", "sarif", "junit")


# xml.sax.saxutils would do, but it imports urllib and http.client: a tenth of a scan's time.
def escape(text: str) -> str:
    return _html_escape(text, quote=False)


def quoteattr(text: str) -> str:
    escaped = _html_escape(text, quote=True)
    return '"' + escaped.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;") + '"'


_SARIF_LEVEL = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "note",
    "info": "note",
}
_SECURITY_SEVERITY = {
    "critical": "9.5",
    "high": "8.0",
    "medium": "5.5",
    "low": "3.0",
    "info": "1.0",
}


def render(result: ScanResult, fmt: str, *, show_suppressed: bool = False) -> str:
    if fmt == "json":
        return to_json(result)
    if fmt == "sarif":
        return to_sarif(result)
    if fmt == "junit":
        return to_junit(result)
    return to_text(result, show_suppressed=show_suppressed)


def to_text(result: ScanResult, *, show_suppressed: bool = False) -> str:
    lines: list[str] = []
    for finding in result.findings:
        if finding.status != "open" and not show_suppressed:
            continue
        status = (
            "" if finding.status == "open" else f" [{finding.status}: {finding.suppression or ''}]"
        )
        lines.append(
            f"{finding.file}:{finding.line}: {finding.severity.upper()} {finding.rule_id} "
            f"{finding.message} ({finding.resource}){status}"
        )
    s = result.summary()
    severities = ", ".join(f"{k} {v}" for k, v in sorted(s["by_severity"].items()))
    lines.append(
        f"{s['files']} files, {s['resources']} resources, {s['rules']} rules: "
        f"{s['open']} open findings{' (' + severities + ')' if severities else ''}, "
        f"{s['suppressed']} suppressed, {s['baselined']} baselined, "
        f"{s['undetermined']} undetermined (unknown values) in {s['duration_s']:.2f}s"
    )
    lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines) + "\n"


def to_json(result: ScanResult) -> str:
    return (
        json.dumps(
            {
                "summary": result.summary(),
                "findings": [f.as_dict() for f in result.findings],
                "notes": result.notes,
            },
            indent=2,
            ensure_ascii=False,
        )
        + "\n"
    )


SRCROOT = "%SRCROOT%"
INFORMATION_URI = "https://sentier.invalid/docs/policy"


def _root_uri(root: str) -> str:
    """``file:///abs/root/``: SARIF wants a base id's URI absolute and ending with a slash."""
    uri = Path(root).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _relative_uri(path: str, root: str) -> str | None:
    """``path`` relative to ``root`` as a URI reference (``infra/main.tf``, percent-encoded),
    whatever the working directory; None when it lies outside the root."""
    real = os.path.realpath(path)
    relative = os.path.relpath(real, root) if root else path
    if relative == ".." or relative.startswith(".." + os.sep) or os.path.isabs(relative):
        return None
    return quote(relative.replace(os.sep, "/"), safe="/")


def artifact_location(path: str, root: str) -> dict[str, str]:
    """Where a finding is: relative to %SRCROOT% (the scan root); a file outside it (only an
    explicit caller's doing) keeps its absolute file URI, still naming the base it was read
    against so every location carries one."""
    relative = _relative_uri(path, root)
    if relative is None:
        return {"uri": Path(os.path.realpath(path)).as_uri(), "uriBaseId": SRCROOT}
    return {"uri": relative, "uriBaseId": SRCROOT}


def _help_uri(finding: Finding) -> str:
    """The rule's first reference; rules without one (custom rules, parse errors) point at the
    policy documentation, so every rule has a help link as GitHub code scanning shows it."""
    for reference in finding.references:
        if urlsplit(reference).scheme in {"http", "https"}:
            return reference
    return f"{INFORMATION_URI}#{quote(finding.rule_id, safe='')}"


def to_sarif(result: ScanResult) -> str:
    """SARIF 2.1.0 as GitHub code scanning reads it: one rule per rule id (``ruleIndex``), a
    ``security-severity`` and ``helpUri`` on every rule, ``partialFingerprints`` on every result,
    and locations relative to ``%SRCROOT%`` (the scan root, see ``scan_root``)."""
    root = result.root or os.path.realpath(".")
    rules: dict[str, Finding] = {}
    for finding in result.findings:
        rules.setdefault(finding.rule_id, finding)
    rule_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver_rules = []
    for rule_id in rule_ids:
        f = rules[rule_id]
        driver_rules.append(
            {
                "id": rule_id,
                "name": "".join(w.capitalize() for w in f.title.split()[:8]) or rule_id,
                "shortDescription": {"text": f.title},
                "fullDescription": {"text": f.title},
                "help": {"text": f.remediation or f.title, "markdown": f.remediation or f.title},
                "helpUri": _help_uri(f),
                "defaultConfiguration": {"level": _SARIF_LEVEL[f.severity]},
                "properties": {
                    "tags": ["security", f.category],
                    "security-severity": _SECURITY_SEVERITY[f.severity],
                    "precision": "high",
                },
            }
        )
    results = []
    for f in result.findings:
        item: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f"{f.message} ({f.resource})"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": artifact_location(f.file, root),
                        "region": {"startLine": max(1, f.line)},
                    }
                }
            ],
            "partialFingerprints": {"sentierFingerprint/v2": f.fingerprint},
        }
        if f.status != "open":
            item["suppressions"] = [
                {
                    "kind": "inSource"
                    if (f.suppression or "").startswith("inline")
                    else "external",
                    "justification": f.suppression or f.status,
                }
            ]
        results.append(item)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sentier",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": driver_rules,
                    }
                },
                "originalUriBaseIds": {
                    SRCROOT: {
                        "uri": _root_uri(root),
                        "description": {"text": "The scan root: the repository scanned."},
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _relative_path(path: str, root: str) -> str:
    real = os.path.realpath(path)
    relative = os.path.relpath(real, root) if root else path
    if relative.startswith(".."):
        return real
    return relative.replace(os.sep, "/")


def _case(finding: Finding, root: str) -> str:
    """One finding as a test case (classname: the rule; name: ``file:line resource``). An
    open finding fails its case; an accepted one (suppressed, baselined) passes it: neither
    Ant's schema nor every CI knows ``<skipped>``, and accepting a risk is not a failure."""
    location = f"{_relative_path(finding.file, root)}:{finding.line}"
    opening = (
        f"<testcase classname={quoteattr(finding.rule_id)} "
        f'name={quoteattr(location + " " + finding.resource)} time="0"'
    )
    if finding.status != "open":
        return opening + "/>"
    text = f"{finding.title}\n{location}: {finding.message} ({finding.resource})"
    if finding.remediation:
        text += f"\nRemediation: {finding.remediation}"
    return (
        f"{opening}><failure message={quoteattr(finding.message)} "
        f"type={quoteattr(finding.severity)}>{escape(text)}</failure></testcase>"
    )


def to_junit(result: ScanResult) -> str:
    """JUnit XML valid against both Jenkins xunit's ``junit-10.xsd`` and Apache Ant's JUnit
    schema: one suite, one test case per finding (see ``_case``); a scan without findings is one
    passing case, so CI never reads an empty report as a broken one.

    Per-case ``time`` is 0: rules run over all resources at once, a finding has no time of its
    own; the suite's ``time`` is the scan's."""
    root = result.root or os.path.realpath(".")
    cases = [_case(f, root) for f in result.findings]
    if not cases:
        cases.append('<testcase classname="sentier" name="no findings" time="0"/>')
    failures = len(result.open)
    accepted = [f for f in result.findings if f.status != "open"]
    out = "".join(
        escape(
            f"{f.status}: {f.rule_id} {_relative_path(f.file, root)}:{f.line} {f.resource}"
            f" ({f.suppression or f.status})\n"
        )
        for f in accepted
    )
    summary = result.summary()
    timestamp = result.started_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    properties = "".join(
        f"<property name={quoteattr(name)} value={quoteattr(str(value))}/>"
        for name, value in (
            ("root", root),
            ("files", summary["files"]),
            ("resources", summary["resources"]),
            ("rules", summary["rules"]),
            ("open_findings", summary["open"]),
            ("suppressed", summary["suppressed"]),
            ("baselined", summary["baselined"]),
        )
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<testsuites>"
        f'<testsuite name="sentier scan" package="sentier" id="0" tests="{len(cases)}" '
        f'failures="{failures}" errors="0" time="{result.duration_s:.3f}" '
        f'timestamp="{timestamp}" hostname={quoteattr(_hostname())}>'
        f"<properties>{properties}</properties>"
        + "".join(cases)
        + f"<system-out>{out}</system-out><system-err/>"
        + "</testsuite></testsuites>\n"
    )


def _hostname() -> str:
    """Ant's schema wants a non-empty host name; ``localhost`` when it cannot be told."""
    return (socket.gethostname() or "").strip() or "localhost"
