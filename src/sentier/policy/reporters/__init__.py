"""Reporters: a scan result as text, JSON, SARIF 2.1.0 (GitHub code scanning) or JUnit XML."""

from __future__ import annotations

import json
import os
from html import escape as _html_escape
from typing import Any

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


def _uri(path: str) -> str:
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return relative.replace(os.sep, "/")


def to_sarif(result: ScanResult) -> str:
    rules: dict[str, Finding] = {}
    for finding in result.findings:
        rules.setdefault(finding.rule_id, finding)
    rule_ids = sorted(rules)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver_rules = []
    for rule_id in rule_ids:
        f = rules[rule_id]
        entry: dict[str, Any] = {
            "id": rule_id,
            "name": "".join(w.capitalize() for w in f.title.split()[:8]) or rule_id,
            "shortDescription": {"text": f.title},
            "fullDescription": {"text": f.title},
            "help": {"text": f.remediation or f.title, "markdown": f.remediation or f.title},
            "defaultConfiguration": {"level": _SARIF_LEVEL[f.severity]},
            "properties": {
                "tags": ["security", f.category],
                "security-severity": _SECURITY_SEVERITY[f.severity],
                "precision": "high",
            },
        }
        if f.references:
            entry["helpUri"] = f.references[0]
        driver_rules.append(entry)
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
                        "artifactLocation": {"uri": _uri(f.file)},
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
                        "informationUri": "https://sentier.invalid/docs/policy",
                        "rules": driver_rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_junit(result: ScanResult) -> str:
    """One test case per rule; each open finding of a rule is a failure of its case."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    open_count = len(result.open)
    cases = []
    for rule_id in sorted(by_rule):
        findings = by_rule[rule_id]
        failures = [f for f in findings if f.status == "open"]
        body = "".join(
            f"<failure message={quoteattr(f.file + ':' + str(f.line) + ': ' + f.message)} type={quoteattr(f.severity)}>"  # noqa: E501
            f"{escape(f.file)}:{f.line}: {escape(f.message)} ({escape(f.resource)})</failure>"
            for f in failures
        )
        skipped = "" if failures else '<skipped message="all findings suppressed or baselined"/>'
        cases.append(
            f'<testcase classname="sentier.{escape(findings[0].pack)}" name={quoteattr(rule_id + " " + findings[0].title)}>'  # noqa: E501
            f"{body}{skipped}</testcase>"
        )
    if not cases:
        cases.append('<testcase classname="sentier" name="no findings"/>')
    failing_cases = sum(1 for r in by_rule.values() if any(f.status == "open" for f in r))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<testsuites name="sentier scan" tests="{max(1, len(by_rule))}" failures="{failing_cases}">'  # noqa: E501
        f'<testsuite name="sentier" tests="{max(1, len(by_rule))}" failures="{failing_cases}" '
        f'errors="0" time="{result.duration_s:.3f}"><properties><property name="open_findings" value="{open_count}"/></properties>'  # noqa: E501
        + "".join(cases)
        + "</testsuite></testsuites>\n"
    )
