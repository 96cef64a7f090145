"""What the demo's billing does not say about its machines: instance types, CPU utilisation.

Written as the CSV ``sentier carbon resources import`` reads, keyed by the ResourceIds of the
demo billing (``billing_files``): services run on instance types by tier, databases, caches
and Kafka brokers on managed instance types; most carry a measured average CPU utilisation,
a few do not (the model then uses CCF's 50 %), and buckets and queues need neither.
"""

from __future__ import annotations

import csv
import hashlib
import random
from pathlib import Path

from sentier.demo.organisation import Organisation

# (provider, tier) -> instance type of a service's machines.
COMPUTE_TYPES = {
    ("aws", 1): "m5.xlarge",
    ("aws", 2): "m5.large",
    ("aws", 3): "t3.medium",
    ("gcp", 1): "n2-standard-4",
    ("gcp", 2): "n2-standard-2",
    ("gcp", 3): "e2-medium",
}
# (provider, resource type or engine) -> managed instance type.
MANAGED_TYPES = {
    ("aws", "database"): "db.r5.large",
    ("aws", "cache"): "cache.m5.large",
    ("aws", "kafka"): "kafka.m5.large",
    ("gcp", "database"): "n1-standard-2",
}


def _account_of(cloud_id: str) -> str:
    parts = cloud_id.split(":")
    return parts[4] if cloud_id.startswith("arn:") and len(parts) > 4 else "acme-data"


def compute_resource_id(org: Organisation, component_name: str, system: str) -> tuple[str, str]:
    """(provider, ResourceId) of a service's machine, as the demo billing names it."""
    region = org.systems[system][3]
    provider = "gcp" if region.startswith("europe-") else "aws"
    account = next(
        (_account_of(r.cloud_id) for r in org.resources if r.system == system), "acme-data"
    )
    instance = hashlib.sha1(component_name.encode()).hexdigest()[:17]
    if provider == "aws":
        return provider, f"arn:aws:ec2:{region}:{account}:instance/i-{instance}"
    return provider, (
        f"//compute.googleapis.com/projects/acme-data/zones/{region}-b/instances/{component_name}"
    )


def write_greenops(org: Organisation, root: Path) -> dict[str, int]:
    """Write ``greenops/resources.csv`` under ``root``; returns counts."""
    rng = random.Random(org.seed + 7)
    rows: list[tuple[str, str, str]] = []
    for component in org.components:
        if component.type == "library":
            continue
        provider, resource_id = compute_resource_id(org, component.name, component.system)
        instance_type = COMPUTE_TYPES[(provider, component.tier)]
        if component.name == "indexer":
            instance_type = "c5.2xlarge" if provider == "aws" else "n2-standard-8"
        measured = rng.random() >= 0.2
        busy = 0.45 if component.tier == 1 else 0.18
        utilization = f"{min(0.95, max(0.02, rng.gauss(busy, 0.08))):.3f}" if measured else ""
        rows.append((resource_id, instance_type, utilization))
    for resource in org.resources:
        kind = "kafka" if resource.engine == "kafka" else resource.type
        managed = MANAGED_TYPES.get((resource.provider, kind))
        if managed is None:
            continue
        utilization = f"{min(0.95, max(0.02, rng.gauss(0.3, 0.1))):.3f}"
        rows.append((resource.cloud_id, managed, utilization))
    path = root / "greenops" / "resources.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["resource_id", "instance_type", "cpu_utilization"])
        writer.writerows(sorted(set(rows)))
    return {"greenops resources": len(set(rows))}
