"""The policy configuration file (``sentier-policy.yaml``): suppressions, path mappings,
organisation guardrails, the tagging plan and the sovereignty policy to use.

Example::

    suppressions:
      - rule: SNT-AWS-S3-LOGGING
        paths: ["legacy/**"]
        reason: log bucket itself
        expires: 2027-06-30
    path_mappings:
      - path: "services/payments/**"
        entity: component:default/payments
    tagging_plan: tagging-plan.yaml
    guardrails:
      - id: ORG-001
        title: Only approved instance types
        severity: medium
        checks:
          - resources: [aws_instance]
            fail: {attr: instance_type, not_in: [t3.micro, t3.small]}
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from sentier.policy.errors import PolicyError
from sentier.policy.suppress import PathSuppression, parse_suppressions

CONFIG_NAMES = ("sentier-policy.yaml", ".sentier-policy.yaml")


@dataclass
class PathMapping:
    pattern: str
    entity: str


@dataclass
class PolicyConfig:
    source: str | None = None
    suppressions: list[PathSuppression] = field(default_factory=list)
    path_mappings: list[PathMapping] = field(default_factory=list)
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    tagging_plan: str | None = None
    sovereignty: dict[str, Any] = field(default_factory=dict)
    rules_dirs: list[str] = field(default_factory=list)


def find_config(start: str = ".") -> str | None:
    for name in CONFIG_NAMES:
        candidate = os.path.join(start, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_config(path: str | None) -> PolicyConfig:
    if path is None:
        return PolicyConfig()
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as error:
        raise PolicyError(f"cannot read: {error.strerror}", file=path) from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        raise PolicyError(
            f"YAML syntax error: {error.problem}", file=path, line=mark.line + 1 if mark else None
        ) from error
    if not isinstance(data, dict):
        raise PolicyError("the policy configuration must be a mapping", file=path, line=1)
    base = os.path.dirname(path)
    mappings = []
    for index, item in enumerate(data.get("path_mappings") or []):
        if not isinstance(item, dict) or "path" not in item or "entity" not in item:
            raise PolicyError(
                "a path mapping needs path and entity", file=path, field=f"path_mappings[{index}]"
            )
        mappings.append(PathMapping(str(item["path"]), str(item["entity"])))
    plan = data.get("tagging_plan")
    guardrails = data.get("guardrails") or []
    if not isinstance(guardrails, list):
        raise PolicyError("guardrails must be a list of rules", file=path, field="guardrails")
    return PolicyConfig(
        source=path,
        suppressions=parse_suppressions(data.get("suppressions"), path),
        path_mappings=mappings,
        guardrails=guardrails,
        tagging_plan=os.path.join(base, str(plan)) if plan else None,
        sovereignty=dict(data.get("sovereignty") or {}),
        rules_dirs=[os.path.join(base, str(d)) for d in data.get("rules_dirs") or []],
    )
