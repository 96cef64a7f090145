"""The sovereignty check: a resource's provider region against its data classification.

Region: the resource's ``region``/``location`` (Azure display names accepted), or its
provider configuration's ``region``. Classification: the ``data-classification`` tag (read
through the tagging plan's aliases) or the policy's default. Resources whose region is not
known statically are counted as undetermined; regions missing from the registry are reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentier.policy.model import Loc, Resource, Unknown

if TYPE_CHECKING:
    from sentier.policy.rules.engine import Context

Outcome = tuple[bool | None, list[tuple[Loc, str | None]]]


def _region(resource: Resource) -> tuple[Any, Loc | None]:
    for key in ("region", "location"):
        value = resource.attrs.get(key)
        if value is not None:
            return value, resource.locs.get((key,))
    zone = resource.attrs.get("availability_zone")
    if isinstance(zone, str) and zone:
        return zone, resource.locs.get(("availability_zone",))
    config = resource.meta.get("provider_config")
    if isinstance(config, dict):
        value = config.get("region")
        if value is not None:
            # Shared by many resources: each finding points at its own resource.
            return value, None
    return None, None


def _classification(ctx: Context, resource: Resource, default: str) -> str:
    tags = resource.attrs.get("tags") or resource.attrs.get("labels")
    if isinstance(tags, dict):
        plan = ctx.tagging_plan
        if plan is not None:
            value = plan.normalise({k: v for k, v in tags.items() if isinstance(v, str)}).get(
                "data-classification"
            )
            if value:
                return str(value)
        for key, value in tags.items():
            if str(key).lower().replace("_", "-") in ("data-classification", "classification"):
                return str(value).lower()
    return default


def judge(ctx: Context, resource: Resource) -> Outcome:
    from sentier.sovereignty import SovereigntyError, default_policy, normalise_provider
    from sentier.sovereignty import judge as judge_region

    provider = normalise_provider(resource.provider)
    if provider is None or resource.kind != "resource":
        return False, []
    region, loc = _region(resource)
    if region is None:
        return False, []
    if isinstance(region, Unknown):
        return None, []
    overrides = (ctx.settings.get("sovereignty") or {}) if ctx.settings else {}
    policy = {**default_policy(), **overrides}
    classification = _classification(
        ctx, resource, str(policy.get("default_classification", "internal"))
    )
    try:
        verdict = judge_region(provider, str(region), classification, policy)
    except SovereigntyError as error:
        return True, [((resource.file, resource.line), str(error))]
    if verdict.allowed:
        return False, []
    message = f"{classification} data in {provider} {region}: " + "; ".join(verdict.reasons)
    return True, [(loc or (resource.file, resource.line), message)]
