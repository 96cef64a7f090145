"""Allocation: every cost line attributed once to an owner, or to ``unallocated``.

Rules are evaluated on the *distinct* line descriptions (the ``keys`` table, thousands of rows
where lines are millions), in Python, once: the result is a small mapping ``line_key ->
owner, entity, system, rule, pool`` that the Ibis report expressions join to the lines on any
backend. So DuckDB and Spark see the same mapping, and the rules' semantics (globs, catalog
lookups) exist in one place.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from typing import Any

import ibis
import pandas as pd

from sentier.finops.columns import LINE_KEY, PERIOD, tag_column
from sentier.finops.facts import Facts
from sentier.finops.ownership import (
    ACCOUNTS_ANNOTATION,
    UNALLOCATED,
    CatalogSnapshot,
    EntityInfo,
)
from sentier.finops.rules import AllocationRules, Match, Rule
from sentier.tagging import TaggingPlan

UNUSED_COMMITMENTS_POOL = "unused-commitments"

INPUT_COLUMNS = [
    "SubAccountId",
    "SubAccountName",
    "ResourceId",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
]
MAPPING_COLUMNS = [LINE_KEY, "owner_ref", "entity_ref", "system_ref", "rule", "pool"]

# For a tag naming a component, other kinds a value may name, in order.
KIND_FALLBACKS = {
    "component": ["component", "resource", "system"],
    "resource": ["resource", "component"],
    "system": ["system"],
    "group": ["group"],
    "domain": ["domain"],
}


def allocation_inputs(facts: Facts) -> pd.DataFrame:
    """The distinct line descriptions allocation looks at (one row per ``line_key``)."""
    keys = facts.keys()
    columns = [LINE_KEY, *INPUT_COLUMNS] + [tag_column(k) for k in facts.plan.keys]
    frame: pd.DataFrame = keys.select(columns).distinct().to_pandas()
    return frame.drop_duplicates(LINE_KEY).reset_index(drop=True)


def _lower(series: pd.Series) -> pd.Series:
    return (
        series.astype("object")
        .where(series.notna(), None)
        .map(lambda v: v.strip().lower() if isinstance(v, str) else None)
    )


def _glob_mask(values: pd.Series, patterns: Sequence[str]) -> pd.Series:
    regex = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    compiled = re.compile(regex, re.IGNORECASE)
    return values.map(lambda v: bool(isinstance(v, str) and compiled.match(v)))


def _pool_mask(frame: pd.DataFrame, match: Match, plan: TaggingPlan) -> pd.Series:
    mask = pd.Series(True, index=frame.index)

    def isin(column: str, values: Sequence[str]) -> pd.Series:
        wanted = {v.strip().lower() for v in values}
        return _lower(frame[column]).map(lambda v: v in wanted)

    if match.service_name is not None:
        mask &= isin("ServiceName", match.service_name)
    if match.service_category is not None:
        mask &= isin("ServiceCategory", match.service_category)
    if match.charge_category is not None:
        mask &= isin("ChargeCategory", match.charge_category)
    if match.sub_account is not None:
        mask &= isin("SubAccountId", match.sub_account) | isin("SubAccountName", match.sub_account)
    if match.resource_pattern is not None:
        mask &= _glob_mask(frame["ResourceId"], match.resource_pattern)
    for key, values in (match.tag or {}).items():
        canonical = plan.canonical_key(key) or key
        column = tag_column(canonical)
        if column not in frame:
            return pd.Series(False, index=frame.index)
        mask &= isin(column, values)
    return mask


def _found_by_rule(
    rule: Rule, frame: pd.DataFrame, snapshot: CatalogSnapshot, plan: TaggingPlan
) -> pd.Series:
    """Per row, the catalog entity the rule names (or None)."""
    if rule.tag is not None:
        key = plan.canonical_key(rule.tag) or rule.tag
        column = tag_column(key)
        if column not in frame:
            return pd.Series([None] * len(frame), index=frame.index, dtype=object)
        values = _lower(frame[column])
        if rule.via_annotation:
            lookup = snapshot.with_annotation(rule.via_annotation)
        else:
            rule_kind = rule.kind or (plan.keys[key].catalog_kind if key in plan.keys else None)
            kinds = KIND_FALLBACKS.get((rule_kind or "component").lower(), [rule_kind or ""])
            lookup = snapshot.by_name(kinds)
        return values.map(lambda v: lookup.get(v) if v else None)
    if rule.annotation is not None:
        lookup = snapshot.with_annotation(rule.annotation)
        return _lower(frame["ResourceId"]).map(lambda v: lookup.get(v) if v else None)
    if rule.resource_pattern is not None:
        out = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        for item in rule.resource_pattern:
            target = _entity_for_ref(snapshot, item.owner)
            hit = _glob_mask(frame["ResourceId"], [item.pattern]) & out.isna()
            out[hit] = target
        return out
    accounts: dict[str, EntityInfo] = {
        k.lower(): _entity_for_ref(snapshot, v) for k, v in (rule.sub_account or {}).items()
    }
    for value, entity in snapshot.with_annotation(ACCOUNTS_ANNOTATION).items():
        accounts.setdefault(value, entity)
    by_id = _lower(frame["SubAccountId"]).map(lambda v: accounts.get(v) if v else None)
    by_name = _lower(frame["SubAccountName"]).map(lambda v: accounts.get(v) if v else None)
    return by_id.where(by_id.notna(), by_name)


def _entity_for_ref(snapshot: CatalogSnapshot, ref: str) -> EntityInfo:
    """The catalog entity of a rule's target; a group reference need not exist to be an owner."""
    from sentier.catalog import RefError, parse_ref

    try:
        key = parse_ref(ref, default_kind="group").key
    except RefError:
        key = ref.lower()
    found = snapshot.entities.get(key)
    if found is not None:
        return found
    kind = key.split(":", 1)[0]
    name = key.rsplit("/", 1)[-1]
    owner = key if kind == "group" else None
    return EntityInfo(key, kind, name, owner, None)


