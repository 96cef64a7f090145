"""Native exports read as FOCUS, on hand-made samples with known answers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sentier.finops import ingest

SAMPLES = Path(__file__).parent / "samples"


def _lines(facts_of) -> list[dict]:
    facts, _, _ = facts_of()
    return sorted(
        facts.cost_lines().to_pyarrow().to_pylist(),
        key=lambda r: (str(r["ChargeCategory"]), str(r["ResourceId"])),
    )


def test_aws_cur2(sqlite_engine: Engine, facts_of) -> None:
    report = ingest(sqlite_engine, [SAMPLES / "aws-cur2.csv"], provider_format="aws-cur2")
    assert report.ok, [str(p) for f in report.files for p in f.problems]
    totals = report.files[0].totals["USD"]
    # Billed: 0.23 + 0.10 - 0.10 + 0.08 + 0.05; effective: 0.23 + 0.07 + 0 + (0.08-0.07) + 0.05
    assert totals == {"billed": Decimal("0.36"), "effective": Decimal("0.36")}
    lines = {(r["ChargeCategory"], r["ResourceId"]): r for r in _lines(facts_of)}
    s3 = lines[("Usage", "my-bucket")]
    assert s3["ServiceCategory"] == "Storage" and s3["SubAccountId"] == "444455556666"
    assert s3["tag_team"] == "team-a"
    assert '"aws:createdBy"' in s3["Tags"]
    covered = lines[("Usage", "i-123")]
    assert covered["EffectiveCost"] == Decimal("0.07")
    assert covered["CommitmentDiscountStatus"] == "Used"
    assert covered["PricingCategory"] == "Committed"
    fee = lines[("Purchase", "arn:aws:savingsplans::1:savingsplan/sp-1")]
    assert fee["ChargeFrequency"] == "Recurring" and fee["CommitmentDiscountStatus"] == "Unused"
    assert lines[("Tax", None)]["ChargeFrequency"] == "One-Time"


def test_azure(sqlite_engine: Engine, facts_of) -> None:
    report = ingest(sqlite_engine, [SAMPLES / "azure.csv"], provider_format="azure")
    assert report.ok, [str(p) for f in report.files for p in f.problems]
    assert report.files[0].periods == ["2024-09"]
    lines = _lines(facts_of)
    vm = next(r for r in lines if r["ResourceName"] == "VM-1")
    assert vm["BillingPeriodEnd"].isoformat() == "2024-10-01T00:00:00"  # inclusive -> exclusive
    assert vm["ChargePeriodStart"].isoformat() == "2024-09-15T00:00:00"
    assert vm["ServiceCategory"] == "Compute" and vm["RegionId"] == "westeurope"
    assert vm["ResourceType"] == "microsoft.compute/virtualmachines"
    assert vm["tag_team"] == "team-a" and vm["tag_environment"] == "production"
    assert vm["ListCost"] == Decimal("2.4")
    unused = next(r for r in lines if r["ResourceName"] == "VM-2")
    assert unused["CommitmentDiscountStatus"] == "Unused"
    purchase = next(r for r in lines if r["ChargeCategory"] == "Purchase")
    assert purchase["ChargeFrequency"] == "One-Time"


def test_gcp(sqlite_engine: Engine, facts_of) -> None:
    report = ingest(sqlite_engine, [SAMPLES / "gcp.csv"], provider_format="gcp")
    assert report.ok, [str(p) for f in report.files for p in f.problems]
    assert report.files[0].totals["EUR"]["effective"] == Decimal("1.44")  # credits included
    lines = _lines(facts_of)
    vm = next(r for r in lines if r["ResourceName"] == "vm-1")
    assert vm["EffectiveCost"] == Decimal("1.2")
    assert vm["tag_team"] == "team-b" and vm["SubAccountId"] == "shop-prod"
    assert vm["ChargePeriodStart"].isoformat() == "2024-09-02T10:00:00"
    assert vm["ServiceCategory"] == "Compute" and vm["AvailabilityZone"] == "europe-west1-b"
    assert any(r["ChargeCategory"] == "Tax" for r in lines)


def test_a_file_of_another_format_is_quarantined_naming_what_is_missing(
    sqlite_engine: Engine,
) -> None:
    report = ingest(sqlite_engine, [SAMPLES / "gcp.csv"], provider_format="aws-cur2")
    [item] = report.files
    assert item.status == "quarantined"
    assert "not a AWS CUR 2.0 export: missing column(s) bill_billing_period_end_date" in str(
        item.errors[0]
    )


@pytest.mark.parametrize("name", ["aws-cur2", "azure", "gcp"])
def test_adapter_files_are_valid(name: str) -> None:
    from sentier.finops.adapters import adapter_spec
    from sentier.finops.columns import columns_by_lower_name

    spec = adapter_spec(name)
    assert set(c.lower() for c in spec["columns"]) <= set(columns_by_lower_name())
