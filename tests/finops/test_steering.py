"""What the API and portal rely on besides reports: offenders without shared pools, budget
status without announcing, forecasts that set a runaway day aside, steering after ingestion."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from sentier.events import list_events
from sentier.finops import ingest, inputs_fingerprint, tag_coverage
from sentier.finops.budgets import add_budget, check_budgets
from sentier.finops.forecast import forecast
from sentier.finops.steering import steer
from sentier.finops.timeseries import Daily
from sentier.store import session_scope
from sentier.store.models import FinopsBudgetAlert
from tests.finops.finops_helpers import line, write_focus

D = Decimal


def test_shared_pool_lines_are_not_tag_offenders(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    lines = [
        line(cost="60", ResourceId="i-a", tags={"team": "team-a"}),
        line(cost="15", ResourceId="i-untagged"),
        line(cost="100", ResourceId="", ServiceName="AWS Support (Business)"),
    ]
    ingest(sqlite_engine, [write_focus(tmp_path / "b.csv", lines)])
    rules = tmp_path / "allocation.yaml"
    rules.write_text(
        "rules:\n  - tag: team\nshared:\n  - name: support\n"
        "    match: {service_name: ['AWS Support (Business)']}\n",
        encoding="utf-8",
    )
    facts, snapshot, loaded = facts_of(rules)
    result = tag_coverage(facts, snapshot, loaded)
    # The support plan is matched by a rule, not by tags; it still counts as untagged cost.
    assert [o["resource_id"] for o in result["offenders"]] == ["i-a", "i-untagged"]
    assert result["overall"][0]["total"] == D(175) and result["overall"][0]["tagged"] == 0


def test_budget_status_without_recording_announces_nothing(
    catalog: Engine, tmp_path: Path, facts_of
) -> None:
    ingest(catalog, [write_focus(tmp_path / "b.csv", [line(cost="90", tags={"team": "team-a"})])])
    facts, snapshot, rules = facts_of()
    with session_scope(catalog) as session:
        add_budget(session, "a", "team-a", "100", "USD", forecast_alert=False)
    with session_scope(catalog) as session:
        [status] = check_budgets(session, facts, snapshot, rules, record=False)
        assert [c["threshold"] for c in status["crossed"]] == [50, 80]
        assert session.scalars(select(FinopsBudgetAlert)).all() == []
        assert list_events(session, type_prefix="io.sentier.finops.budget") == []
    with session_scope(catalog) as session:
        summary = steer(session, facts, snapshot, rules)
    assert summary["budgets_checked"] == 1 and summary["budget_thresholds_crossed"] == 2
    with session_scope(catalog) as session:
        assert len(list_events(session, type_prefix="io.sentier.finops.budget")) == 2


def test_fingerprint_follows_the_stored_facts(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "a.csv", [line(cost="1")])])
    facts, snapshot, rules = facts_of()
    first = inputs_fingerprint(facts, snapshot, rules)
    assert inputs_fingerprint(*facts_of()) == first
    ingest(sqlite_engine, [write_focus(tmp_path / "a.csv", [line(cost="2")])])
    assert inputs_fingerprint(*facts_of()) != first


def _daily(spike: Decimal) -> Daily:
    rng = random.Random(3)
    rows = []
    first = date(2024, 8, 1)
    for offset in range(61):
        day = first + timedelta(days=offset)
        cost = D(30 if day.weekday() >= 5 else 50) + D(rng.randint(0, 400)) / 100
        if day == date(2024, 9, 24):
            cost += spike
        rows.append(
            {
                "owner_ref": "group:default/team-a",
                "currency": "USD",
                "ChargeFrequency": "Usage-Based",
                "day": day,
                "effective": cost,
            }
        )
    return Daily(rows, first, first + timedelta(days=60))


def test_forecast_sets_a_runaway_day_aside() -> None:
    calm = {r["month"]: r for r in forecast(_daily(D(0)), months=1)}["2024-10"]
    spiky = {r["month"]: r for r in forecast(_daily(D(500)), months=1)}["2024-10"]
    # 23 weekdays at ~52 and 8 weekend days at ~32: about 1,450.
    assert D(1350) < calm["forecast"] < D(1550)
    assert abs(spiky["forecast"] - calm["forecast"]) < D("0.05") * calm["forecast"]
    assert spiky["high"] - spiky["low"] < 2 * (calm["high"] - calm["low"])
