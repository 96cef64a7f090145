"""Allocation rules and shared-cost splits on hand-made lines with known answers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sentier.finops import FinOpsError, allocate, ingest, load_rules, showback
from sentier.finops.shared import round_cents, split_exact
from tests.finops.finops_helpers import line, write_focus

D = Decimal


def _by(result: dict, currency: str = "USD") -> dict[str, Decimal]:
    return {r["key"]: r["total"] for r in result["rows"] if r["currency"] == currency}


def _rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allocation.yaml"
    path.write_text(text, encoding="utf-8")
    return path


LINES = [
    # team tag names a group (alias `Owner`, messy case): team-a
    line(cost="10", ResourceId="i-a", tags={"Owner": " Team-A "}),
    # service tag names a component owned by team-b
    line(cost="20", ResourceId="i-b", tags={"app": "checkout"}),
    # no tags; a Resource entity lists the id in sentier.io/cloud-resource-ids: team-c
    line(cost="30", ResourceId="arn:aws:rds:eu-west-3:111:db:orders"),
    # cost-center tag -> the group annotated with it: team-a
    line(cost="40", ResourceId="i-d", tags={"CostCenter": "cc-100"}),
    # sub-account 222 is declared by team-b's sentier.io/cloud-accounts
    line(cost="50", ResourceId="i-e", SubAccountId="222"),
    # a team tag naming no catalog group, nothing else: unallocated
    line(cost="60", ResourceId="i-f", tags={"team": "team-ghost"}),
    # both team and service tags: the first rule (team) wins, the entity is still known
    line(cost="70", ResourceId="i-g", tags={"team": "team-c", "service": "checkout"}),
]


def test_each_rule_attributes_its_lines_once(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "b.csv", LINES)])
    facts, snapshot, rules = facts_of()
    allocation = allocate(facts, snapshot, rules)
    by_resource = {}
    mapping = allocation.mapping.set_index("line_key")
    keys = facts.keys().to_pyarrow().to_pylist()
    for key in keys:
        row = mapping.loc[key["line_key"]]
        by_resource[key["ResourceId"]] = (row["owner_ref"], row["rule"], row["entity_ref"])
    assert by_resource == {
        "i-a": ("group:default/team-a", "team-tag", None),
        "i-b": ("group:default/team-b", "service-tag", "component:default/checkout"),
        "arn:aws:rds:eu-west-3:111:db:orders": (
            "group:default/team-c",
            "resource-annotation",
            "resource:default/orders-db",
        ),
        "i-d": ("group:default/team-a", "cost-center-tag", None),
        "i-e": ("group:default/team-b", "sub-account", None),
        "i-f": ("unallocated", None, None),
        "i-g": ("group:default/team-c", "team-tag", "component:default/checkout"),
    }


def test_group_showback_rolls_children_up_and_reconciles(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "b.csv", LINES)])
    facts, snapshot, rules = facts_of()
    result = showback(facts, snapshot, rules, by="group")
    totals = _by(result)
    assert totals["group:default/team-a"] == D(50)
    assert totals["group:default/team-b"] == D(70)
    assert totals["group:default/team-c"] == D(100)
    assert totals["group:default/product"] == D(120)  # team-a + team-b
    assert totals["group:default/acme"] == D(220)  # everything owned
    assert totals["unallocated"] == D(60)
    direct = {r["key"]: r["direct"] for r in result["rows"]}
    assert direct["group:default/product"] == D(0)
    [balance] = result["reconciliation"]
    assert balance["balanced"] and balance["input_effective"] == D(280)
    by_system = _by(showback(facts, snapshot, rules, by="system"))
    assert by_system == {"system:default/shop": D(120), "(none)": D(160)}
    by_tag = _by(showback(facts, snapshot, rules, by="tag:env"))
    assert by_tag == {"(none)": D(280)}


def test_rule_order_and_patterns_from_a_rules_file(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "b.csv", LINES)])
    path = _rules(
        tmp_path,
        """
rules:
  - resource_pattern:
      - {pattern: "i-[fg]", owner: team-b}
  - sub_account: {"111": group:default/team-c}
