"""The persisted carbon mapping: reused by a fresh process, never served once an input changed."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sentier.greenops import (
    CarbonContext,
    carbon_mapping,
    carbon_report,
    estimate_instance,
    explain,
    load_coefficients,
    store_resource_facts,
    top_lines,
)
from sentier.greenops.resources import ResourceFact
from sentier.store import session_scope
from tests.finops.finops_helpers import line

C = load_coefficients()
Bill = Callable[..., None]
Context = Callable[..., CarbonContext]


def hours(n: int, day: str = "2024-09-10", **values: Any) -> list[dict[str, Any]]:
    """``n`` hourly lines of one resource on ``day``."""
    out = []
    for hour in range(n):
        row = line(day=day, **values)
        row["ChargePeriodStart"] = f"{day}T{hour:02d}:00:00Z"
        row["ChargePeriodEnd"] = f"{day}T{hour + 1:02d}:00:00Z"
        out.append(row)
    return out


def cached(ctx: CarbonContext) -> dict[str, float]:
    """The persisted mapping files and their modification times."""
    root = ctx.facts.store.dataset("greenops").root / "_cache"
    return {p.name: p.stat().st_mtime_ns for p in root.glob("carbon-*")}


def total(ctx: CarbonContext) -> float:
    return float(carbon_report(ctx, by="group")["totals"]["total_kg"])


def store(catalog: Engine, *facts: ResourceFact) -> None:
    with session_scope(catalog) as session:
        store_resource_facts(session, "inventory", list(facts))


@pytest.fixture
def untyped(bill: Bill, catalog: Engine) -> None:
    """Three hours of an instance whose type only the resource facts give."""
    bill(hours(3, ChargeDescription="EC2 usage", ResourceId="i-a", cost="0.1"))
    store(catalog, ResourceFact("i-a", "", "m5.large", 0.2))


def expected(instance_type: str, utilization: float | None, n: float = 3) -> float:
    return estimate_instance(
        C, "aws", instance_type, "eu-west-3", hours=n, utilization=utilization
    ).total


def test_a_fresh_process_reuses_the_persisted_mapping(
    untyped: None, context: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = context()
    assert total(first) == pytest.approx(expected("m5.large", 0.2))
    files = cached(first)
    assert files, "the mapping is persisted beside the facts"

    # A new context on a new connection, as a new process has: nothing is recomputed.
    def recompute(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the persisted mapping should have been reused")

    monkeypatch.setattr("sentier.greenops.mapping.mapping_parts", recompute)
    again = context()
    assert total(again) == pytest.approx(total(first))
    assert cached(again) == files


def test_changed_resource_facts_are_never_served_stale(
    untyped: None, context: Context, catalog: Engine
) -> None:
    assert total(context()) == pytest.approx(expected("m5.large", 0.2))
    store(catalog, ResourceFact("i-a", "", "m5.large", 0.7))
    assert total(context()) == pytest.approx(expected("m5.large", 0.7))
    store(catalog, ResourceFact("i-a", "", "c5.xlarge", 0.7))
    assert total(context()) == pytest.approx(expected("c5.xlarge", 0.7))
    # Back to the first facts: the same figure as at first (its mapping may be reused).
    store(catalog, ResourceFact("i-a", "", "m5.large", 0.2))
    assert total(context()) == pytest.approx(expected("m5.large", 0.2))


def test_changed_coefficients_are_never_served_stale(untyped: None, context: Context) -> None:
    ctx = context()
    assert total(ctx) == pytest.approx(expected("m5.large", 0.2))
    # Another coefficient set (as a new release of the data files gives): AWS machines idle
    # at 5 % when nothing was measured, and i-a's utilisation is no longer known.
    aws = dataclasses.replace(C.providers["aws"], default_utilization=0.05)
    other = dataclasses.replace(
        C,
        providers={**C.providers, "aws": aws},
        fingerprint="test-other-set",
        _grid_index={},
        _instance_cache={},
    )
    unmeasured = dataclasses.replace(ctx.resources, utilization={}, fingerprint="no-util")
    fresh = dataclasses.replace(ctx, coefficients=other, resources=unmeasured, _parts=None)
    figure = estimate_instance(other, "aws", "m5.large", "eu-west-3", hours=3).total
    assert figure < expected("m5.large", None)
    assert total(fresh) == pytest.approx(figure)
    # The shipped set again: its own mapping, not the other set's.
    back = dataclasses.replace(ctx, resources=unmeasured, _parts=None)
    assert total(back) == pytest.approx(expected("m5.large", None))


def test_changed_owners_are_never_served_stale(
    untyped: None, context: Context, tmp_path: Path
) -> None:
    before = carbon_report(context(), by="group")
    assert [r["key"] for r in before["rows"]] == ["unallocated"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - name: all-to-team-b\n    sub_account: {'111': group:team-b}\n",
        encoding="utf-8",
    )
    after = carbon_report(context(rules=rules), by="group")
    keys = {r["key"] for r in after["rows"]}
    assert "group:default/team-b" in keys and "unallocated" not in keys


def test_a_months_own_utilisation_applies_to_that_month_only(
    bill: Bill, catalog: Engine, context: Context
) -> None:
    """Utilisation measured per month (AIOps metrics) beside one for all months."""
    bill(
        hours(3, ChargeDescription="EC2 usage", ResourceId="i-a", cost="0.1")
        + hours(3, day="2024-10-10", ChargeDescription="EC2 usage", ResourceId="i-a", cost="0.1")
    )
    store(
        catalog,
        ResourceFact("i-a", "", "m5.large", 0.2),
        ResourceFact("i-a", "2024-10", None, 0.6),
    )
    ctx = context()
    [row] = carbon_report(ctx, by="group")["rows"]
    assert row["periods"]["2024-09"] == pytest.approx(expected("m5.large", 0.2))
    assert row["periods"]["2024-10"] == pytest.approx(expected("m5.large", 0.6))
    mapping = carbon_mapping(ctx.facts, ctx.coefficients, ctx.resources)
    by_period = dict(zip(mapping["billing_period"], mapping["utilization"], strict=True))
    assert by_period == {"2024-09": pytest.approx(0.2), "2024-10": pytest.approx(0.6)}
    october = next(r for r in top_lines(ctx, limit=10) if r["period"] == "2024-10")
    assert october["kg"] == pytest.approx(expected("m5.large", 0.6, 1))
    explained = explain(ctx, october["line_id"])
    figures = explained["report_figures"]
    assert figures["scope2_location_kg"] + figures["scope3_kg"] == pytest.approx(october["kg"])
