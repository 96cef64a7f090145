"""Kubernetes manifests (multi-document YAML) read into resources with a line per attribute.

Every workload kind gets a ``pod`` view (where its pod spec lives: ``spec`` of a Pod,
``spec.template.spec`` of a Deployment, ``spec.jobTemplate.spec.template.spec`` of a CronJob,
Knative's ``spec.template.spec``) and a ``containers`` view (containers, init and ephemeral
containers), so one rule covers every kind. Workloads are linked to their ServiceAccount.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from sentier.policy.model import LoadResult, Loc, ParseProblem, Path, Resource

_SEPARATOR = re.compile(r"^---\s*(?:#.*)?$", re.MULTILINE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_POD_PATHS: tuple[tuple[str, ...], ...] = (
    ("spec", "jobTemplate", "spec", "template", "spec"),
    ("spec", "template", "spec"),
)
CONTAINER_KEYS = ("initContainers", "containers", "ephemeralContainers")


def _construct(node: yaml.Node, path: Path, file: str, locs: dict[Path, Loc]) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            sub = (*path, key)
            locs[sub] = (file, key_node.start_mark.line + 1)
            out[key] = _construct(value_node, sub, file, locs)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            sub = (*path, index)
            locs[sub] = (file, item.start_mark.line + 1)
            items.append(_construct(item, sub, file, locs))
        return items
    assert isinstance(node, yaml.ScalarNode)
    return _scalar(node)


_BOOL = {"true": True, "false": False, "yes": True, "no": False, "on": True, "off": False}


def _scalar(node: yaml.ScalarNode) -> Any:
    value = node.value
    if node.style in ("'", '"', "|", ">"):
        return value
    tag = node.tag
    if tag.endswith(":bool"):
        return _BOOL.get(value.lower(), value)
    if tag.endswith(":int"):
        try:
            return (
                int(value.replace("_", ""), 0)
                if value.lower().startswith("0x")
                else int(value.replace("_", ""))
            )
        except ValueError:
            return value
    if tag.endswith(":float"):
        try:
            return float(value)
        except ValueError:
            return value
    if tag.endswith(":null"):
        return None
    return value


def _documents(text: str) -> list[tuple[int, str]]:
    """Documents with the line each starts at (0-based), split so one broken one costs one."""
    out: list[tuple[int, str]] = []
    starts = [0] + [m.end() + 1 for m in _SEPARATOR.finditer(text)]
    ends = [m.start() for m in _SEPARATOR.finditer(text)] + [len(text)]
    for start, end in zip(starts, ends, strict=False):
        chunk = text[start:end] if start <= end else ""
        out.append((text.count("\n", 0, start), chunk))
    return out


def is_manifest(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("kind"), str)
        and isinstance(data.get("apiVersion"), str)
        and "backstage.io" not in str(data.get("apiVersion"))
    )


def load_manifest_text(text: str, file: str) -> LoadResult:
    result = LoadResult(files=[file])
    for offset, chunk in _documents(text):
        if not chunk.strip():
            continue
        padded = "\n" * offset + chunk
        try:
            node = yaml.compose(padded, Loader=_LOADER)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark else offset + 1
            problem = getattr(error, "problem", None) or str(error).splitlines()[0]
            result.problems.append(ParseProblem(file, line, f"YAML syntax error: {problem}"))
            continue
        if node is None:
            continue
        locs: dict[Path, Loc] = {}
        data = _construct(node, (), file, locs)
        if not is_manifest(data):
            continue
        result.resources.append(_resource(data, locs, file, node.start_mark.line + 1))
    _link_service_accounts(result.resources)
    return result


def _resource(data: dict[str, Any], locs: dict[Path, Loc], file: str, line: int) -> Resource:
    kind = str(data["kind"])
    raw_metadata = data.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    name = str(metadata.get("name") or metadata.get("generateName") or "unnamed")
    namespace = str(metadata.get("namespace") or "default")
    address = f"{kind}/{namespace}/{name}"
    views: dict[str, Any] = {}
    pod: tuple[str, ...] | None = None
    if kind == "Pod":
        pod = ("spec",) if isinstance(data.get("spec"), dict) else None
    else:
        for candidate in _POD_PATHS:
            probe: Any = data
            for step in candidate:
                probe = probe.get(step) if isinstance(probe, dict) else None
            if isinstance(probe, dict) and ("containers" in probe or "initContainers" in probe):
                pod = candidate
                break
    meta: dict[str, Any] = {"namespace": namespace, "api_version": data.get("apiVersion")}
    if pod is not None:
        views["pod"] = pod
        # The pod's own metadata (annotations such as AppArmor profiles live there).
        views["podmeta"] = ("metadata",) if kind == "Pod" else (*pod[:-1], "metadata")
        containers: list[Path] = []
        spec: Any = data
        for step in pod:
            spec = spec[step]
        for key in CONTAINER_KEYS:
            items = spec.get(key)
            if isinstance(items, list):
                containers.extend(
                    (*pod, key, i) for i, item in enumerate(items) if isinstance(item, dict)
                )
        views["containers"] = containers
        meta["workload"] = True
        meta["long_running"] = kind not in ("Job", "CronJob", "Pod") or kind == "Pod"
        meta["batch"] = kind in ("Job", "CronJob")
    meta["views"] = views
    return Resource(
        type=kind,
        name=name,
        address=address,
        file=file,
        line=line,
        attrs=data,
        locs=locs,
        kind="k8s",
        source="kubernetes",
        base_address=address,
        meta=meta,
    )


def _link_service_accounts(resources: list[Resource]) -> None:
    accounts = {
        (r.meta.get("namespace"), r.name): r for r in resources if r.type == "ServiceAccount"
    }
    for resource in resources:
        pod = (resource.meta.get("views") or {}).get("pod")
        if pod is None:
            continue
        spec = resource.get(tuple(pod)) or {}
        account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        found = accounts.get((resource.meta.get("namespace"), str(account)))
        if found is not None:
            resource.meta.setdefault("links", {})["service_account"] = [found]


def link_all(resources: list[Resource]) -> None:
    """Link workloads to ServiceAccounts across files (manifests often split them)."""
    k8s = [r for r in resources if r.source == "kubernetes"]
    if k8s:
        _link_service_accounts(k8s)
