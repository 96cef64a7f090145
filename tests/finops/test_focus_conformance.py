"""The FOCUS export as FOCUS tools read it: the FinOps Foundation's ``focus-validator`` on the
1.0 columns (in a virtual environment of its own, see ``tests/_conformance/tools.py``), and
sentier's own checks from the FOCUS column catalogue for the 1.1–1.3 columns."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.demo import generate_organisation
from sentier.finops import Facts, ingest, load_rules, load_snapshot
from sentier.finops.export import export_focus
from sentier.store import session_scope
from tests._conformance import focus_checks, tools
from tests.finops.finops_helpers import line, write_focus

PERIODS = ("BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd")


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    generate_organisation(directory)
    return directory


@pytest.fixture
def exported(demo_dir: Path, sqlite_engine: Engine, tmp_path: Path) -> Iterator[dict]:
    """The demo organisation's six months of billing, exported as CSV and Parquet."""
    from sentier.catalog import ingest_source

    with session_scope(sqlite_engine) as session:
        ingest_source(session, [demo_dir / "catalog"], check_dangling=False)
    report = ingest(sqlite_engine, [demo_dir / "billing"])
    assert report.ok
    with session_scope(sqlite_engine) as session:
        snapshot = load_snapshot(session)
    con = duckdb_connection()
    facts, rules = Facts(con), load_rules(demo_dir / "finops" / "allocation.yaml")
    out = {
        "csv": export_focus(facts, snapshot, rules, tmp_path / "export.csv"),
        "parquet": export_focus(facts, snapshot, rules, tmp_path / "export.parquet"),
        "billed": Decimal(str(facts.cost_lines().BilledCost.sum().to_pandas())),
    }
    yield out
    con.disconnect()


def _read(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_export_date_times_are_iso_8601_utc_with_z(exported: dict) -> None:
    rows = _read(exported["csv"]["path"])
    assert len(rows) == exported["csv"]["rows"] == 19_148
    for column in PERIODS:
        assert all(focus_checks.ISO_UTC.match(r[column]) for r in rows), column
    assert rows[0]["ChargePeriodStart"] == "2026-05-01T00:00:00Z"
    schema = pq.read_schema(exported["parquet"]["path"])
    for column in PERIODS:
        assert str(schema.field(column).type) == "timestamp[us, tz=UTC]", column


def test_export_money_stays_exact(exported: dict) -> None:
    rows = _read(exported["csv"]["path"])
    assert all(focus_checks.EXACT_DECIMAL.match(r["BilledCost"]) for r in rows)
    assert sum((Decimal(r["BilledCost"]) for r in rows), Decimal(0)) == exported["billed"]
    table = pq.read_table(exported["parquet"]["path"], columns=["BilledCost"])
    assert str(table.schema.field("BilledCost").type).startswith("decimal128")
    assert sum(table.column("BilledCost").to_pylist(), Decimal(0)) == exported["billed"]


@pytest.mark.corpora
def test_focus_validator_finds_no_failure_on_sentier_columns(exported: dict, corpora: Path) -> None:
    """``focus-validator`` 1.0.0 on the 1.0 rule set: every check on a FOCUS 1.0 column
    passes. The few rules still written for columns' preview names (``Provider``,
    ``ResourceID``, ``ChargeType``...) read columns FOCUS 1.0 no longer has: they are named,
    counted apart, and each is checked to be such a rule (docs/finops.md lists them)."""
    result = tools.need(tools.run_focus_validator, Path(exported["csv"]["path"]))
    catalogued = focus_checks.catalogue(corpora)
    ours = [c for c in result["checks"] if focus_checks.stale_rule(c, catalogued) is None]
    stale = [c for c in result["checks"] if focus_checks.stale_rule(c, catalogued) is not None]
    assert len(ours) > 100
    assert [c["name"] for c in ours if c["outcome"] != "passed"] == []
    # The failures docs/finops.md lists, each a rule reading a column FOCUS 1.0 does not have.
    assert {c["rule"] for c in stale if c["outcome"] != "passed"} == {
        "InvoiceIssuer_Required",
        "Provider_Required",
        "Publisher_Required",
        "ResourceID_Required",
        "SkuPriceId_Nullable",
    }


@pytest.mark.corpora
def test_sentier_checks_pass_on_the_1_1_to_1_3_columns(exported: dict, corpora: Path) -> None:
    checks = focus_checks.check_export(
        Path(exported["csv"]["path"]), focus_checks.catalogue(corpora)
    )
    assert len(checks) > 20
    assert {name: problems for name, problems in checks if problems} == {}
    names = " ".join(name for name, _ in checks)
    assert "ServiceSubcategory (1.1)" in names and "AllocatedMethodDetails (1.3)" in names


@pytest.mark.corpora
def test_sentier_checks_catch_what_breaks_focus(tmp_path: Path, corpora: Path) -> None:
    bad = tmp_path / "bad.csv"
    with bad.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ServiceSubcategory", "SkuPriceDetails", "PricingCurrency", "Colour"])
        writer.writerow(["", "{not json", "euro", "red"])
    failed = {
        name.split(" ")[0]: problems
        for name, problems in focus_checks.check_export(bad, focus_checks.catalogue(corpora))
        if problems
    }
    assert set(failed) == {"custom", "ServiceSubcategory", "SkuPriceDetails", "PricingCurrency"}
    assert "null" in failed["ServiceSubcategory"][0]


@pytest.mark.corpora
def test_sentier_column_list_agrees_with_the_catalogue(corpora: Path) -> None:
    """sentier's own column list (which the export and ingestion use) says what the FOCUS
    catalogue says of every column they share: version and nullability."""
    from sentier.finops.columns import focus_columns

    catalogued = focus_checks.catalogue(corpora)
    disagree = [
        (c.name, c.nullable, catalogued[c.name]["allows_nulls"])
        for c in focus_columns()
        if c.name in catalogued and c.nullable != (catalogued[c.name]["allows_nulls"] == "True")
    ]
    assert disagree == []


def test_a_bill_without_newer_columns_exports_conformant(catalog: Engine, facts_of, tmp_path):  # type: ignore[no-untyped-def]
    """A FOCUS 1.0 bill has no BillingAccountType or ServiceSubcategory, which FOCUS forbids
    to be null: the export leaves them out rather than writing them empty, and names the
    service provider (1.3) after the 1.0 ProviderName."""
    lines = [line(cost="3.25"), line(cost="1.10", day="2024-09-11")]
    bill = write_focus(tmp_path / "bill.csv", lines)
    assert ingest(catalog, [bill]).ok
    facts, snapshot, rules = facts_of()
    export_focus(facts, snapshot, rules, tmp_path / "out.csv")
    rows = _read(str(tmp_path / "out.csv"))
    assert "BillingAccountType" not in rows[0] and "ServiceSubcategory" not in rows[0]
    assert {r["ServiceProviderName"] for r in rows} == {"AWS"}
    starts = [r["ChargePeriodStart"] for r in rows]
    assert starts == ["2024-09-10T00:00:00Z", "2024-09-11T00:00:00Z"]
