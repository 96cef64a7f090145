"""Tagging-plan keys pulled out of each line's ``Tags`` into columns, and their compliance.

Only the ``keys`` table carries tags, one row per distinct line description, so the plan's
own Python (``TaggingPlan.normalise`` and ``check``, shared with the policy engine) runs on
each distinct tag set once instead of once per billing line. Changing the plan therefore
only rewrites the small ``keys`` files (``sentier cost retag``), never the lines.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from sentier.finops.columns import TAG_VIOLATIONS, tag_column
from sentier.tagging import TaggingPlan, load_plan


def default_plan_path() -> Path:
    """The tagging plan in force: ``SENTIER_HOME/tagging-plan.yaml``, else sentier's default."""
    from sentier.config import get_settings

    local = get_settings().home / "tagging-plan.yaml"
    if local.is_file():
        return local
    return Path(str(resources.files("sentier.tagging").joinpath("default-plan.yaml")))


def plan_or_default(path: Path | None = None) -> TaggingPlan:
    return load_plan(path or default_plan_path())


def parse_tags(text: str | None) -> dict[str, Any]:
    """A line's tags as a mapping; a value that is not a JSON object counts as no tags."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def tag_columns(plan: TaggingPlan) -> list[str]:
    return [tag_column(key) for key in plan.keys]


TagCache = dict[tuple[str | None, str | None], tuple[list[str | None], str]]


def add_tag_columns(keys: pa.Table, plan: TaggingPlan, cache: TagCache | None = None) -> pa.Table:
    """``keys`` with one column per plan key (canonical value or null) and the violations.

    ``tag_violations`` is empty for a fully compliant line, else ``key:kind`` items joined by
    ``;`` (``team:missing;environment:not-allowed``), the same verdict as the policy engine's.
    """
    plan_keys = list(plan.keys)
    defaults = plan.model.defaults_by_sub_account
    tags = keys.column("Tags").to_pylist() if "Tags" in keys.column_names else [None] * len(keys)
    accounts = (
        keys.column("SubAccountId").to_pylist()
        if "SubAccountId" in keys.column_names
        else [None] * len(keys)
    )
    cache = {} if cache is None else cache
    values: list[list[str | None]] = [[] for _ in plan_keys]
    violations: list[str] = []
    for text, account in zip(tags, accounts, strict=True):
        sub_account = account if account in defaults else None
        cached = cache.get((text, sub_account))
        if cached is None:
            raw = parse_tags(text)
            normalised = plan.normalise(raw, sub_account=sub_account)
            found = plan.check(raw, sub_account=sub_account)
            cached = (
                [normalised.get(key) for key in plan_keys],
                ";".join(f"{v.key}:{v.kind}" for v in found),
            )
            cache[(text, sub_account)] = cached
        for index, value in enumerate(cached[0]):
            values[index].append(value)
        violations.append(cached[1])
    for key in plan_keys:
        name = tag_column(key)
        if name in keys.column_names:
            keys = keys.drop_columns([name])
    for key, column in zip(plan_keys, values, strict=True):
        keys = keys.append_column(tag_column(key), pa.array(column, pa.string()))
    if TAG_VIOLATIONS in keys.column_names:
        keys = keys.drop_columns([TAG_VIOLATIONS])
    return keys.append_column(TAG_VIOLATIONS, pa.array(violations, pa.string()))
