"""IAM policy documents, however they are written, read into one list of statements.

A policy arrives as a heredoc or a quoted JSON string, as ``jsonencode({...})``, as an
``aws_iam_policy_document`` data source with ``statement`` blocks, or as a map in plan JSON.
Each becomes statements ``{Effect, Action, NotAction, Resource, NotResource, Principal}`` with
list values, so one condition judges them all.
"""

from __future__ import annotations

import json
from typing import Any

from sentier.policy.hcl.functions import EncodedStr
from sentier.policy.model import Unknown


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return list(value)
    return [value]


def _principals(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        for item in value.values():
            out.extend(str(v) for v in _as_list(item))
        return out
    return [str(v) for v in _as_list(value)]


def parse_document(value: Any) -> dict[str, Any] | Unknown | None:
    """A policy document as a dict; None when it is not one; Unknown when not knowable."""
    if isinstance(value, Unknown):
        return value
    if isinstance(value, EncodedStr):
        value = value.data
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
    if isinstance(value, dict):
        return value
    return None


def statements(value: Any) -> list[dict[str, Any]] | Unknown | None:
    """Normalised statements of a JSON policy value."""
    document = parse_document(value)
    if document is None or isinstance(document, Unknown):
        return document
    out = []
    for raw in _as_list(document.get("Statement")):
        if not isinstance(raw, dict):
            continue
        out.append(
            {
                "Effect": raw.get("Effect", "Allow"),
                "Action": _as_list(raw.get("Action")),
                "NotAction": _as_list(raw.get("NotAction")),
                "Resource": _as_list(raw.get("Resource")),
                "NotResource": _as_list(raw.get("NotResource")),
                "Principal": _principals(raw.get("Principal")),
                "Condition": raw.get("Condition") or {},
            }
        )
    return out


def document_statements(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """Statements of an ``aws_iam_policy_document`` data source (statement blocks)."""
    out = []
    for raw in _as_list(attrs.get("statement")):
        if not isinstance(raw, dict):
            continue
        principals: list[str] = []
        for block in _as_list(raw.get("principals")):
            if isinstance(block, dict):
                principals.extend(str(v) for v in _as_list(block.get("identifiers")))
        out.append(
            {
                "Effect": raw.get("effect", "Allow"),
                "Action": _as_list(raw.get("actions")),
                "NotAction": _as_list(raw.get("not_actions")),
                "Resource": _as_list(raw.get("resources")),
                "NotResource": _as_list(raw.get("not_resources")),
                "Principal": principals,
                "Condition": _conditions(raw.get("condition")),
            }
        )
    return out


def _conditions(blocks: Any) -> dict[str, Any]:
    """``condition`` blocks of a policy document data source in the JSON shape
    (``{"Bool": {"aws:SecureTransport": ["false"]}}``), so one rule path reads both forms."""
    out: dict[str, Any] = {}
    for block in _as_list(blocks):
        if not isinstance(block, dict):
            continue
        test, variable = block.get("test"), block.get("variable")
        if isinstance(test, str) and isinstance(variable, str):
            out.setdefault(test, {})[variable] = _as_list(block.get("values"))
    return out


DOCUMENT_TYPE = "aws_iam_policy_document"
# A document built from other documents is only partly visible in its own blocks.
_MERGED = ("source_policy_documents", "override_policy_documents", "source_json", "override_json")


def referenced_document(value: Any, find: Any) -> list[dict[str, Any]] | Unknown | None:
    """Statements of the policy document data source an unknown value refers to
    (``policy = data.aws_iam_policy_document.x.json``), or the value itself when it is not
    such a reference; ``find`` maps an address to the resource holding it."""
    if not isinstance(value, Unknown) or len(value.refs) != 1:
        return value if isinstance(value, Unknown) else None
    (ref,) = value.refs
    if f"data.{DOCUMENT_TYPE}." not in ref:
        return value
    document = find(ref)
    if document is None or any(document.attrs.get(k) is not None for k in _MERGED):
        return value
    return document_statements(document.attrs)
