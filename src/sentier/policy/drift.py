"""Drift: a Terraform state (v4) compared with a snapshot of the live inventory.

Reports resources unmanaged (live, not in state), missing (in state, not live) and changed
(attribute differences on the attributes listed per type in ``data/drift-types.yaml``, so
computed and volatile attributes — timestamps, etags, generated ids — never count).
Inventories: AWS Config snapshots, Azure Resource Graph query results, Google Cloud Asset
Inventory exports (JSON array or newline-delimited), and a provider-neutral JSON format::

    {"resources": [{"type": "aws_s3_bucket", "id": "logs", "attributes": {"tags": {...}}}]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from sentier.policy.errors import PolicyError
from sentier.policy.loaders.terraform_json import read_state_file

INVENTORY_FORMATS = ("auto", "aws-config", "azure-resource-graph", "gcp-asset", "sentier")


@dataclass
class LiveResource:
    kind: str  # the inventory's own type name
    tf_type: str | None
    ids: set[str]
    name: str
    item: dict[str, Any]
    line: int | None = None


@dataclass
class DriftReport:
    state: str
    inventory: str
    inventory_format: str
    managed: int = 0
    live: int = 0
    unmanaged: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    not_comparable: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        return bool(self.unmanaged or self.missing or self.changed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "inventory": self.inventory,
            "inventory_format": self.inventory_format,
            "managed": self.managed,
            "live": self.live,
            "unmanaged": self.unmanaged,
            "missing": self.missing,
            "changed": self.changed,
            "not_comparable_types": sorted(set(self.not_comparable)),
        }


@lru_cache(maxsize=1)
def type_table() -> dict[str, dict[str, Any]]:
    path = Path(__file__).with_name("data") / "drift-types.yaml"
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _reverse(key: str) -> dict[str, str]:
    return {str(v[key]).lower(): k for k, v in type_table().items() if key in v}


def _norm_id(value: str) -> str:
    text = str(value).strip().lower()
    if text.startswith("//"):
        text = text[2:].split("/", 1)[1] if "/" in text[2:] else text
    if text.startswith("https://www.googleapis.com/compute/v1/"):
        text = text.removeprefix("https://www.googleapis.com/compute/v1/")
    return text.rstrip("/")


def _get(item: Any, dotted: str) -> Any:
    value = item
    for part in dotted.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        raise PolicyError(f"cannot read: {error.strerror}", file=path) from error


def _parse_json(text: str, path: str) -> Any:
    stripped = text.lstrip()
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        if stripped.startswith("{") and "\n{" in stripped:
            items = []
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as inner:
                    raise PolicyError(
                        f"invalid JSON line: {inner.msg}", file=path, line=number
                    ) from inner
            return items
        raise PolicyError(f"invalid JSON: {error.msg}", file=path, line=error.lineno) from error


def detect_format(data: Any) -> str:
    if isinstance(data, dict) and "configurationItems" in data:
        return "aws-config"
    if isinstance(data, dict) and isinstance(data.get("resources"), list):
        return "sentier"
    items = data.get("data") if isinstance(data, dict) else data
    if isinstance(items, list) and items and isinstance(items[0], dict):
        first = items[0]
        if "asset_type" in first or "assetType" in first:
            return "gcp-asset"
        if "id" in first and str(first.get("id", "")).lower().startswith("/subscriptions/"):
            return "azure-resource-graph"
    raise PolicyError("unrecognised inventory format; pass --inventory-format")


def load_inventory(path: str, fmt: str = "auto") -> tuple[str, list[LiveResource]]:
    data = _parse_json(_read(path), path)
    if fmt == "auto":
        try:
            fmt = detect_format(data)
        except PolicyError as error:
            raise PolicyError(error.message, file=path) from error
    if fmt == "aws-config":
        return fmt, _aws_config(data, path)
    if fmt == "azure-resource-graph":
        return fmt, _azure(data, path)
    if fmt == "gcp-asset":
        return fmt, _gcp(data, path)
    if fmt == "sentier":
        return fmt, _neutral(data, path)
    raise PolicyError(f"unknown inventory format {fmt}", file=path)


def _aws_config(data: Any, path: str) -> list[LiveResource]:
    items = data.get("configurationItems") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise PolicyError(
            "an AWS Config snapshot needs configurationItems", file=path, field="configurationItems"
        )
    reverse = _reverse("aws_config")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "resourceType" not in item:
            raise PolicyError(
                "configuration item without resourceType",
                file=path,
                field=f"configurationItems[{index}]",
            )
        if item.get("configurationItemStatus") in ("ResourceDeleted", "ResourceDeletedNotRecorded"):
            continue
        ids = {
            _norm_id(v)
            for v in (item.get("resourceId"), item.get("resourceName"), item.get("ARN"))
            if v
        }
        kind = str(item["resourceType"])
        out.append(
            LiveResource(
                kind,
                reverse.get(kind.lower()),
                ids,
                str(item.get("resourceName") or item.get("resourceId")),
                item,
            )
        )
    return out


def _azure(data: Any, path: str) -> list[LiveResource]:
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise PolicyError("Resource Graph results need a data list", file=path, field="data")
    reverse = _reverse("azure")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item:
            raise PolicyError("result row without id", file=path, field=f"data[{index}]")
        kind = str(item.get("type", ""))
        out.append(
            LiveResource(
                kind,
                reverse.get(kind.lower()),
                {_norm_id(item["id"])},
                str(item.get("name", "")),
                item,
            )
        )
    return out


def _gcp(data: Any, path: str) -> list[LiveResource]:
    items = (
        data if isinstance(data, list) else data.get("assets") if isinstance(data, dict) else None
    )
    if not isinstance(items, list):
        raise PolicyError("an asset export is a JSON array or one asset per line", file=path)
    reverse = _reverse("gcp")
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "name" not in item:
            raise PolicyError("asset without name", file=path, field=f"[{index}]")
        kind = str(item.get("asset_type") or item.get("assetType") or "")
        name = str(item["name"])
        short = name.rsplit("/", 1)[-1]
        ids = {_norm_id(name), short.lower()}
        self_link = _get(item, "resource.data.selfLink")
        if self_link:
            ids.add(_norm_id(str(self_link)))
        out.append(LiveResource(kind, reverse.get(kind.lower()), ids, short, item))
    return out


def _neutral(data: Any, path: str) -> list[LiveResource]:
    out = []
    for index, item in enumerate(data["resources"]):
        if not isinstance(item, dict) or "type" not in item or "id" not in item:
            raise PolicyError(
                "a resource needs type and id", file=path, field=f"resources[{index}]"
            )
        ids = {_norm_id(str(item["id"]))}
        if item.get("name"):
            ids.add(_norm_id(str(item["name"])))
        out.append(
            LiveResource(
                str(item["type"]),
                str(item["type"]),
                ids,
                str(item.get("name") or item["id"]),
                {"attributes": item.get("attributes") or {}},
            )
        )
    return out


def _state_ids(attrs: dict[str, Any]) -> set[str]:
    out = set()
    for key in ("id", "arn", "name", "bucket", "self_link", "identifier"):
        value = attrs.get(key)
        if isinstance(value, str) and value:
            out.add(_norm_id(value))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, list):
        # AWS Config lists tags as [{"key":..,"value":..}] in some items.
        b = {
            str(t.get("key") or t.get("Key")): t.get("value") or t.get("Value")
            for t in b
            if isinstance(t, dict)
        }
    if isinstance(a, dict) and isinstance(b, dict):
        return {str(k): str(v) for k, v in a.items()} == {str(k): str(v) for k, v in b.items()}
    if isinstance(a, list) and isinstance(b, list):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    return str(a).strip().lower() == str(b).strip().lower()


def detect_drift(
    state_path: str, inventory_path: str, *, inventory_format: str = "auto"
) -> DriftReport:
    state_resources, _ = read_state_file(state_path)
    fmt, live = load_inventory(inventory_path, inventory_format)
    table = type_table()
    report = DriftReport(state_path, inventory_path, fmt, live=len(live))
    by_type: dict[str, list[LiveResource]] = {}
    for item in live:
        if item.tf_type:
            by_type.setdefault(item.tf_type, []).append(item)
    matched: set[int] = set()
    for resource in state_resources:
        report.managed += 1
        spec = table.get(resource.type)
        if spec is None and fmt != "sentier":
            report.not_comparable.append(resource.type)
            continue
        ids = _state_ids(resource.attrs)
        candidate = next(
            (i for i in by_type.get(resource.type, []) if id(i) not in matched and i.ids & ids),
            None,
        )
        where = {
            "address": resource.address,
            "type": resource.type,
            "file": resource.file,
            "line": resource.line,
        }
        if candidate is None:
            report.missing.append({**where, "id": resource.attrs.get("id")})
            continue
        matched.add(id(candidate))
        if fmt == "sentier":
            compare = {k: f"attributes.{k}" for k in candidate.item.get("attributes", {})}
        else:
            compare = dict((spec or {}).get("compare") or {})
        differences = []
        for tf_attr, live_path in compare.items():
            want = resource.attrs.get(tf_attr)
            have = _get(candidate.item, live_path)
            if want is None or have is None:
                continue
            if not _same(want, have):
                differences.append({"attribute": tf_attr, "state": want, "live": have})
        if differences:
            report.changed.append(
                {**where, "id": resource.attrs.get("id"), "differences": differences}
            )
    for item in live:
        if id(item) in matched:
            continue
        if item.tf_type is None:
            report.not_comparable.append(item.kind)
            continue
        report.unmanaged.append(
            {
                "type": item.tf_type,
                "inventory_type": item.kind,
                "name": item.name,
                "ids": sorted(item.ids),
            }
        )
    return report


def render_text(report: DriftReport) -> str:
    lines = [
        f"state {report.state}: {report.managed} managed resources; inventory {report.inventory} "
        f"({report.inventory_format}): {report.live} live resources"
    ]
    for item in report.missing:
        lines.append(
            f"MISSING   {item['address']} ({item['file']}:{item['line']}) is in state but not live"
        )
    for item in report.unmanaged:
        lines.append(f"UNMANAGED {item['type']} {item['name']} is live but in no state")
    for item in report.changed:
        for diff in item["differences"]:
            lines.append(
                f"CHANGED   {item['address']}.{diff['attribute']}: state {json.dumps(diff['state'], default=str)} "  # noqa: E501
                f"!= live {json.dumps(diff['live'], default=str)}"
            )
    lines.append(
        f"{len(report.missing)} missing, {len(report.unmanaged)} unmanaged, {len(report.changed)} changed"  # noqa: E501
        + (
            f"; types not compared: {', '.join(sorted(set(report.not_comparable)))}"
            if report.not_comparable
            else ""
        )
    )
    return "\n".join(lines) + "\n"


def exists(path: str) -> bool:
    return os.path.exists(path)
