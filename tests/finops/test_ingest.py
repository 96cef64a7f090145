"""Ingestion: what lands, what is repaired, what is quarantined, and what replaces what."""

from __future__ import annotations

import gzip
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import Engine, select

from sentier.analytics import FactStore
from sentier.events import list_events
from sentier.finops import ingest, showback
from sentier.store import session_scope
from sentier.store.models import FinopsFile
from tests.finops.finops_helpers import line, write_focus


def _stored_total(currency: str = "USD") -> Decimal:
    dataset = FactStore.default().dataset("finops")
    total = Decimal(0)
    for _, _, item in dataset.manifest().slices():
        total += Decimal(item.meta["totals"].get(currency, {}).get("effective", "0"))
    return total


def test_messy_values_are_repaired(sqlite_engine: Engine, tmp_path: Path, facts_of) -> None:
    rows = [
        line(cost="$1,000.50 ", ChargePeriodStart="2024-09-10 00:00:00"),
        line(cost="NULL", EffectiveCost="2.25", ResourceId="NULL", ServiceCategory="compute"),
        line(
            BillingPeriodStart="9/1/2024",
            BillingPeriodEnd="10/1/2024",
            ChargeCategory="usage",
            ChargeFrequency="usage-based",
            cost="0.0000004",
        ),
    ]
    rows[1]["BilledCost"] = "0"
    report = ingest(sqlite_engine, [write_focus(tmp_path / "messy.csv", rows)])
    assert report.ok, [str(p) for f in report.files for p in f.problems]
    assert report.files[0].totals["USD"]["effective"] == Decimal("1002.7500004")
    facts, _, _ = facts_of()
    lines = facts.cost_lines().to_pyarrow().to_pylist()
    assert sorted(str(r["ChargeCategory"]) for r in lines) == ["Usage"] * 3
    assert {r["ResourceId"] for r in lines} == {"i-1", None}
    assert {r["ServiceCategory"] for r in lines} == {"Compute"}


