"""The Python escape hatch: checks the declarative form cannot say, referenced by name.

A rule uses one with ``fail: {python: NAME, option: value}``; the function receives the
context, the resource and the element path, and returns ``(True|False|None, witnesses)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sentier.policy.model import Path, Resource, Unknown
from sentier.policy.rules.paths import parse_path

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


def _view(resource: Resource, name: str) -> Path:
    return tuple((resource.meta.get("views") or {}).get(name) or ())


def k8s_apparmor_unconfined(ctx: Context, resource: Resource, base: Path) -> Outcome:
    """A container whose effective AppArmor profile is Unconfined, set by the securityContext
    field (container, else pod) or by the older per-container annotation on the pod."""
    field = ("securityContext", "appArmorProfile", "type")
    own = _get(resource, base, *field)
    pod = _view(resource, "pod")
    inherited = _get(resource, pod, *field) if own is None else None
    for path, value in (((*base, *field), own), ((*pod, *field), inherited)):
        if isinstance(value, Unknown):
            return None, []
        if isinstance(value, str) and value.lower() == "unconfined":
            return True, [(resource.loc_of(path), None)]
    name = _get(resource, base, "name")
    if isinstance(name, str):
        key = f"container.apparmor.security.beta.kubernetes.io/{name}"
        annotations_path = (*_view(resource, "podmeta"), "annotations")
        value = resource.get((*annotations_path, key))
        if isinstance(value, str) and value.strip().lower() == "unconfined":
            return True, [(resource.loc_of((*annotations_path, key)), None)]
    return False, []


def _denies_all_ingress(policy: Resource) -> bool | None:
    spec = policy.attrs.get("spec")
    if not isinstance(spec, dict):
        return False
    selector = spec.get("podSelector")
    if isinstance(selector, Unknown) or isinstance(spec.get("ingress"), Unknown):
        return None
    if isinstance(selector, dict):
        if selector.get("matchLabels") or selector.get("matchExpressions"):
            return False
    elif selector is not None:
        return False
    types = spec.get("policyTypes")
    if isinstance(types, list) and "Ingress" not in types:
        return False
    return not spec.get("ingress")


def k8s_namespace_without_default_deny(ctx: Context, resource: Resource, base: Path) -> Outcome:
    """A Namespace with no NetworkPolicy that selects every pod and allows no ingress.

    Only namespaces declared in the scanned manifests are judged; policies are looked for
    across every scanned file."""
    namespace = resource.name
    unknown = False
    for policy in ctx.of_types(["NetworkPolicy"]):
        if policy.meta.get("namespace") != namespace:
            continue
        denies = _denies_all_ingress(policy)
        if denies:
            return False, []
        if denies is None:
            unknown = True
    if unknown:
        return None, []
    return True, [((resource.file, resource.line), None)]


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


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def duration_over(
    ctx: Context,
    resource: Resource,
    base: Path,
    attr: str = "",
    seconds: float = 0,
    missing_fails: bool = True,
) -> Outcome:
    """A Google duration (``"7776000s"``) longer than ``seconds``, or missing when that fails.

    The declarative ``gt`` cannot read the unit suffix; a value that is not a duration is
    left undetermined rather than guessed.
    """
    path = (*base, *parse_path(attr))
    value = resource.get(path)
    if isinstance(value, Unknown):
        return None, []
    if value is None:
        if not missing_fails:
            return False, []
        return True, [(present_parent(resource, path), None)]
    match = _DURATION.match(str(value))
    if match is None:
        return None, []
    if float(match.group(1)) > seconds:
        return True, [(resource.loc_of(path), None)]
    return False, []


def present_parent(resource: Resource, path: Path) -> tuple[str, int]:
    probe = path
    while probe and resource.get(probe) is None:
        probe = probe[:-1]
    return resource.loc_of(probe) if probe else (resource.file, resource.line)


CHECKS: dict[str, Callable[..., Any]] = {
    "k8s_apparmor_unconfined": k8s_apparmor_unconfined,
    "k8s_namespace_without_default_deny": k8s_namespace_without_default_deny,
    "duration_over": duration_over,
    "k8s_runs_as_root": k8s_runs_as_root,
    "tagging": tagging,
    "sovereignty": sovereignty,
    "guardrail_tags": guardrail_tags,
}
