"""The demo's storage: daily lines prorate GB-months, and its carbon has a credible size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.demo import generate_organisation
from sentier.finops import Facts, ingest, load_rules, load_snapshot
from sentier.greenops import CarbonContext, carbon_report, load_coefficients, load_resource_facts
from sentier.store import session_scope

MONTH = "2026-06"


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    generate_organisation(directory)
    return directory


@pytest.fixture
def demo(demo_dir: Path, sqlite_engine: Engine) -> Iterator[CarbonContext]:
    from sentier.catalog import ingest_source

    with session_scope(sqlite_engine) as session:
        ingest_source(session, [demo_dir / "catalog"], check_dangling=False)
    report = ingest(sqlite_engine, [demo_dir / "billing" / "aws", demo_dir / "billing" / "gcp"])
    assert report.ok, [str(p) for f in report.files for p in f.errors]
    con = duckdb_connection()
    with session_scope(sqlite_engine) as session:
        ctx = CarbonContext(
            Facts(con, periods=[MONTH]),
            load_snapshot(session),
            load_rules(demo_dir / "finops" / "allocation.yaml"),
            load_coefficients(),
            load_resource_facts(session),
        )
    yield ctx
    con.disconnect()


def test_daily_storage_lines_hold_a_days_share_of_gb_months(demo: CarbonContext) -> None:
    lines = demo.facts.cost_lines()
    storage = lines.filter(lines.ServiceCategory == "Storage").to_pandas()
    assert set(storage["ConsumedUnit"]) == {"GB-Mo", "GiB-Months"}
    # Priced as object storage is (about 0.02 per GB-month), each day's line carrying that
    # day's share of the month: a bucket's 30 daily lines add up to its GB stored, once.
    price = storage["BilledCost"].astype(float) / storage["ConsumedQuantity"].astype(float)
    assert price.between(0.015, 0.03).all()
    per_bucket = storage.groupby("ResourceId")["ConsumedQuantity"]
    days = per_bucket.count()
    assert (days == 30).all()
    daily_share = per_bucket.max().astype(float) / per_bucket.sum().astype(float)
    assert daily_share.between(1 / 30 * 0.8, 1 / 30 * 1.25).all()


def test_demo_storage_carbon_has_the_size_ccf_gives_stored_terabytes(
    demo: CarbonContext,
) -> None:
    lines = demo.facts.cost_lines()
    storage = lines.filter(lines.ServiceCategory == "Storage")
    tb_months = float(storage.ConsumedQuantity.sum().execute()) / 1000
    rows = {r["key"]: r for r in carbon_report(demo, by="kind")["rows"]}
    kg, kwh = rows["storage"]["total_kg"], rows["storage"]["energy_kwh"]
    # CCF: 0.65 (HDD) to 1.2 (SSD) Wh per TB-hour, 1 to 6 copies, 730 hours, PUE ~1.1, grids of
    # 0.05 to 0.4 kg/kWh: from ~0.5 to ~6 kWh and ~0.03 to ~2.5 kg per stored TB-month.
    assert 0.5 <= kwh / tb_months <= 6.5
    assert 0.03 <= kg / tb_months <= 2.5
