"""Sovereignty: which jurisdiction a cloud region sits under, and whether data of a given
classification may live there.

The registry (``regions.yaml``) lists provider regions with their country, EU/EEA
membership, GDPR status, CLOUD Act exposure of their operator, SecNumCloud and HDS status.
The policy (``policy.yaml``, overridable) says what each classification requires. Used by the
policy engine's sovereignty pack and, later, by the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Terraform provider prefixes (and common spellings) -> registry provider keys.
PROVIDER_ALIASES = {
    "aws": "aws",
    "azurerm": "azure",
    "azure": "azure",
    "google": "gcp",
    "gcp": "gcp",
    "ovh": "ovhcloud",
    "ovhcloud": "ovhcloud",
    "scaleway": "scaleway",
    "outscale": "outscale",
    "ionoscloud": "ionos",
    "ionos": "ionos",
    "hcloud": "hetzner",
    "hetzner": "hetzner",
    "oci": "oracle",
    "oracle": "oracle",
    "alicloud": "alibaba",
    "alibaba": "alibaba",
}


class SovereigntyError(Exception):
    """A sovereignty policy that cannot be used."""


@dataclass(frozen=True)
class Region:
    provider: str
    id: str
    name: str
    country: str
    in_eu: bool
    in_eea: bool
    gdpr: str
    type: str
    operator_country: str
    cloud_act: bool
    secnumcloud: str
    hds: str
    confidence: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    region: Region | None
    reasons: tuple[str, ...]


def _load_yaml(path: Path) -> Any:
    import yaml

    return yaml.load(
        path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )


@lru_cache(maxsize=1)
def registry() -> dict[str, dict[str, Region]]:
    from sentier.datacache import cached

    source = HERE / "regions.yaml"
    data = cached("sovereignty-regions", HERE, [source], lambda: _load_yaml(source))
    out: dict[str, dict[str, Region]] = {}
    for provider, regions in data["providers"].items():
        out[provider] = {
            region_id: Region(
                provider=provider,
                id=region_id,
                name=str(facts.get("name", region_id)),
                country=str(facts["country"]),
                in_eu=bool(facts["in_eu"]),
                in_eea=bool(facts["in_eea"]),
                gdpr=str(facts["gdpr"]),
                type=str(facts["type"]),
                operator_country=str(facts["operator_country"]),
                cloud_act=bool(facts["cloud_act"]),
                secnumcloud=str(facts["secnumcloud"]),
                hds=str(facts["hds"]),
                confidence=str(facts.get("confidence", "")),
            )
            for region_id, facts in regions.items()
        }
    return out


def normalise_provider(name: str) -> str | None:
    return PROVIDER_ALIASES.get(name.strip().lower())


def find_region(provider: str, region_id: str) -> Region | None:
    """A region by provider and id; ids compare case-insensitively, Azure spaces ignored."""
    key = normalise_provider(provider) or provider
    regions = registry().get(key, {})
    if region_id in regions:
        return regions[region_id]
    wanted = region_id.strip().lower().replace(" ", "")
    for candidate_id, region in regions.items():
        if candidate_id.lower().replace(" ", "") == wanted:
            return region
    if key == "aws" and wanted[-1:].isalpha() and wanted[:-1] in regions:
        return regions[wanted[:-1]]  # an availability zone such as eu-west-3a
    return None


@lru_cache(maxsize=1)
def default_policy() -> dict[str, Any]:
    return dict(_load_yaml(HERE / "policy.yaml"))


def judge(
    provider: str, region_id: str, classification: str, policy: dict[str, Any] | None = None
) -> Verdict:
    """May data of ``classification`` live in this region? Unknown regions are never passed."""
    policy = policy or default_policy()
    classes = policy.get("classifications") or {}
    rules = classes.get(classification.lower())
    if rules is None:
        raise SovereigntyError(f"classification {classification!r} is not in the policy")
    region = find_region(provider, region_id)
    key = normalise_provider(provider) or provider
    reasons: list[str] = []
    allowed_providers = rules.get("providers")
    if allowed_providers and key not in allowed_providers:
        reasons.append(f"provider {key} is not allowed for {classification} data")
    if region is None:
        if rules.get("catalogued", False) or len(rules) > 0:
            reasons.append(
                f"region {region_id!r} of {key} is not catalogued in the region registry"
            )
        return Verdict(not reasons, None, tuple(reasons))
    if rules.get("in_eea") and not region.in_eea:
        reasons.append(f"{region.id} ({region.country}) is outside the EEA")
    if rules.get("in_eu") and not region.in_eu:
        reasons.append(f"{region.id} ({region.country}) is outside the EU")
    if rules.get("cloud_act") is False and region.cloud_act:
        reasons.append(f"{region.id} is operated by a company subject to the US CLOUD Act")
    for fact in ("secnumcloud", "hds"):
        accepted = rules.get(fact)
        if accepted and getattr(region, fact) not in accepted:
            reasons.append(f"{region.id} {fact} status is {getattr(region, fact)}")
    return Verdict(not reasons, region, tuple(reasons))


__all__ = [
    "PROVIDER_ALIASES",
    "Region",
    "SovereigntyError",
    "Verdict",
    "default_policy",
    "find_region",
    "judge",
    "normalise_provider",
    "registry",
]
