"""Validation of one descriptor document against Backstage's rules.

Returns field-level issues (``spec.owner``: ``required``) rather than raising, so that a file
with one bad entity still yields its good ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sentier.catalog import formats
from sentier.catalog.kinds import KINDS, ROOT_FIELDS, Metadata, _MissingField
from sentier.catalog.refs import DEFAULT_NAMESPACE

_TYPE_WORDS = {
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "bool_type": "must be a boolean",
    "missing": "required",
}


@dataclass(frozen=True, slots=True)
class FieldIssue:
    field: str
    message: str
    severity: str = "error"


def _path(loc: tuple[Any, ...], prefix: str) -> str:
    out = prefix
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _issues(error: ValidationError, prefix: str) -> list[FieldIssue]:
    issues = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, _MissingField):
            loc = (*loc, cause.field)
            message = str(cause)
        elif item["type"] in _TYPE_WORDS:
            message = _TYPE_WORDS[item["type"]]
        elif item["type"] == "string_too_short":
            message = "must not be empty"
        elif item["type"] == "value_error":
            message = str(cause) if cause else item["msg"]
        else:
            message = item["msg"]
        issues.append(FieldIssue(_path(loc, prefix), message))
    return issues


def validate_document(doc: Any) -> tuple[dict[str, Any] | None, list[FieldIssue]]:
    """Check one YAML document; return the entity (namespace defaulted) or the issues found."""
    if not isinstance(doc, dict):
        return None, [FieldIssue("", "document is not a mapping (expected an entity)")]
    issues: list[FieldIssue] = []
    for key in doc:
        if key not in ROOT_FIELDS:
            issues.append(FieldIssue(str(key), "unknown root field"))

    kind = doc.get("kind")
    api_version = doc.get("apiVersion")
    if kind is None:
        issues.append(FieldIssue("kind", "required"))
    elif not formats.is_valid_kind(kind):
        issues.append(FieldIssue("kind", f'"{kind}" is not a valid kind'))
    if api_version is None:
        issues.append(FieldIssue("apiVersion", "required"))
    elif not formats.is_valid_api_version(api_version):
        issues.append(FieldIssue("apiVersion", f'"{api_version}" is not a valid apiVersion'))

    known = KINDS.get(kind) if isinstance(kind, str) else None
    if isinstance(kind, str) and formats.is_valid_kind(kind) and known is None:
        issues.append(
            FieldIssue("kind", f'unsupported kind "{kind}" (supported: {", ".join(KINDS)})')
        )
    if known and isinstance(api_version, str) and api_version not in known[0]:
        issues.append(
            FieldIssue(
                "apiVersion",
                f'"{api_version}" is not supported for kind {kind} '
                f"(expected {' or '.join(known[0])})",
            )
        )

    metadata = doc.get("metadata")
    if metadata is None:
        issues.append(FieldIssue("metadata", "required"))
    else:
        try:
            Metadata.model_validate(metadata)
        except ValidationError as error:
            issues.extend(_issues(error, "metadata"))

    if known:
        spec = doc.get("spec")
        _versions, spec_model, spec_required = known
        if spec is None and spec_required:
            issues.append(FieldIssue("spec", "required"))
        elif spec is not None:
            try:
                spec_model.model_validate(spec)
            except ValidationError as error:
                issues.extend(_issues(error, "spec"))

    if issues:
        return None, issues
    entity = dict(doc)
    meta = dict(metadata) if isinstance(metadata, dict) else {}
    meta.setdefault("namespace", DEFAULT_NAMESPACE)
    meta.pop("uid", None)
    meta.pop("etag", None)
    entity["metadata"] = meta
    entity.pop("relations", None)
    entity.pop("status", None)
    return entity, []
