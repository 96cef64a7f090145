"""Six months of FOCUS 1.2 billing for the demo organisation's cloud resources.

Daily usage lines for every Resource (databases, buckets, queues, caches on AWS and GCP) and
for the compute of every service, with what real bills have: weekly seasonality and growth,
a Savings Plan (its monthly fee, the usage it covers, and its unused part), a support plan,
lines without tags, tags spelled every way (``Team``, ``owner``, ``env: prod``) or naming a
team that does not exist, and one spike (a runaway search indexer) for anomaly detection.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sentier.demo.organisation import Organisation

FIRST_MONTH = date(2026, 5, 1)
MONTHS = 6
SPIKE_DAY = date(2026, 9, 16)
SPIKE_COMPONENT = "indexer"

COLUMNS = [
    "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
    "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ListUnitPrice",
    "ContractedUnitPrice", "PricingQuantity", "PricingUnit", "PricingCategory",
    "ConsumedQuantity", "ConsumedUnit", "ProviderName", "PublisherName", "InvoiceIssuerName",
    "InvoiceId", "ServiceName", "ServiceCategory", "ServiceSubcategory", "RegionId",
    "RegionName", "AvailabilityZone", "ResourceId", "ResourceName", "ResourceType", "SkuId",
    "SkuPriceId", "SubAccountId", "SubAccountName", "SubAccountType",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountCategory",
    "CommitmentDiscountType", "CommitmentDiscountStatus", "Tags",
]  # fmt: skip

REGION_NAMES = {
    "eu-west-1": "Europe (Ireland)",
    "eu-west-3": "Europe (Paris)",
    "eu-central-1": "Europe (Frankfurt)",
    "europe-west1": "Belgium",
}

# (provider, resource type) -> service name, category, subcategory, unit, daily base cost
_SERVICE_TABLE = """
aws database | Amazon Relational Database Service | Databases | Relational Databases | Hours | 38
aws bucket | Amazon Simple Storage Service | Storage | Object Storage | GB-Mo | 6
aws queue | Amazon Simple Queue Service | Integration | Messaging | Requests | 1.5
aws cache | Amazon ElastiCache | Databases | Caching | Hours | 14
gcp database | Cloud SQL | Databases | Relational Databases | Hours | 31
gcp bucket | Cloud Storage | Storage | Object Storage | GiB-Months | 5
gcp queue | Cloud Pub/Sub | Integration | Messaging | TiB | 2
gcp cache | Memorystore for Redis | Databases | Caching | Hours | 11
aws kafka | Amazon Managed Streaming for Apache Kafka | Analytics | Streaming Analytics | Hours | 55
aws compute | Amazon Elastic Compute Cloud | Compute | Virtual Machines | Hours | 24
gcp compute | Compute Engine | Compute | Virtual Machines | Hours | 21
"""
# List price per unit of what is not billed by the hour. A line's quantity is its (daily)
# cost at that price: a storage line holds that day's GB-months (a month's GB stored / its
# days), as real exports prorate them; the carbon model reads them as GB-months.
UNIT_PRICES = {
    "GB-Mo": 0.023,  # S3 Standard, per GB-month
    "GiB-Months": 0.023,  # Cloud Storage, per GiB-month
    "Requests": 0.0000004,  # SQS, per request (0.40 per million)
    "TiB": 40.0,  # Pub/Sub, per TiB of messages
}

# (provider, resource type) -> service name, category, subcategory, unit, daily base cost
SERVICES: dict[tuple[str, str], tuple[str, str, str, str, float]] = {
    (key.split()[0], key.split()[1]): (name, category, sub, unit, float(cost))
    for key, name, category, sub, unit, cost in (
        [part.strip() for part in row.split("|")] for row in _SERVICE_TABLE.strip().splitlines()
    )
}

AWS_BILLING = ("111122223333", "ACME AWS organisation")
GCP_BILLING = ("01A2B3-C4D5E6-F7A8B9", "ACME GCP billing")
SAVINGS_PLAN = "arn:aws:savingsplans::111122223333:savingsplan/sp-0a1b2c3d4e5f"
SUPPORT_ACCOUNT = "123456789012"


@dataclass
class _Line:
    provider: str
    resource_id: str
    resource_name: str
    resource_type: str
    service: tuple[str, str, str, str, float]
    region: str
    sub_account: str
    sub_account_name: str
    tags: dict[str, str] | None
    base: float
    covered: bool = False


def _account_of(cloud_id: str) -> str:
    parts = cloud_id.split(":")
    return parts[4] if cloud_id.startswith("arn:") and len(parts) > 4 else "acme-data"


def _sku(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12].upper()


def _tags(rng: random.Random, team: str, service: str, index: int) -> dict[str, str] | None:
    """Tags as people write them: mostly right, sometimes absent, aliased or wrong."""
    roll = index % 20
    if roll == 0:
        return None  # untagged
    if roll == 1:
        return {"Team": team.replace("team-", "Team-").upper(), "Application": service}
    if roll == 2:
        return {"owner": team, "app": service, "Environment": "Prod"}
    if roll == 3:
        return {"team": team.replace("team-", "team-x"), "service": service, "env": "prod"}
    if roll == 4:
        return {"service": service, "environment": "production"}  # team missing
    env = rng.choice(["production", "production", "production", "staging"])
    tags = {"team": team, "service": service, "environment": env}
    if index % 3 == 0:
        tags["cost-center"] = f"CC-{100 + index % 7}"
    return tags


def _lines(org: Organisation, rng: random.Random) -> list[_Line]:
    out: list[_Line] = []
    system_account: dict[str, str] = {}
    for index, resource in enumerate(org.resources):
        kind = "kafka" if resource.engine == "kafka" else resource.type
        service = SERVICES[(resource.provider, kind)]
        account = _account_of(resource.cloud_id)
        system_account.setdefault(resource.system, account)
        # Resources are mostly tagged by their owner; catalog annotations cover the rest.
        tags = _tags(rng, resource.owner, resource.name, index + 7)
        out.append(
            _Line(
                resource.provider,
                resource.cloud_id,
                resource.name,
                resource.type,
                service,
                resource.region,
                account,
                f"{resource.system}-{resource.provider}",
                tags,
                service[4] * rng.uniform(0.6, 1.8),
            )
        )
    for index, component in enumerate(org.components):
        if component.type == "library":
            continue
        region = org.systems[component.system][3]
        provider = "gcp" if region.startswith("europe-") else "aws"
        account = system_account.get(component.system, "acme-data")
        instance = hashlib.sha1(component.name.encode()).hexdigest()[:17]
        resource_id = (
            f"arn:aws:ec2:{region}:{account}:instance/i-{instance}"
            if provider == "aws"
            else f"//compute.googleapis.com/projects/acme-data/zones/{region}-b/instances/"
            f"{component.name}"
        )
        out.append(
            _Line(
                provider,
                resource_id,
                f"{component.name}-vm",
                "instance",
                SERVICES[(provider, "compute")],
                region,
                account,
                f"{component.system}-{provider}",
                _tags(rng, component.owner, component.name, index),
                SERVICES[(provider, "compute")][4] * (3 - component.tier) * rng.uniform(0.7, 1.5),
                covered=provider == "aws" and component.tier == 1,
            )
        )
    return out


def _month_bounds(month: date) -> tuple[date, date]:
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return month, following


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _row(
    line: _Line | None,
    *,
    provider: str,
    period: tuple[date, date],
    start: date,
    end: date,
    billed: Decimal,
    effective: Decimal,
    listed: Decimal,
    quantity: Decimal,
    **extra: Any,
) -> dict[str, Any]:
    billing = AWS_BILLING if provider == "aws" else GCP_BILLING
    row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
    row.update(
        {
            "BillingAccountId": billing[0],
            "BillingAccountName": billing[1],
            "BillingAccountType": "Billing Account",
            "BillingCurrency": "EUR",
            "BillingPeriodStart": _stamp(period[0]),
            "BillingPeriodEnd": _stamp(period[1]),
            "ChargePeriodStart": _stamp(start),
            "ChargePeriodEnd": _stamp(end),
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "BilledCost": str(billed),
            "EffectiveCost": str(effective),
            "ListCost": str(listed),
            "ContractedCost": str(billed),
            "PricingQuantity": str(quantity),
            "PricingCategory": "Standard",
            "ConsumedQuantity": str(quantity),
            "ProviderName": "AWS" if provider == "aws" else "Google Cloud",
            "PublisherName": "AWS" if provider == "aws" else "Google Cloud",
            "InvoiceIssuerName": "Amazon Web Services EMEA SARL"
            if provider == "aws"
            else "Google Cloud EMEA Limited",
            "InvoiceId": f"INV-{provider.upper()}-{period[0]:%Y%m}",
        }
    )
    if line is not None:
        name, category, subcategory, unit, _ = line.service
        sku = _sku(f"{name}/{line.region}/{line.resource_type}")
        row.update(
            {
                "ChargeDescription": f"{name} usage in "
                + REGION_NAMES.get(line.region, line.region),
                "PricingUnit": unit,
                "ConsumedUnit": unit,
                "ServiceName": name,
                "ServiceCategory": category,
                "ServiceSubcategory": subcategory,
                "RegionId": line.region,
                "RegionName": REGION_NAMES.get(line.region, line.region),
                "AvailabilityZone": f"{line.region}a" if provider == "aws" else f"{line.region}-b",
                "ResourceId": line.resource_id,
                "ResourceName": line.resource_name,
                "ResourceType": line.resource_type,
                "SkuId": sku,
                "SkuPriceId": f"{sku}.{'SP' if line.covered else 'OD'}",
                "SubAccountId": line.sub_account,
                "SubAccountName": line.sub_account_name,
                "SubAccountType": "AWS Account" if provider == "aws" else "Project",
                "Tags": json.dumps(line.tags) if line.tags else "",
            }
        )
    row.update({k: str(v) for k, v in extra.items()})
    return row


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def write_billing(org: Organisation, root: Path) -> dict[str, int]:
    """Write ``billing/<provider>/<YYYY-MM>.csv.gz`` under ``root``; returns counts."""
    rng = random.Random(org.seed + 6)
    lines = _lines(org, rng)
    base = root / "billing"
    counts = {"billing files": 0, "billing lines": 0}
    month = FIRST_MONTH
    for month_index in range(MONTHS):
        period = _month_bounds(month)
        rows: dict[str, list[dict[str, Any]]] = {"aws": [], "gcp": []}
        growth = 1 + 0.03 * month_index
        day = period[0]
        sp_hourly_commitment = Decimal("42.000000")
        while day < period[1]:
            weekday = day.weekday()
            covered_today = Decimal(0)
            for line in lines:
                seasonal = 0.72 if weekday >= 5 and line.resource_type == "instance" else 1.0
                noise = rng.gauss(1.0, 0.04)
                cost = line.base * growth * seasonal * noise
                if day == SPIKE_DAY and line.resource_name == f"{SPIKE_COMPONENT}-vm":
                    cost *= 6.5
                listed = _money(cost * 1.25)
                quantity = (
                    _money(24 * seasonal)
                    if line.service[3] == "Hours"
                    else _money(cost / UNIT_PRICES[line.service[3]])
                )
                if line.covered:
                    effective = _money(cost * 0.72)
                    covered_today += effective
                    rows[line.provider].append(
                        _row(
                            line, provider=line.provider, period=period, start=day,
                            end=day + timedelta(days=1), billed=Decimal(0), effective=effective,
                            listed=listed, quantity=quantity, PricingCategory="Committed",
                            CommitmentDiscountId=SAVINGS_PLAN,
                            CommitmentDiscountName="Compute Savings Plan 1y",
                            CommitmentDiscountCategory="Spend",
                            CommitmentDiscountType="Compute Savings Plan",
                            CommitmentDiscountStatus="Used",
                        )
                    )  # fmt: skip
                else:
                    billed = _money(cost)
                    rows[line.provider].append(
                        _row(
                            line, provider=line.provider, period=period, start=day,
                            end=day + timedelta(days=1), billed=billed, effective=billed,
                            listed=listed, quantity=quantity,
                        )
                    )  # fmt: skip
            daily_commitment = sp_hourly_commitment * 24 / 10
            unused = daily_commitment - covered_today
            if unused > 0:
                rows["aws"].append(
                    _row(
                        None, provider="aws", period=period, start=day,
                        end=day + timedelta(days=1), billed=Decimal(0), effective=unused,
                        listed=Decimal(0), quantity=Decimal(0),
                        ChargeDescription="Unused Savings Plan commitment",
                        ServiceName="AWS Savings Plans", ServiceCategory="Compute",
                        ServiceSubcategory="Other (Compute)",
                        ResourceId=SAVINGS_PLAN, PricingCategory="Committed",
                        SubAccountId=SUPPORT_ACCOUNT, SubAccountName="acme-management",
                        CommitmentDiscountId=SAVINGS_PLAN,
                        CommitmentDiscountName="Compute Savings Plan 1y",
                        CommitmentDiscountCategory="Spend",
                        CommitmentDiscountType="Compute Savings Plan",
                        CommitmentDiscountStatus="Unused",
                    )
                )  # fmt: skip
            day += timedelta(days=1)
        days = (period[1] - period[0]).days
        fee = (sp_hourly_commitment * 24 / 10 * days).quantize(Decimal("0.01"))
        rows["aws"].append(
            _row(
                None, provider="aws", period=period, start=period[0], end=period[1],
                billed=fee, effective=Decimal(0), listed=Decimal(0), quantity=Decimal(1),
                ChargeCategory="Purchase", ChargeFrequency="Recurring",
                ChargeDescription="Compute Savings Plan 1y, no upfront, monthly fee",
                ServiceName="AWS Savings Plans", ServiceCategory="Compute",
                ServiceSubcategory="Other (Compute)",
                ResourceId=SAVINGS_PLAN, SubAccountId=SUPPORT_ACCOUNT,
                SubAccountName="acme-management", CommitmentDiscountId=SAVINGS_PLAN,
                CommitmentDiscountName="Compute Savings Plan 1y",
                CommitmentDiscountCategory="Spend", CommitmentDiscountType="Compute Savings Plan",
            )
        )  # fmt: skip
        support = _money(sum(float(r["BilledCost"]) for r in rows["aws"]) * 0.1)
        rows["aws"].append(
            _row(
                None, provider="aws", period=period, start=period[0], end=period[1],
                billed=support, effective=support, listed=support, quantity=Decimal(1),
                ChargeFrequency="Recurring", ChargeDescription="Business support, 10% of usage",
                ServiceName="AWS Support (Business)",
                ServiceCategory="Management and Governance", ServiceSubcategory="Support",
                SubAccountId=SUPPORT_ACCOUNT,
                SubAccountName="acme-management",
            )
        )  # fmt: skip
        for provider, provider_rows in rows.items():
            path = base / provider / f"{period[0]:%Y-%m}.csv.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            # mtime=0: the same seed gives byte-identical files (gzip stamps the time otherwise).
            with (
                gzip.GzipFile(path, "wb", mtime=0) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as handle,
            ):
                writer = csv.DictWriter(handle, fieldnames=COLUMNS)
                writer.writeheader()
                writer.writerows(provider_rows)
            counts["billing files"] += 1
            counts["billing lines"] += len(provider_rows)
        month = period[1]
    settings = root / "finops"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "allocation.yaml").write_text(ALLOCATION_EXAMPLE, encoding="utf-8")
    (settings / "kpis.csv").write_text(_kpis(rng), encoding="utf-8")
    return counts


def _kpis(rng: random.Random) -> str:
    """Daily business KPIs per system, for unit economics (cost per order, per active user)."""
    lines = ["date,product,metric,value"]
    day = FIRST_MONTH
    end = date(
        FIRST_MONTH.year + (FIRST_MONTH.month + MONTHS > 12),
        (FIRST_MONTH.month + MONTHS - 1) % 12 + 1,
        1,
    )
    while day < end:
        growth = 1 + (day - FIRST_MONTH).days / 365
        weekend = 1.3 if day.weekday() >= 5 else 1.0
        orders = round(4200 * growth * weekend * rng.gauss(1, 0.05))
        users = round(61000 * growth * rng.gauss(1, 0.03))
        lines.append(f"{day.isoformat()},system:storefront,orders,{orders}")
        lines.append(f"{day.isoformat()},system:accounts,active-users,{users}")
        day += timedelta(days=1)
    return "\n".join(lines) + "\n"


ALLOCATION_EXAMPLE = """\
# Allocation rules of the demo: the defaults, plus the shared support plan split between
# teams in proportion to what each spends, and the unused Savings Plan redistributed to the
# teams that used it. Use with `sentier cost report --rules finops/allocation.yaml`, or copy
# to SENTIER_HOME/allocation.yaml.
version: 1
rules:
  - name: team-tag
    tag: team
  - name: service-tag
    tag: service
  - name: resource-annotation
    annotation: sentier.io/cloud-resource-ids
  - name: cost-center-tag
    tag: cost-center
    via_annotation: sentier.io/cost-center
  - name: sub-account
    sub_account: {}
shared:
  - name: support
    match: {service_name: ["AWS Support (Business)"]}
    split: proportional
commitments:
  unused: redistribute
"""
