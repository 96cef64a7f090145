"""How FOCUS line descriptions are read: instance hours, storage, network, nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sentier.greenops import ESTIMATED, NOT_ESTIMATED, NOT_USAGE, classify, load_coefficients

C = load_coefficients()


def read(**values: Any) -> Any:
    row = {
        "ProviderName": "AWS",
        "ChargeCategory": "Usage",
        "RegionId": "eu-west-3",
        "ServiceName": "Amazon Elastic Compute Cloud",
        "ConsumedUnit": "Hours",
    }
    row.update(values)
    return classify(C, row)


@pytest.mark.parametrize(
    ("values", "instance_type"),
    [
        ({"ChargeDescription": "$0.34 per On Demand Linux c5.2xlarge Instance Hour"}, "c5.2xlarge"),
        (
            {"SkuPriceDetails": '{"InstanceType": "m5.large", "OperatingSystem": "Linux"}'},
            "m5.large",
        ),
        (
            {
                "ChargeDescription": "RDS db.t3.medium Multi-AZ",
                "ServiceName": "Amazon Relational Database Service",
            },
            "db.t3.medium",
        ),
        (
            {
                "ProviderName": "Google Cloud",
                "SkuMeter": "n2-standard-8 running in Belgium",
                "RegionId": "europe-west1",
            },
            "n2-standard-8",
        ),
        ({"ChargeDescription": "hours of something"}, None),
    ],
)
def test_instance_hours_find_their_type(values: dict[str, Any], instance_type: str | None) -> None:
    usage = read(**values)
    assert usage.kind == "instance" and usage.status == ESTIMATED
    assert usage.instance_type == instance_type


def test_storage_units_become_gb_hours_with_their_replication() -> None:
    ebs = read(ConsumedUnit="GB-Mo", ChargeDescription="gp3 provisioned storage")
    assert (ebs.kind, ebs.medium, ebs.replication, ebs.per_unit) == (
        "storage",
        "ssd",
        "EC2_EBS_VOLUME",
        730,
    )
    s3 = read(ConsumedUnit="GB-Months", ServiceName="Amazon Simple Storage Service")
    assert (s3.kind, s3.medium, s3.replication) == ("storage", "hdd", "S3")
    snapshot = read(ConsumedUnit="GB-Months", ChargeDescription="$0.05 per GB-Month of snapshot")
    assert snapshot.replication == "EC2_EBS_SNAPSHOT"
    gcs = read(ProviderName="Google Cloud", ServiceName="Cloud Storage", ConsumedUnit="GiB-Months")
    assert (gcs.kind, gcs.replication) == ("storage", "CLOUD_STORAGE_SINGLE_REGION")


def test_network_between_regions_counts_internet_and_inbound_do_not() -> None:
    between = read(
        ConsumedUnit="GB",
        ChargeDescription="$0.02 per GB - US West (Oregon) data transfer to US East",
    )
    assert between.kind == "network" and between.status == ESTIMATED
    internet = read(
        ConsumedUnit="GB", ChargeDescription="$0.090 per GB - first 10 TB / month data transfer out"
    )
    assert internet.status == NOT_ESTIMATED and "internet" in (internet.reason or "")
    inbound = read(
        ConsumedUnit="GB",
        ChargeDescription="$0.00 per GB - US West data transfer from Asia Pacific",
    )
    assert inbound.status == NOT_ESTIMATED and "inbound" in (inbound.reason or "")


def test_lines_without_usage_or_model_say_why() -> None:
    purchase = read(ChargeCategory="Purchase")
    assert purchase.status == NOT_USAGE and "Purchase" in (purchase.reason or "")
    unused = read(CommitmentDiscountStatus="Unused")
    assert unused.status == NOT_USAGE
    requests = read(ConsumedUnit="Requests")
    assert requests.status == NOT_ESTIMATED and "'Requests'" in (requests.reason or "")
    oracle = read(ProviderName="Oracle")
    assert oracle.status == NOT_ESTIMATED and "Oracle" in (oracle.reason or "")
    priced = read(ConsumedUnit=None, PricingUnit="GB-Mo")
    assert priced.kind == "storage" and priced.use_pricing


def test_official_sample_descriptions_are_read(corpora: Any) -> None:
    """The FOCUS sample's AWS lines: instance hours found, kinds assigned, none crash."""
    import csv
    from collections import Counter

    path = corpora / "focus" / "focus_sample_1000.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    kinds: Counter[str] = Counter()
    types = set()
    for row in rows:
        values = {k: (None if v == "NULL" else v) for k, v in row.items()}
        usage = classify(C, values)
        kinds[str(usage.kind or usage.status)] += 1
        if usage.instance_type:
            types.add(usage.instance_type)
    assert "c5.2xlarge" in types
    assert kinds["storage"] > 50 and kinds["network"] > 0 and kinds["instance"] > 10
