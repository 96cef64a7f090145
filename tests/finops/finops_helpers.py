"""Hand-made FOCUS lines and catalog entities with known answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

COLUMNS = [
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "PricingUnit",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ServiceName",
    "ServiceCategory",
    "RegionId",
    "ResourceId",
    "SubAccountId",
    "SubAccountName",
    "CommitmentDiscountId",
    "CommitmentDiscountStatus",
    "Tags",
]


def line(**values: Any) -> dict[str, Any]:
    """One FOCUS line with sensible defaults (a usage hour of September 2024, USD)."""
    day = values.pop("day", "2024-09-10")
    period = day[:7]
    year, month = int(period[:4]), int(period[5:])
    end = f"{year + (month == 12)}-{(month % 12) + 1:02d}-01"
    cost = values.pop("cost", "1.00")
    tags = values.pop("tags", None)
    row = {
        "BillingAccountId": "acct-1",
        "BillingAccountName": "Acme",
        "BillingCurrency": "USD",
        "BillingPeriodStart": f"{period}-01T00:00:00Z",
        "BillingPeriodEnd": f"{end}T00:00:00Z",
        "ChargePeriodStart": f"{day}T00:00:00Z",
        "ChargePeriodEnd": f"{day}T01:00:00Z",
        "ChargeCategory": "Usage",
        "ChargeClass": "",
        "ChargeDescription": "an hour",
        "ChargeFrequency": "Usage-Based",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "ListCost": cost,
        "ContractedCost": cost,
        "PricingQuantity": "1",
        "PricingUnit": "Hours",
        "ConsumedQuantity": "1",
        "ConsumedUnit": "Hours",
        "ProviderName": "AWS",
        "PublisherName": "AWS",
        "InvoiceIssuerName": "AWS",
        "ServiceName": "Amazon EC2",
        "ServiceCategory": "Compute",
        "RegionId": "eu-west-3",
        "ResourceId": "i-1",
        "SubAccountId": "111",
        "SubAccountName": "prod",
        "CommitmentDiscountId": "",
        "CommitmentDiscountStatus": "",
        "Tags": json.dumps(tags) if tags is not None else "",
    }
    row.update({k: v for k, v in values.items()})
    return row


def write_focus(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def entity(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


ORG = [
    entity("Group", "acme", {"type": "organization", "children": []}),
    entity("Group", "product", {"type": "division", "parent": "acme", "children": []}),
    entity(
        "Group",
        "team-a",
        {"type": "team", "parent": "product", "children": []},
        annotations={"sentier.io/cost-center": "CC-100"},
    ),
    entity(
        "Group",
        "team-b",
        {"type": "team", "parent": "product", "children": []},
        annotations={"sentier.io/cloud-accounts": "222"},
    ),
    entity("Group", "team-c", {"type": "team", "parent": "acme", "children": []}),
    entity("System", "shop", {"owner": "team-b"}),
    entity(
        "Component",
        "checkout",
        {"type": "service", "lifecycle": "production", "owner": "team-b", "system": "shop"},
    ),
    entity(
        "Resource",
        "orders-db",
        {"type": "database", "owner": "team-c", "system": "shop"},
        annotations={"sentier.io/cloud-resource-ids": "arn:aws:rds:eu-west-3:111:db:orders"},
    ),
]


def ingest_org(engine: Any, directory: Path) -> Any:
    """The small organisation (``ORG``) written under ``directory`` and ingested; the engine."""
    import yaml

    from sentier.catalog import ingest_source
    from sentier.store import session_scope

    path = directory / "catalog" / "catalog-info.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump_all(ORG), encoding="utf-8")
    with session_scope(engine) as session:
        report = ingest_source(session, [path], check_dangling=False)
    assert report.ok, report.problems
    return engine