def _owner_of(entity: EntityInfo | None) -> str | None:
    if entity is None:
        return None
    return entity.ref if entity.kind in {"group", "user"} else entity.owner_ref


def _entity_of(entity: EntityInfo | None) -> str | None:
    if entity is None or entity.kind in {"group", "user"}:
        return None
    return entity.ref


def _system_of(entity: EntityInfo | None) -> str | None:
    if entity is None:
        return None
    return entity.ref if entity.kind == "system" else entity.system_ref


def evaluate(
    frame: pd.DataFrame, snapshot: CatalogSnapshot, rules: AllocationRules, plan: TaggingPlan
) -> pd.DataFrame:
    """The allocation mapping of distinct line descriptions (see module doc)."""
    n = len(frame)
    owner = pd.Series([None] * n, index=frame.index, dtype=object)
    entity = pd.Series([None] * n, index=frame.index, dtype=object)
    system = pd.Series([None] * n, index=frame.index, dtype=object)
    rule_of = pd.Series([None] * n, index=frame.index, dtype=object)
    pool = pd.Series([None] * n, index=frame.index, dtype=object)

    for shared in rules.shared:
        hit = _pool_mask(frame, shared.match, plan) & pool.isna()
        pool[hit] = shared.name
    if rules.commitments.unused == "redistribute":
        unused = frame["CommitmentDiscountStatus"].map(lambda v: v == "Unused") & pool.isna()
        pool[unused] = UNUSED_COMMITMENTS_POOL

    for rule in rules.rules:
        found = _found_by_rule(rule, frame, snapshot, plan)
        owners = found.map(_owner_of)
        hit = owner.isna() & owners.notna() & pool.isna()
        owner[hit] = owners[hit]
        rule_of[hit] = rule.label
        entities = found.map(_entity_of)
        fill = entity.isna() & entities.notna()
        entity[fill] = entities[fill]
        systems = found.map(_system_of)
        fill = system.isna() & systems.notna()
        system[fill] = systems[fill]

    shared_rows = pool.notna()
    owner[shared_rows] = None
    rule_of[shared_rows] = "shared:" + pool[shared_rows].astype(str)
    missing = owner.isna() & ~shared_rows
    owner[missing] = UNALLOCATED
    return pd.DataFrame(
        {
            LINE_KEY: frame[LINE_KEY].astype("int64"),
            "owner_ref": owner,
            "entity_ref": entity,
            "system_ref": system,
            "rule": rule_of,
            "pool": pool,
        }
    )


def mapping_table(mapping: pd.DataFrame) -> Any:
    """The mapping as an Ibis table every backend can join."""
    # Missing values as None, whatever dtype a cached frame came back with (pandas string
    # dtypes hold NaN, which some backends would turn into the text "NaN").
    frame = mapping[MAPPING_COLUMNS].astype(object)
    frame = frame.where(frame.notna(), None)
    frame[LINE_KEY] = mapping[LINE_KEY].astype("int64")
    return ibis.memtable(
        frame,
        schema=ibis.schema(
            {
                LINE_KEY: "int64",
                "owner_ref": "string",
                "entity_ref": "string",
                "system_ref": "string",
                "rule": "string",
                "pool": "string",
            }
        ),
    )


def allocated(
    facts: Facts,
    mapping: Any,
    *,
    key_dims: Sequence[str] = (),
    daily: bool = False,
    date_from: Any = None,
    date_to: Any = None,
) -> Any:
    """Ibis expression: costs per period (and day), currency, owner, entity, pool and dims.

    Lines are summed by ``line_key`` before the join (millions of rows become thousands), then
    joined to their descriptions and to the allocation mapping and summed again.
    """
    summed = facts.sums(
        {"effective": "EffectiveCost", "billed": "BilledCost", "list_cost": "ListCost"},
        date_from=date_from,
        date_to=date_to,
        daily=daily,
    )
    keys = facts.keys()
    wanted = [PERIOD, LINE_KEY, "BillingCurrency", *[d for d in key_dims if d != "BillingCurrency"]]
    described = summed.join(keys.select(wanted), [PERIOD, LINE_KEY]).join(mapping, LINE_KEY)
    by = [
        PERIOD,
        *(["day"] if daily else []),
        "BillingCurrency",
        "owner_ref",
        "entity_ref",
        "system_ref",
        "rule",
        "pool",
        *[d for d in key_dims if d != "BillingCurrency"],
    ]
    return described.group_by(by).aggregate(
        effective=described.effective.sum(),
        billed=described.billed.sum(),
        list_cost=described.list_cost.sum(),
        lines=described.lines.sum(),
    )
