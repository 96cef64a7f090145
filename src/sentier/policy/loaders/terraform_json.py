"""Terraform plan JSON (``terraform show -json plan.out``) and state JSON (format version 4).

Both are read with the YAML C loader, which keeps the line of every key (JSON is YAML), so a
finding on a plan still points at a line of the plan file. Values the plan marks as known only
after apply (``after_unknown``) become ``Unknown``.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from sentier.policy.errors import PolicyError
from sentier.policy.model import UNKNOWN, LoadResult, Loc, ParseProblem, Path, Resource

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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
    value: Any = getattr(node, "value", None)
    if getattr(node, "style", None) == '"':
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    if value == "null":
        return None
    try:
        return int(value)
    except ValueError:
        try:
            return float(value)
        except ValueError:
            return value


def read_json_with_lines(text: str, file: str) -> tuple[Any, dict[Path, Loc]]:
    """The document and the line of every value; nesting deeper than the readers recurse is
    refused as invalid input (a plan's values are never nested that deep)."""
    try:
        return _read_json_with_lines(text, file)
    except RecursionError as error:
        raise PolicyError("invalid JSON: nested too deeply", file=file, line=1) from error


def _read_json_with_lines(text: str, file: str) -> tuple[Any, dict[Path, Loc]]:
    locs: dict[Path, Loc] = {}
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        node = None
    if node is None:
        try:
            return json.loads(text), {}
        except json.JSONDecodeError as error:
            raise PolicyError(
                f"invalid JSON: {error.msg}", file=file, line=getattr(error, "lineno", None)
            ) from error
    return _construct(node, (), file, locs), locs


def kind_of(data: Any) -> str | None:
    if not isinstance(data, dict):
        return None
    if "planned_values" in data or "resource_changes" in data:
        return "plan"
    if data.get("version") == 4 and isinstance(data.get("resources"), list):
        return "state"
    return None


def _sub(locs: dict[Path, Loc], prefix: Path) -> dict[Path, Loc]:
    size = len(prefix)
    return {p[size:]: loc for p, loc in locs.items() if p[:size] == prefix}


def _apply_unknown(values: Any, unknown: Any) -> Any:
    if unknown is True:
        return UNKNOWN
    if isinstance(unknown, dict) and isinstance(values, dict):
        out = dict(values)
        for key, flag in unknown.items():
            out[key] = _apply_unknown(values.get(key), flag)
        return out
    if isinstance(unknown, list) and isinstance(values, list):
        return [
            _apply_unknown(v, unknown[i] if i < len(unknown) else False)
            for i, v in enumerate(values)
        ]
    return values


def load_plan(data: dict[str, Any], locs: dict[Path, Loc], file: str) -> LoadResult:
    result = LoadResult(files=[file])
    unknown_by_address: dict[str, Any] = {}
    for change in data.get("resource_changes") or []:
        after_unknown = (change.get("change") or {}).get("after_unknown")
        if change.get("address") and after_unknown:
            unknown_by_address[change["address"]] = after_unknown

    def walk(module: dict[str, Any], prefix: Path) -> None:
        for index, item in enumerate(module.get("resources") or []):
            path = (*prefix, "resources", index)
            values = item.get("values") or {}
            address = str(item.get("address"))
            values = _apply_unknown(values, unknown_by_address.get(address))
            mode = item.get("mode", "managed")
            base = address.split("[", 1)[0]
            result.resources.append(
                Resource(
                    type=str(item.get("type")),
                    name=str(item.get("name")),
                    address=address,
                    file=file,
                    line=locs.get((*path, "address"), (file, 1))[1],
                    attrs=values,
                    locs=_sub(locs, (*path, "values")),
                    kind="data" if mode == "data" else "resource",
                    source="plan",
                    module_path=str(module.get("address") or ""),
                    base_address=base,
                    meta={"provider_name": item.get("provider_name")},
                )
            )
        for index, child in enumerate(module.get("child_modules") or []):
            walk(child, (*prefix, "child_modules", index))

    root = (data.get("planned_values") or {}).get("root_module")
    if isinstance(root, dict):
        walk(root, ("planned_values", "root_module"))
    return result


def state_resources(data: dict[str, Any], locs: dict[Path, Loc], file: str) -> list[Resource]:
    out: list[Resource] = []
    for r_index, item in enumerate(data.get("resources") or []):
        if not isinstance(item, dict):
            continue
        mode = item.get("mode", "managed")
        module = str(item.get("module") or "")
        base = f"{module + '.' if module else ''}{'data.' if mode == 'data' else ''}{item.get('type')}.{item.get('name')}"  # noqa: E501
        for i_index, instance in enumerate(item.get("instances") or []):
            key = instance.get("index_key")
            suffix = "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
            path = ("resources", r_index, "instances", i_index)
            out.append(
                Resource(
                    type=str(item.get("type")),
                    name=str(item.get("name")),
                    address=base + suffix,
                    file=file,
                    line=locs.get(path, locs.get(("resources", r_index), (file, 1)))[1],
                    attrs=instance.get("attributes") or {},
                    locs=_sub(locs, (*path, "attributes")),
                    kind="data" if mode == "data" else "resource",
                    source="state",
                    module_path=module,
                    base_address=base,
                    meta={"provider": item.get("provider")},
                )
            )
    return out


def load_state(data: dict[str, Any], locs: dict[Path, Loc], file: str) -> LoadResult:
    return LoadResult(
        resources=[r for r in state_resources(data, locs, file) if r.kind == "resource"],
        files=[file],
    )


def read_state_file(path: str) -> tuple[list[Resource], dict[str, Any]]:
    """A state file (v4) for drift: its managed resources; errors name the file and line."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise PolicyError(f"cannot read: {error.strerror}", file=path) from error
    data, locs = read_json_with_lines(text, path)
    if not isinstance(data, dict) or data.get("version") != 4:
        raise PolicyError(
            "not a Terraform state of format version 4", file=path, line=1, field="version"
        )
    return [r for r in state_resources(data, locs, path) if r.kind == "resource"], data


def load_json_file(text: str, file: str) -> LoadResult:
    try:
        data, locs = read_json_with_lines(text, file)
    except PolicyError as error:
        return LoadResult(
            problems=[ParseProblem(file, error.line or 1, error.message)], files=[file]
        )
    kind = kind_of(data)
    if kind == "plan":
        return load_plan(data, locs, file)
    if kind == "state":
        return load_state(data, locs, file)
    return LoadResult()
