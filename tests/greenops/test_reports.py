"""Carbon reports on ingested billing: same owners as cost, unestimated lines shown, explain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sentier.finops import Scope, showback
from sentier.greenops import (
    CarbonContext,
    carbon_report,
    estimate_instance,
    explain,
    load_coefficients,
    region_what_if,
    store_resource_facts,
    top_lines,
    yearly_summary,
)
from sentier.greenops.resources import ResourceFact
from sentier.store import session_scope
from tests.finops.finops_helpers import line

C = load_coefficients()
M5 = "$0.112 per On Demand Linux m5.large Instance Hour"
Bill = Callable[..., None]
Context = Callable[..., CarbonContext]


def hours(n: int, **values: Any) -> list[dict[str, Any]]:
    """``n`` hourly lines of one resource (10 September 2024 from midnight)."""
    out = []
    for hour in range(n):
        row = line(**values)
        row["ChargePeriodStart"] = f"2024-09-10T{hour:02d}:00:00Z"
        row["ChargePeriodEnd"] = f"2024-09-10T{hour + 1:02d}:00:00Z"
        out.append(row)
    return out


def test_carbon_lands_on_the_same_owners_as_cost(bill: Bill, context: Context) -> None:
    bill(
        hours(10, ChargeDescription=M5, ResourceId="i-a", cost="0.112", tags={"team": "team-a"})
        + hours(4, ChargeDescription=M5, ResourceId="i-b", cost="0.112", SubAccountId="222")
        + [line(ChargeDescription="mystery", ResourceId="i-x", cost="5.00")]
    )
    ctx = context()
    result = carbon_report(ctx, by="group")
    rows = {r["key"]: r for r in result["rows"]}
    per_hour = estimate_instance(C, "aws", "m5.large", "eu-west-3").total
    assert rows["group:default/team-a"]["total_kg"] == pytest.approx(10 * per_hour)
    assert rows["group:default/team-b"]["total_kg"] == pytest.approx(4 * per_hour)
    # Child groups roll up: product holds team-a and team-b, acme everything attributed.
    assert rows["group:default/product"]["total_kg"] == pytest.approx(14 * per_hour)
    assert rows["group:default/team-a"]["direct_kg"] == pytest.approx(10 * per_hour)
    cost = showback(ctx.facts, ctx.snapshot, ctx.rules, by="group")
    cost_owners = {r["key"] for r in cost["rows"]}
    assert set(rows) == cost_owners
    for key, row in rows.items():
        cost_row = next(r for r in cost["rows"] if r["key"] == key)
        assert row["cost"]["USD"] == cost_row["total"]


def test_unestimated_lines_are_counted_with_their_cost(bill: Bill, context: Context) -> None:
    bill(
        [
            *hours(2, ChargeDescription=M5, ResourceId="i-a", cost="0.112"),
            line(ChargeDescription="mystery", ResourceId="i-x", cost="5.00"),
            line(ConsumedUnit="Requests", PricingUnit="Requests", ResourceId="q", cost="3.00"),
            line(
                ChargeCategory="Tax",
                ChargeFrequency="One-Time",
                cost="1.50",
                ChargeDescription="VAT",
                ConsumedUnit="",
                ConsumedQuantity="",
            ),
        ]
    )
    result = carbon_report(context(), by="service")
    coverage = result["coverage"]
    assert coverage["lines"] == {"estimated": 2, "not_estimated": 2, "not_usage": 1}
    assert str(coverage["usage_cost"]["USD"]).startswith("8.224")
    assert coverage["share_of_usage_cost"]["USD"] == pytest.approx(0.224 / 8.224)
    statuses = {r["status"]: r for r in result["not_estimated"]}
    assert statuses["not-estimated"]["lines"] == 2
    assert str(statuses["not-estimated"]["cost"]["USD"]).startswith("8.00")
    assert str(statuses["not-usage"]["cost"]["USD"]).startswith("1.50")
    [row] = result["rows"]
    assert row["not_estimated_lines"] == 2


def test_imported_instance_type_and_measured_utilisation(
    bill: Bill, context: Context, catalog: Engine
) -> None:
    bill(hours(3, ChargeDescription="EC2 usage", ResourceId="i-a", cost="0.1"))
    before = carbon_report(context(), by="service")
    assert before["totals"]["total_kg"] == 0
    assert before["coverage"]["lines"]["not_estimated"] == 3
    with session_scope(catalog) as session:
        store_resource_facts(session, "inventory", [ResourceFact("i-a", "", "m5.large", 0.2, 10)])
    after = carbon_report(context(), by="service")
    measured = estimate_instance(C, "aws", "m5.large", "eu-west-3", hours=3, utilization=0.2)
    assert after["totals"]["total_kg"] == pytest.approx(measured.total)
    assert (
        after["totals"]["total_kg"] < 3 * estimate_instance(C, "aws", "m5.large", "eu-west-3").total
    )


def test_line_ids_are_listed_and_explained_with_the_report_figures(
    bill: Bill, context: Context
) -> None:
    bill(
        [
            *hours(
                2, ChargeDescription=M5, ResourceId="i-a", cost="0.112", tags={"team": "team-a"}
            ),
            line(
                ChargeDescription="gp3",
                ConsumedUnit="GB-Mo",
                PricingUnit="GB-Mo",
                ConsumedQuantity="100",
                PricingQuantity="100",
                ResourceId="vol-1",
            ),
        ]
    )
    ctx = context()
    listed = top_lines(ctx, limit=10)
    assert len(listed) == 3
    assert all(len(r["line_id"]) == 29 for r in listed)
    instance = next(r for r in listed if r["instance_type"] == "m5.large")
    assert instance["owner"] == "group:default/team-a"
    result = explain(ctx, instance["line_id"])
    assert result["charges"] == 1
    assert result["status"] == "estimated" and result["instance_type"] == "m5.large"
    assert result["instance_type_source"] == "billing line"
    assert result["owner"]["owner"] == "group:default/team-a"
    assert result["estimate"]["total_kg"] == pytest.approx(instance["kg"])
    assert result["report_figures"]["scope3_kg"] == pytest.approx(result["estimate"]["scope3_kg"])
    assert any(step.startswith("compute = 1 h x 2 vCPU") for step in result["formula"])
    # The description id alone explains every charge of it.
    whole = explain(ctx, instance["line_id"][:16])
    assert whole["charges"] == 2
    assert whole["estimate"]["total_kg"] == pytest.approx(2 * instance["kg"])
    json.dumps(result, default=str)


def test_explain_refuses_unknown_or_malformed_ids(bill: Bill, context: Context) -> None:
    from sentier.greenops import GreenOpsError

    bill([line(ChargeDescription=M5)])
    ctx = context()
    with pytest.raises(GreenOpsError, match="not a line id"):
        explain(ctx, "line-42")
    with pytest.raises(GreenOpsError, match="no line"):
        explain(ctx, "0000000000000001-202409100000")


def test_yearly_summary_per_scope(bill: Bill, context: Context) -> None:
    bill(
        [
            *hours(5, ChargeDescription=M5, ResourceId="i-a", cost="0.112"),
            line(
                ProviderName="Google Cloud",
                ServiceName="Compute Engine",
                RegionId="europe-west1",
                ConsumedUnit="GiB-Hours",
                PricingUnit="GiB-Hours",
                ConsumedQuantity="100",
                PricingQuantity="100",
                ChargeDescription="Custom RAM",
                ResourceId="vm-g",
            ),
        ]
    )
    summary = yearly_summary(context(), year=2024)
    aws = estimate_instance(C, "aws", "m5.large", "eu-west-3", hours=5)
    gcp_energy = 100 * 0.000392 * 1.09
    scopes = summary["scopes"]
    assert scopes["scope2_location_based"]["kgCO2e"] == pytest.approx(
        aws.scope2_location + gcp_energy * 0.11
    )
    assert scopes["scope2_market_based"]["kgCO2e"] == pytest.approx(
        aws.scope2_location + gcp_energy * 0.0198
    )
    assert scopes["scope3_embodied"]["kgCO2e"] == pytest.approx(aws.scope3)
    share = scopes["scope2_market_based"]["energy_share_with_known_market_factor"]
    assert share == pytest.approx(gcp_energy / (gcp_energy + aws.energy_kwh))
    assert summary["complete_year"] is False and summary["periods"] == ["2024-09"]
    assert set(summary["by_provider"]) == {"AWS", "Google Cloud"}


def test_date_range_and_region_what_if(bill: Bill, context: Context) -> None:
    bill(hours(6, ChargeDescription=M5, ResourceId="i-a", cost="0.112", tags={"team": "team-a"}))
    ctx = context()
    from datetime import date

    ranged = carbon_report(ctx, by="group", scope=Scope(None, date(2024, 9, 10), date(2024, 9, 11)))
    assert ranged["totals"]["total_kg"] == pytest.approx(
        6 * estimate_instance(C, "aws", "m5.large", "eu-west-3").total
    )
    moved = region_what_if(ctx, "eu-north-1", owner="group:default/team-a")
    [row] = moved["rows"]
    paris = estimate_instance(C, "aws", "m5.large", "eu-west-3", hours=6)
    assert row["scope2_location_now_kg"] == pytest.approx(paris.scope2_location)
    assert row["scope2_location_moved_kg"] == pytest.approx(paris.energy_kwh * 0.0088)


def test_shared_pool_carbon_is_split_like_its_cost(
    bill: Bill, context: Context, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nrules:\n  - tag: team\nshared:\n  - name: platform\n"
        "    match: {resource_pattern: ['i-shared']}\n    split: proportional\n",
        encoding="utf-8",
    )
    bill(
        [
            line(
                ChargeDescription="x",
                ConsumedUnit="Requests",
                PricingUnit="Requests",
                cost="30",
                tags={"team": "team-a"},
                ResourceId="r-a",
            ),
            line(
                ChargeDescription="y",
                ConsumedUnit="Requests",
                PricingUnit="Requests",
                cost="10",
                tags={"team": "team-c"},
                ResourceId="r-c",
            ),
            *hours(4, ChargeDescription=M5, ResourceId="i-shared", cost="1"),
        ]
    )
    result = carbon_report(context(rules=rules), by="group")
    rows = {r["key"]: r for r in result["rows"]}
    pooled = 4 * estimate_instance(C, "aws", "m5.large", "eu-west-3").total
    assert rows["group:default/team-a"]["total_kg"] == pytest.approx(pooled * 0.75)
    assert rows["group:default/team-c"]["total_kg"] == pytest.approx(pooled * 0.25)


def test_boavizta_method_on_reports(bill: Bill, context: Context) -> None:
    from sentier.greenops import boavizta_available

    if not boavizta_available():
        pytest.skip("boaviztapi not installed (make install installs it)")
    bill(
        [
            *hours(2, ChargeDescription=M5, ResourceId="i-a", cost="0.112"),
            line(
                ChargeDescription="gp3",
                ConsumedUnit="GB-Mo",
                PricingUnit="GB-Mo",
                ConsumedQuantity="10",
                PricingQuantity="10",
                ResourceId="vol-1",
            ),
        ]
    )
    ccf = carbon_report(context("ccf"), by="kind")
    boavizta = carbon_report(context("boavizta"), by="kind")
    instance = {r["key"]: r for r in boavizta["rows"]}["instance"]
    assert instance["scope2_location_kg"] == pytest.approx(2 * 0.00111)
    assert instance["scope3_kg"] == pytest.approx(2 * 0.00046)
    storage_ccf = {r["key"]: r for r in ccf["rows"]}["storage"]
    assert {r["key"]: r for r in boavizta["rows"]}["storage"]["total_kg"] == pytest.approx(
        storage_ccf["total_kg"]
    )
