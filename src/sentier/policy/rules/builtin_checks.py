"""The Python escape hatch: checks the declarative form cannot say, referenced by name.

A rule uses one with ``fail: {python: NAME, option: value}``; the function receives the
context, the resource and the element path, and returns ``(True|False|None, witnesses)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentier.policy.model import Path, Resource, Unknown

if TYPE_CHECKING:
    from sentier.policy.rules.engine import Context

Outcome = tuple[bool | None, list[tuple[tuple[str, int], str | None]]]


def _get(resource: Resource, base: Path, *keys: str) -> Any:
    return resource.get((*base, *keys))


def k8s_runs_as_root(ctx: Context, resource: Resource, base: Path) -> Outcome:
    """A container runs as root unless its (or its pod's) user is non-zero or non-root is set."""
    pod = tuple((resource.meta.get("views") or {}).get("pod") or ())
    c_user = _get(resource, base, "securityContext", "runAsUser")
    c_nonroot = _get(resource, base, "securityContext", "runAsNonRoot")
    p_user = _get(resource, pod, "securityContext", "runAsUser")
    p_nonroot = _get(resource, pod, "securityContext", "runAsNonRoot")
    if isinstance(c_user, Unknown) or isinstance(p_user, Unknown):
        return None, []
    if c_user is not None:
        if int(c_user) == 0:
            return True, [(resource.loc_of((*base, "securityContext", "runAsUser")), None)]
        return False, []
    if p_user is not None:
        if int(p_user) == 0:
            return True, [(resource.loc_of((*pod, "securityContext", "runAsUser")), None)]
        return False, []
    nonroot = c_nonroot if c_nonroot is not None else p_nonroot
    if nonroot is True:
        return False, []
    return True, [(resource.loc_of(base), None)]


def tagging(ctx: Context, resource: Resource, base: Path, attribute: str = "tags") -> Outcome:
    """Tags checked against the shared tagging plan (``sentier.tagging``)."""
    plan = ctx.tagging_plan
    if plan is None:
        return False, []
    tags = resource.attrs.get(attribute)
    if tags is None and attribute == "tags":
        tags = resource.attrs.get("labels")
    if isinstance(tags, Unknown):
        return None, []
    if tags is not None and not isinstance(tags, dict):
        return None, []
    known = {k: v for k, v in (tags or {}).items() if not isinstance(v, Unknown)}
    violations = plan.check(known)
    unknown_keys = {
        plan.canonical_key(k) for k, v in (tags or {}).items() if isinstance(v, Unknown)
    }
    violations = [v for v in violations if v.key not in unknown_keys]
    if not violations:
        return False, []
    message = "; ".join(v.message for v in violations)
    loc = resource.loc_of((attribute,)) if tags is not None else (resource.file, resource.line)
    return True, [(loc, message)]


def sovereignty(ctx: Context, resource: Resource, base: Path) -> Outcome:
    """Provider region allowed for the data classification of the resource."""
    from sentier.policy.sovereignty_check import judge

    return judge(ctx, resource)


def guardrail_tags(
    ctx: Context, resource: Resource, base: Path, keys: list[str] | None = None
) -> Outcome:
    tags = resource.attrs.get("tags")
    if isinstance(tags, Unknown):
        return None, []
    missing = [k for k in keys or [] if not isinstance(tags, dict) or k not in tags]
    if not missing:
        return False, []
    return True, [(resource.loc_of(("tags",)), f"missing tags: {', '.join(missing)}")]


CHECKS: dict[str, Callable[..., Any]] = {
    "k8s_runs_as_root": k8s_runs_as_root,
    "tagging": tagging,
    "sovereignty": sovereignty,
    "guardrail_tags": guardrail_tags,
}