def test_bad_file_is_quarantined_with_file_row_and_column_and_others_land(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    write_focus(tmp_path / "in" / "a-good.csv", [line(cost="5")])
    bad_rows = [line(cost="1", BillingAccountId="acct-2") for _ in range(3)]
    bad_rows[1]["EffectiveCost"] = "12,5x"
    bad_rows[2]["EffectiveCost"] = "oops"
    write_focus(tmp_path / "in" / "b-bad.csv", bad_rows)
    report = ingest(sqlite_engine, [tmp_path / "in"])
    statuses = {Path(f.path).name: f.status for f in report.files}
    assert statuses == {"a-good.csv": "landed", "b-bad.csv": "quarantined"}
    bad = next(f for f in report.files if f.status == "quarantined")
    error = bad.errors[0]
    assert (error.row, error.column, error.count) == (2, "EffectiveCost", 2)
    assert "'12,5x' is not a decimal number" in str(error)
    assert str(error).startswith(str(tmp_path / "in" / "b-bad.csv") + ": row 2: EffectiveCost")
    assert _stored_total() == Decimal(5)
    with session_scope(sqlite_engine) as session:
        stored = session.scalars(select(FinopsFile).order_by(FinopsFile.path)).all()
        assert [f.status for f in stored] == ["landed", "quarantined"]
        types = [e.type for e in list_events(session, type_prefix="io.sentier.finops")]
    assert types == ["io.sentier.finops.file.quarantined", "io.sentier.finops.ingestion.completed"]


def test_missing_required_column_is_named(sqlite_engine: Engine, tmp_path: Path) -> None:
    columns = [c for c in line() if c != "EffectiveCost"]
    path = write_focus(tmp_path / "f.csv", [line()], columns)
    report = ingest(sqlite_engine, [path])
    assert report.files[0].status == "quarantined"
    errors = report.files[0].errors
    assert any(p.column == "EffectiveCost" and "missing" in p.message for p in errors)


def test_usage_far_outside_billing_period_and_currency_mix_are_errors(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    outside = write_focus(tmp_path / "o.csv", [line(ChargePeriodStart="2024-08-01T00:00:00Z")])
    mixed = write_focus(
        tmp_path / "m.csv", [line(BillingCurrency="USD"), line(BillingCurrency="eur")]
    )
    report = ingest(sqlite_engine, [outside, mixed])
    assert [f.status for f in report.files] == ["quarantined", "quarantined"]
    assert "outside its billing period" in report.files[0].errors[0].message
    assert "EUR, USD" in report.files[1].errors[0].message


def test_reingesting_a_period_replaces_it_and_is_idempotent(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    september = write_focus(tmp_path / "sep.csv", [line(cost="10"), line(cost="5")])
    october = write_focus(tmp_path / "oct.csv", [line(day="2024-10-03", cost="7")])
    other_account = write_focus(tmp_path / "b.csv", [line(BillingAccountId="acct-2", cost="1")])
    ingest(sqlite_engine, [september, october, other_account])
    assert _stored_total() == Decimal(23)
    restated = write_focus(tmp_path / "sep.csv", [line(cost="11")])
    ingest(sqlite_engine, [restated])
    ingest(sqlite_engine, [restated])
    assert _stored_total() == Decimal(19)
    facts, snapshot, rules = facts_of()
    result = showback(facts, snapshot, rules, by="currency")
    assert result["totals"]["USD"] == Decimal(19)
    # Files of replaced slices go from disk too, not only from the manifest, once readers of
    # the previous manifest are done with them (tests/security/test_soak_regressions.py).
    dataset = FactStore.default().dataset("finops")
    named = {r for _, _, s in facts.manifest.slices() for rs in s.tables.values() for r in rs}
    dataset.remove_retired(older_than_seconds=0)
    on_disk = {str(p.relative_to(dataset.root)) for p in dataset.root.glob("period=*/*.parquet")}
    assert on_disk == named


def test_a_failure_while_committing_leaves_previous_data_intact(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest(sqlite_engine, [write_focus(tmp_path / "v1.csv", [line(cost="3")])])
    from sentier.analytics import store

    def crash(self, replacements):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(store.Dataset, "commit", crash)
    with pytest.raises(OSError):
        ingest(sqlite_engine, [write_focus(tmp_path / "v2.csv", [line(cost="4")])])
    assert _stored_total() == Decimal(3)
    with session_scope(sqlite_engine) as session:
        assert len(session.scalars(select(FinopsFile)).all()) == 1


def test_parquet_and_gzipped_csv_read_alike(sqlite_engine: Engine, tmp_path: Path) -> None:
    plain = write_focus(tmp_path / "x.csv", [line(cost="2.5", BillingAccountId="gz")])
    zipped = tmp_path / "in" / "x.csv.gz"
    zipped.parent.mkdir()
    with plain.open("rb") as source, gzip.open(zipped, "wb") as target:
        shutil.copyfileobj(source, target)
    parquet = tmp_path / "in" / "y.parquet"
    write_focus(tmp_path / "y.csv", [line(cost="1.5", BillingAccountId="pq")])
    duckdb.sql(
        f"COPY (SELECT * REPLACE (CAST(EffectiveCost AS DOUBLE) AS EffectiveCost) "
        f"FROM read_csv('{tmp_path / 'y.csv'}', all_varchar=true)) TO '{parquet}' (FORMAT parquet)"
    )
    report = ingest(sqlite_engine, [tmp_path / "in"])
    assert report.ok
    assert _stored_total() == Decimal(4)


@pytest.mark.corpora
def test_official_focus_sample_ingests_and_reconciles(
    corpora: Path, sqlite_engine: Engine, facts_of
) -> None:
    sample = corpora / "focus" / "focus_sample_1000.csv"
    report = ingest(sqlite_engine, [sample])
    assert report.ok and report.rows == 1000
    expected = duckdb.sql(
        f"SELECT sum(CAST(EffectiveCost AS DECIMAL(38,10))), sum(CAST(BilledCost AS "
        f"DECIMAL(38,10))) FROM read_csv('{sample}', all_varchar=true, nullstr='NULL')"
    ).fetchall()[0]
    facts, snapshot, rules = facts_of()
    result = showback(facts, snapshot, rules, by="group")
    [balance] = result["reconciliation"]
    assert balance["balanced"]
    assert balance["input_effective"] == expected[0]
    assert balance["allocated"] + balance["unallocated"] == expected[0]
    assert balance["billed"] == expected[1]
    # The messy tags are read through the plan's aliases (` org`, `env`, `Environment`...).
    keys = facts.keys().to_pyarrow().to_pylist()
    environments = {k["tag_environment"] for k in keys if k["tag_environment"]}
    assert environments <= {"production", "staging", "development", "test", "dev", "prod"} | {
        e for e in environments
    }
    assert any(k["tag_environment"] == "development" for k in keys)
    # Same facts from the Parquet twin of the sample.
    again = ingest(sqlite_engine, [corpora / "focus" / "focus_sample_1000.parquet"])
    assert again.ok and again.rows == 1000


@pytest.mark.corpora
def test_focus_1_2_examples_ingest(corpora: Path, sqlite_engine: Engine, facts_of) -> None:
    report = ingest(
        sqlite_engine, [corpora / "focus" / "spec-v1.2-examples"], default_currency="USD"
    )
    landed = [f for f in report.files if f.status == "landed"]
    quarantined = {Path(f.path).name: f for f in report.files if f.status == "quarantined"}
    assert len(landed) == 24
    # Two upstream examples carry an impossible time (hour 30): named, not guessed.
    assert sorted(quarantined) == [
        "commitment_discount_scenarios__commitment_discount_purchase_scenario_2.csv",
        "commitment_discount_scenarios__commitment_discount_purchase_scenario_3.csv",
    ]
    for item in quarantined.values():
        assert item.errors[0].column == "ChargePeriodEnd"
        assert "'2023-02-01T30:00:00Z'" in item.errors[0].message
    facts, snapshot, rules = facts_of()
    result = showback(facts, snapshot, rules, by="group")
    [balance] = result["reconciliation"]
    assert balance["balanced"]
    assert balance["input_effective"] == sum(f.totals["USD"]["effective"] for f in landed)


def test_retag_applies_a_new_plan_to_stored_facts(
    sqlite_engine: Engine, tmp_path: Path, facts_of
) -> None:
    from sentier.finops.retag import retag
    from sentier.tagging import TaggingPlan

    ingest(sqlite_engine, [write_focus(tmp_path / "t.csv", [line(tags={"squad": "team-a"})])])
    facts, snapshot, rules = facts_of()
    assert showback(facts, snapshot, rules, by="owner")["rows"][0]["key"] == (
        "group:default/team-a"
    )
    plan = TaggingPlan.from_data(
        {"keys": {"team": {"required": True, "catalog_kind": "group"}, "squad-name": {}}}
    )
    assert retag(plan) == {"slices": 1, "keys": 1}
    facts, snapshot, rules = facts_of()
    facts.plan = plan
    keys = facts.keys().to_pyarrow().to_pylist()
    assert keys[0]["tag_team"] is None and keys[0]["tag_violations"] == "team:missing"
    assert showback(facts, snapshot, rules, by="owner")["rows"][0]["key"] == "unallocated"