""",
    )
    facts, snapshot, rules = facts_of(path)
    totals = _by(showback(facts, snapshot, rules, by="owner"))
    assert totals == {
        "group:default/team-b": D(60 + 70 + 50),
        "group:default/team-c": D(10 + 20 + 30 + 40),
    }


def test_bad_rules_file_names_line_and_field(tmp_path: Path) -> None:
    path = _rules(tmp_path, "rules:\n  - tag: team\n    annotation: x\n")
    with pytest.raises(FinOpsError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: row 2: rules.0")
    path = _rules(
        tmp_path,
        "shared:\n  - name: s\n    match: {}\n    split: fixed\n    weights: {a: 50, b: 40}\n",
    )
    with pytest.raises(FinOpsError, match="add up to 100"):
        load_rules(path)


SHARED = [
    line(cost="60", ResourceId="i-a", tags={"team": "team-a"}),
    line(cost="30", ResourceId="i-b", tags={"team": "team-b"}),
    line(cost="10", ResourceId="i-c", tags={"team": "team-c"}),
    line(cost="100", ResourceId="support", ServiceName="AWS Support (Business)"),
]


@pytest.mark.parametrize(
    ("split", "extra", "expected"),
    [
        (
            "even",
            "",
            {"team-a": "93.3333333334", "team-b": "63.3333333333", "team-c": "43.3333333333"},
        ),
        ("proportional", "", {"team-a": "120", "team-b": "60", "team-c": "20"}),
        (
            "fixed",
            "    weights: {team-a: 50, team-b: 25, team-c: 25}\n",
            {"team-a": "110", "team-b": "55", "team-c": "35"},
        ),
        (
            "metric",
            "    metric_file: metric.csv\n",
            {"team-a": "60", "team-b": "130", "team-c": "10"},
        ),
    ],
)
def test_shared_pool_splits(
    sqlite_engine: Engine, tmp_path: Path, facts_of, split: str, extra: str, expected: dict
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "b.csv", SHARED)])
    (tmp_path / "metric.csv").write_text(
        "period,owner,value\n2024-09,team-b,7\n2024-09,team-a,0\n", encoding="utf-8"
    )
    path = _rules(
        tmp_path,
        "rules:\n  - tag: team\nshared:\n  - name: support\n"
        "    match: {service_name: ['aws support (business)']}\n"
        f"    split: {split}\n{extra}",
    )
    facts, snapshot, rules = facts_of(path)
    result = showback(facts, snapshot, rules, by="owner")
    totals = _by(result)
    assert totals == {f"group:default/{k}": D(v) for k, v in expected.items()}
    assert sum(totals.values()) == D(200)
    assert result["reconciliation"][0]["balanced"]


def test_unused_commitment_is_reported_or_redistributed(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    rows = [
        line(
            cost="30",
            ResourceId="i-a",
            tags={"team": "team-a"},
            CommitmentDiscountId="sp-1",
            CommitmentDiscountStatus="Used",
        ),
        line(
            cost="10",
            ResourceId="i-b",
            tags={"team": "team-b"},
            CommitmentDiscountId="sp-1",
            CommitmentDiscountStatus="Used",
        ),
        line(cost="50", ResourceId="i-c", tags={"team": "team-c"}),
        line(
            cost="8",
            ResourceId="sp-1",
            CommitmentDiscountId="sp-1",
            CommitmentDiscountStatus="Unused",
        ),
    ]
    ingest(sqlite_engine, [write_focus(tmp_path / "c.csv", rows)])
    facts, snapshot, rules = facts_of()
    assert _by(showback(facts, snapshot, rules, by="owner"))["unallocated"] == D(8)
    path = _rules(tmp_path, "rules:\n  - tag: team\ncommitments: {unused: redistribute}\n")
    facts, snapshot, rules = facts_of(path)
    totals = _by(showback(facts, snapshot, rules, by="owner"))
    assert totals == {
        "group:default/team-a": D(36),
        "group:default/team-b": D(12),
        "group:default/team-c": D(50),
    }


def test_each_currency_reconciles_on_its_own(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    rows = [
        line(cost="1.005", tags={"team": "team-a"}),
        line(cost="2.005", BillingAccountId="eu", BillingCurrency="EUR", tags={"team": "team-b"}),
        line(cost="0.0000000001", BillingAccountId="eu", BillingCurrency="EUR"),
    ]
    ingest(sqlite_engine, [write_focus(tmp_path / "m.csv", rows)])
    facts, snapshot, rules = facts_of()
    result = showback(facts, snapshot, rules, by="group")
    balances = {b["currency"]: b for b in result["reconciliation"]}
    assert balances["EUR"]["input_effective"] == D("2.0050000001")
    assert balances["EUR"]["unallocated"] == D("0.0000000001")
    assert all(b["balanced"] for b in balances.values())


def test_exact_split_and_cent_rounding_add_up() -> None:
    parts = split_exact(D("100.0000000000"), {"a": D(1), "b": D(1), "c": D(1)})
    assert sum(parts.values()) == D(100)
    assert sorted(parts.values()) == [D("33.3333333333"), D("33.3333333333"), D("33.3333333334")]
    negative = split_exact(D("-0.0000000005"), {"a": D(2), "b": D(1)})
    assert sum(negative.values()) == D("-0.0000000005")
    cents = round_cents({"a": D("0.333"), "b": D("0.333"), "c": D("0.334")})
    assert sum(cents.values()) == D("1.00")
    assert split_exact(D(5), {"a": D(0)}) == {}
