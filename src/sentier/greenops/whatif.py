"""What-ifs: the same workload in another region, or on another instance family.

Cheaper is not always lower-carbon: a region with a cleaner grid may cost more, a newer
family may cost the same and draw less. These comparisons hold the workload (hours,
utilisation, or the energy an owner's lines drew) and change one thing.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sentier.finops import Scope
from sentier.greenops.coefficients import Coefficients, provider_key
from sentier.greenops.errors import GreenOpsError
from sentier.greenops.model import Estimate, estimate_instance
from sentier.greenops.reports import CarbonContext, carbon_rows


def _summary(estimate: Estimate, baseline: float | None = None) -> dict[str, Any]:
    total = estimate.total
    return {
        "region": estimate.region,
        "instance_type": estimate.coefficients.get("instance_type"),
        "total_kg": total,
        "total_range": list(estimate.total_range),
        "scope2_location_kg": estimate.scope2_location,
        "scope3_kg": estimate.scope3,
        "energy_kwh": estimate.energy_kwh,
        "grid_kg_per_kwh": estimate.grid_location,
        "pue": estimate.pue,
        "change": ((total - baseline) / baseline) if baseline else None,
    }


def compare_regions(
    coefficients: Coefficients,
    provider: str,
    instance_type: str,
    *,
    hours: float = 1.0,
    utilization: float | None = None,
    regions: list[str] | None = None,
    base_region: str | None = None,
) -> list[dict[str, Any]]:
    """The same instance hours in each region (all known ones by default), lowest first."""
    candidates = regions or coefficients.known_regions(provider)
    baseline = None
    if base_region:
        baseline = estimate_instance(
            coefficients, provider, instance_type, base_region, hours=hours, utilization=utilization
        ).total
    out = [
        _summary(
            estimate_instance(
                coefficients, provider, instance_type, region, hours=hours, utilization=utilization
            ),
            baseline,
        )
        for region in candidates
    ]
    return sorted(out, key=lambda r: (r["total_kg"], r["region"]))


def compare_instance_types(
    coefficients: Coefficients,
    provider: str,
    instance_type: str,
    region: str,
    *,
    hours: float = 1.0,
    utilization: float | None = None,
    candidates: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The same work on types of other families with as many vCPUs, lowest first.

    Utilisation is held equal (a faster processor would run the same work less busy, which
    this comparison does not credit).
    """
    spec = coefficients.instance(provider, instance_type)
    if spec is None:
        raise GreenOpsError(
            f"unknown {provider} instance type {instance_type!r}", field="instance-type"
        )
    names = candidates or _same_size(coefficients, provider, instance_type)
    baseline = estimate_instance(
        coefficients, provider, instance_type, region, hours=hours, utilization=utilization
    ).total
    out = []
    for name in names:
        if coefficients.instance(provider, name) is None:
            continue
        out.append(
            _summary(
                estimate_instance(
                    coefficients, provider, name, region, hours=hours, utilization=utilization
                ),
                baseline,
            )
        )
    return sorted(out, key=lambda r: (r["total_kg"], r["instance_type"] or ""))


def _same_size(coefficients: Coefficients, provider: str, instance_type: str) -> list[str]:
    if provider != "aws":
        return []
    size = instance_type.rsplit(".", 1)[-1]
    return [f"{family}.{size}" for family in sorted(coefficients.instances.get("aws", {}))]


def region_what_if(
    ctx: CarbonContext,
    target_region: str,
    *,
    provider: str | None = None,
    owner: str | None = None,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """An owner's (or everyone's) usage moved to ``target_region``: scope 2 before and after.

    The IT energy of the lines is held; the PUE and grid factor become the target's. Scope 3
    (manufacturing) does not depend on the region. Only lines of the target's provider move.
    """
    target_provider = provider_key(provider) if provider else None
    rows = carbon_rows(ctx, key_dims=["ProviderName", "RegionId"], scope=scope)
    if owner:
        rows = [
            r
            for r in rows
            if r.get("owner_ref") and owner in ctx.snapshot.ancestors(str(r["owner_ref"]))
        ]
    per_provider: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in rows:
        key = provider_key(row.get("ProviderName"))
        if key is None:
            continue
        it = sum(row[f"{c}_kwh"] for c in ("compute", "memory", "gpu", "storage", "network"))
        bucket = per_provider[key]
        bucket["it_kwh"] += it
        bucket["scope2_location"] += row["scope2_location"]
        bucket["scope3"] += row["scope3"]
    providers = [target_provider] if target_provider else list(per_provider)
    out_rows = []
    for key in providers:
        if key not in per_provider:
            continue
        known = {r.lower() for r in ctx.coefficients.grid.get(key, {})}
        if target_region.lower() not in known:
            continue
        grid = ctx.coefficients.grid_factor(key, target_region)
        pue = ctx.coefficients.provider(key).pue_of(target_region)
        bucket = per_provider[key]
        moved = bucket["it_kwh"] * pue * grid.location
        out_rows.append(
            {
                "provider": key,
                "it_energy_kwh": bucket["it_kwh"],
                "scope2_location_now_kg": bucket["scope2_location"],
                "scope2_location_moved_kg": moved,
                "scope3_kg": bucket["scope3"],
                "change": ((moved - bucket["scope2_location"]) / bucket["scope2_location"])
                if bucket["scope2_location"]
                else None,
                "target_grid_kg_per_kwh": grid.location,
                "target_pue": pue,
            }
        )
    if not out_rows:
        raise GreenOpsError(
            f"region {target_region!r} is not in the grid table of the providers used"
            + (f" by {owner}" if owner else ""),
            field="region",
        )
    return {"target_region": target_region, "owner": owner, "rows": out_rows}
