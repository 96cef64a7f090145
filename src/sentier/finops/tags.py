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
    Each distinct (tags, sub-account) is read once; rows then take their verdict by index.
    """
    import pyarrow.compute as pc

    plan_keys = list(plan.keys)
    defaults = plan.model.defaults_by_sub_account
    cache = {} if cache is None else cache
    if "Tags" in keys.column_names:
        tags = pc.fill_null(keys.column("Tags").combine_chunks(), "")
    else:
        tags = pa.array([""] * len(keys), pa.string())
    if defaults and "SubAccountId" in keys.column_names:
        # Defaults differ per sub-account: tell the sets apart by account where one applies.
        accounts = keys.column("SubAccountId").to_pylist()
        texts = tags.to_pylist()
        marked = [
            f"{account}\x00{text}" if account in defaults else f"\x00{text}"
            for text, account in zip(texts, accounts, strict=True)
        ]
        encoded = pa.array(marked, pa.string()).dictionary_encode()
    else:
        encoded = tags.dictionary_encode()
    verdicts = []
    for item in encoded.dictionary.to_pylist():
        account, _, text = item.partition("\x00") if defaults else (None, "", item)
        sub_account = account if account in defaults else None
        cached = cache.get((text or None, sub_account))
        if cached is None:
            normalised = plan.normalise(parse_tags(text), sub_account=sub_account)
            found = plan.violations_of(normalised)
            cached = (
                [normalised.get(key) for key in plan_keys],
                ";".join(f"{v.key}:{v.kind}" for v in found),
            )
            cache[(text or None, sub_account)] = cached
        verdicts.append(cached)
    indices = encoded.indices
    for key in plan_keys:
        name = tag_column(key)
        if name in keys.column_names:
            keys = keys.drop_columns([name])
    for position, key in enumerate(plan_keys):
        column = pa.array([v[0][position] for v in verdicts], pa.string())
        keys = keys.append_column(tag_column(key), column.take(indices))
    if TAG_VIOLATIONS in keys.column_names:
        keys = keys.drop_columns([TAG_VIOLATIONS])
    violations = pa.array([v[1] for v in verdicts], pa.string())
    return keys.append_column(TAG_VIOLATIONS, violations.take(indices))
