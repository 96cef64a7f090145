"""What GitHub code scanning requires of an uploaded SARIF file, beyond the OASIS schema
(GitHub's "SARIF support for code scanning" page: the properties it reads, and its upload
limits), as checks that each pass or name what failed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# GitHub's upload limits per run.
MAX_RESULTS = 25_000
MAX_RULES = 25_000
MAX_LOCATIONS = 1_000
MAX_TAGS = 20


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def github_checks(document: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """Each check's name and the problems it found (empty: passed)."""
    checks: dict[str, list[str]] = {
        "version 2.1.0, one run at least": [],
        "rules: id, shortDescription, help text": [],
        "rules: helpUri (absolute http(s))": [],
        "rules: security-severity in 0..10": [],
        "rules: at most 20 tags": [],
        "results: ruleId names a rule, ruleIndex points at it": [],
        "results: partialFingerprints": [],
        "results: message text": [],
        "locations: relative uri with uriBaseId %SRCROOT%": [],
        "originalUriBaseIds: %SRCROOT% absolute, ends with /": [],
        "locations: region.startLine >= 1": [],
        "upload limits (results, rules, locations)": [],
    }
    if document.get("version") != "2.1.0" or not document.get("runs"):
        checks["version 2.1.0, one run at least"].append("version or runs missing")
    for r, run in enumerate(document.get("runs") or []):
        rules = run.get("tool", {}).get("driver", {}).get("rules") or []
        ids = [rule.get("id") for rule in rules]
        for rule in rules:
            name = rule.get("id") or "?"
            if not (
                rule.get("id")
                and rule.get("shortDescription", {}).get("text")
                and rule.get("help", {}).get("text")
            ):
                checks["rules: id, shortDescription, help text"].append(name)
            uri = urlsplit(rule.get("helpUri") or "")
            if uri.scheme not in {"http", "https"} or not uri.netloc:
                checks["rules: helpUri (absolute http(s))"].append(name)
            severity = _number(rule.get("properties", {}).get("security-severity"))
            if severity is None or not 0.0 <= severity <= 10.0:
                checks["rules: security-severity in 0..10"].append(name)
            if len(rule.get("properties", {}).get("tags") or []) > MAX_TAGS:
                checks["rules: at most 20 tags"].append(name)
        bases = run.get("originalUriBaseIds") or {}
        srcroot = (bases.get("%SRCROOT%") or {}).get("uri", "")
        if urlsplit(srcroot).scheme != "file" or not srcroot.endswith("/"):
            checks["originalUriBaseIds: %SRCROOT% absolute, ends with /"].append(
                f"run {r}: {srcroot!r}"
            )
        results = run.get("results") or []
        if len(results) > MAX_RESULTS or len(rules) > MAX_RULES:
            checks["upload limits (results, rules, locations)"].append(f"run {r}")
        for i, result in enumerate(results):
            where = f"run {r} result {i}"
            index = result.get("ruleIndex")
            if (
                result.get("ruleId") not in ids
                or not isinstance(index, int)
                or not 0 <= index < len(ids)
                or ids[index] != result.get("ruleId")
            ):
                checks["results: ruleId names a rule, ruleIndex points at it"].append(where)
            if not result.get("partialFingerprints"):
                checks["results: partialFingerprints"].append(where)
            if not result.get("message", {}).get("text"):
                checks["results: message text"].append(where)
            locations = result.get("locations") or []
            if len(locations) > MAX_LOCATIONS:
                checks["upload limits (results, rules, locations)"].append(where)
            if not locations:
                checks["locations: relative uri with uriBaseId %SRCROOT%"].append(where)
            for location in locations:
                physical = location.get("physicalLocation", {})
                artifact = physical.get("artifactLocation", {})
                uri = artifact.get("uri", "")
                if (
                    artifact.get("uriBaseId") != "%SRCROOT%"
                    or "%SRCROOT%" not in bases
                    or urlsplit(uri).scheme
                    or uri.startswith(("/", "../"))
                    or not uri
                ):
                    checks["locations: relative uri with uriBaseId %SRCROOT%"].append(
                        f"{where}: {artifact}"
                    )
                if (physical.get("region", {}).get("startLine") or 0) < 1:
                    checks["locations: region.startLine >= 1"].append(where)
    return list(checks.items())


def schema_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Errors against the OASIS SARIF 2.1.0 JSON schema (draft 4), formats checked."""
    import jsonschema

    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(document)]
