"""The carbon coefficients: CCF's constants, grid factors, processors and instance types.

Everything numeric lives in data files of this package (``data/ccf/*.yaml``, generated from
the CCF extracts with their provenance by ``data/build.py``; ``data/instances.yaml``,
``data/model.yaml`` and ``data/usage.yaml``, written by hand). This module only reads them
into typed values and answers lookups; a coefficient set has a version and a fingerprint so
cached estimates are recomputed when any file changes.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sentier.greenops.errors import GreenOpsError

DATA_FILES = (
    "ccf/providers.yaml",
    "ccf/microarchitectures.yaml",
    "ccf/grid.yaml",
    "ccf/embodied.yaml",
    "instances.yaml",
    "model.yaml",
    "usage.yaml",
)

# FOCUS ProviderName values (any case) -> the provider keys of the coefficient files.
PROVIDER_NAMES = {
    "aws": "aws",
    "amazon web services": "aws",
    "amazon": "aws",
    "gcp": "gcp",
    "google cloud": "gcp",
    "google cloud platform": "gcp",
    "google": "gcp",
    "azure": "azure",
    "microsoft": "azure",
    "microsoft azure": "azure",
}


def provider_key(name: str | None) -> str | None:
    """The coefficient provider of a FOCUS ProviderName, or None when not covered."""
    if not name:
        return None
    return PROVIDER_NAMES.get(name.strip().lower())


@dataclass(frozen=True)
class Processor:
    name: str
    kind: str  # cpu | gpu
    min_watts: float
    max_watts: float
    memory_gb_per_chip: float | None
    source: str


@dataclass(frozen=True)
class ProviderConstants:
    name: str
    min_watts: float
    max_watts: float
    memory_gb_per_chip: float | None
    memory_kwh_per_gb_hour: float
    network_kwh_per_gb: float
    ssd_wh_per_tb_hour: float
    hdd_wh_per_tb_hour: float
    pue: float
    pue_by_region: dict[str, float]
    default_utilization: float
    lifespan_hours: float
    replication: dict[str, float]

    def pue_of(self, region: str | None) -> float:
        return self.pue_by_region.get(region or "", self.pue)


@dataclass(frozen=True)
class GridFactor:
    """kgCO2e per kWh of one region: location-based, and market-based where known."""

    provider: str
    region: str
    location: float
    recent: float | None = None
    recent_source: str | None = None
    market: float | None = None
    note: str | None = None
    known: bool = True  # False: the provider's average for a region not in the table

    @property
    def bounds(self) -> tuple[float, float]:
        values = [self.location] + ([self.recent] if self.recent is not None else [])
        return min(values), max(values)


@dataclass(frozen=True)
class InstanceSpec:
    """One instance type as the model needs it; ``largest_*`` describe its family's biggest."""

    provider: str
    name: str
    family: str
    vcpus: float
    memory_gb: float | None
    processors: tuple[str, ...]
    gpu_model: str | None = None
    gpus: float = 0
    embodied_kg: float | None = None
    largest_vcpus: float = 0
    largest_memory_gb: float | None = None
    chips: int = 1
    burstable: bool = False


@dataclass(frozen=True)
class Uncertainty:
    utilization_default: tuple[float, float]
    utilization_measured: float
    power_known: tuple[float, float]
    power_average: tuple[float, float]
    memory: tuple[float, float]
    gpu: tuple[float, float]
    storage: tuple[float, float]
    network: tuple[float, float]
    pue: tuple[float, float]
    grid: tuple[float, float]
    embodied: tuple[float, float]
    market_unknown: tuple[float, float]


@dataclass
class Coefficients:
    """A versioned coefficient set and the lookups the model makes in it."""

    version: str
    sources: dict[str, Any]
    providers: dict[str, ProviderConstants]
    processors: dict[str, dict[str, Processor]]
    grid: dict[str, dict[str, GridFactor]]
    embodied: dict[str, dict[str, Any]]
    instances: dict[str, Any]
    model: dict[str, Any]
    usage: dict[str, Any]
    uncertainty: Uncertainty
    fingerprint: str
    _grid_index: dict[str, dict[str, GridFactor]] = field(default_factory=dict)
    _instance_cache: dict[tuple[str, str], InstanceSpec | None] = field(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------

    def provider(self, name: str) -> ProviderConstants:
        try:
            return self.providers[name]
        except KeyError as error:
            raise GreenOpsError(
                f"no coefficients for provider {name!r}; known: {', '.join(self.providers)}"
            ) from error

    def processor(self, provider: str, name: str) -> Processor | None:
        """A processor's power figures; the same processor of another provider if needed."""
        found = self.processors.get(provider, {}).get(name)
        if found is not None:
            return found
        for other in ("aws", "azure", "gcp"):
            candidate = self.processors.get(other, {}).get(name)
            if candidate is not None:
                return candidate
        return None

    def grid_factor(self, provider: str, region: str | None) -> GridFactor:
        """The region's factors; the provider's 'Unknown' average (flagged) when absent."""
        if not self._grid_index:
            for key, regions in self.grid.items():
                self._grid_index[key] = {_region_key(r): g for r, g in regions.items()}
        regions = self._grid_index.get(provider, {})
        found = regions.get(_region_key(region or ""))
        if found is not None:
            return found
        unknown = regions.get(_region_key("Unknown"))
        if unknown is None:
            raise GreenOpsError(f"no grid factor for provider {provider!r}")
        return GridFactor(
            provider,
            region or "",
            unknown.location,
            None,
            None,
            unknown.market,
            "region not in the grid table: the provider's average",
            known=False,
        )

    def known_regions(self, provider: str) -> list[str]:
        return sorted(r for r in self.grid.get(provider, {}) if r != "Unknown")

    def instance(self, provider: str, name: str | None) -> InstanceSpec | None:
        """The instance type ``name`` of ``provider`` (managed-service spellings too), or None."""
        if not name:
            return None
        key = (provider, name.strip())
        if key not in self._instance_cache:
            from sentier.greenops.instances import resolve

            self._instance_cache[key] = resolve(self, provider, name.strip())
        return self._instance_cache[key]


def _region_key(region: str) -> str:
    return re.sub(r"[\s_-]", "", region).lower()


def _pair(value: Any) -> tuple[float, float]:
    low, high = value
    return float(low), float(high)


# libyaml's loader where PyYAML has it: the coefficient files are large enough for the pure
# Python parser to take most of a fresh process's first report.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read(name: str) -> Any:
    text = resources.files("sentier.greenops").joinpath(f"data/{name}").read_text("utf-8")
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        raise GreenOpsError(f"malformed coefficient file: {error}", file=name) from error


@cache
def load_coefficients() -> Coefficients:
    """The coefficient set shipped with sentier (read once per process)."""
    digest = hashlib.sha256()
    raw: dict[str, Any] = {}
    for name in DATA_FILES:
        text = resources.files("sentier.greenops").joinpath(f"data/{name}").read_bytes()
        digest.update(name.encode() + b"\0" + text)
        raw[name] = _read(name)
    providers_doc = raw["ccf/providers.yaml"]
    providers = {
        key: ProviderConstants(
            name=key,
            min_watts=float(p["min_watts_per_vcpu"]),
            max_watts=float(p["max_watts_per_vcpu"]),
            memory_gb_per_chip=float(p["memory_gb_per_chip"])
            if "memory_gb_per_chip" in p
            else None,
            memory_kwh_per_gb_hour=float(p["memory_kwh_per_gb_hour"]),
            network_kwh_per_gb=float(p["network_kwh_per_gb"]),
            ssd_wh_per_tb_hour=float(p["ssd_wh_per_tb_hour"]),
            hdd_wh_per_tb_hour=float(p["hdd_wh_per_tb_hour"]),
            pue=float(p["pue"]),
            pue_by_region={str(r): float(v) for r, v in (p.get("pue_by_region") or {}).items()},
            default_utilization=float(p["default_utilization"]),
            lifespan_hours=float(p["server_lifespan_hours"]),
            replication={str(k): float(v) for k, v in (p.get("replication") or {}).items()},
        )
        for key, p in providers_doc["providers"].items()
    }
    processors = {
        provider: {
            name: Processor(
                name,
                str(p["kind"]),
                float(p["min_watts"]),
                float(p["max_watts"]),
                float(p["memory_gb_per_chip"]) if "memory_gb_per_chip" in p else None,
                str(p["source"]),
            )
            for name, p in items.items()
        }
        for provider, items in raw["ccf/microarchitectures.yaml"]["processors"].items()
    }
    grid = {
        provider: {
            region: GridFactor(
                provider,
                region,
                float(g["location"]),
                float(g["recent"]) if "recent" in g else None,
                g.get("recent_source"),
                float(g["cfe_adjusted"]) if "cfe_adjusted" in g else None,
                g.get("note"),
            )
            for region, g in regions.items()
            if "location" in g
        }
        for provider, regions in raw["ccf/grid.yaml"]["regions"].items()
    }
    model = raw["model.yaml"]
    u = model["uncertainty"]
    uncertainty = Uncertainty(
        utilization_default=_pair(u["utilization_default"]),
        utilization_measured=float(u["utilization_measured"]),
        power_known=_pair(u["power_known"]),
        power_average=_pair(u["power_average"]),
        memory=_pair(u["memory"]),
        gpu=_pair(u["gpu"]),
        storage=_pair(u["storage"]),
        network=_pair(u["network"]),
        pue=_pair(u["pue"]),
        grid=_pair(u["grid"]),
        embodied=_pair(u["embodied"]),
        market_unknown=_pair(u["market_unknown"]),
    )
    version = (
        f"{providers_doc['version']}/instances-{raw['instances.yaml']['version']}"
        f"/model-{model['version']}/usage-{raw['usage.yaml']['version']}"
    )
    return Coefficients(
        version=version,
        sources=dict(providers_doc.get("sources") or {}),
        providers=providers,
        processors=processors,
        grid=grid,
        embodied=raw["ccf/embodied.yaml"]["instances"],
        instances=raw["instances.yaml"],
        model=model,
        usage=raw["usage.yaml"],
        uncertainty=uncertainty,
        fingerprint=digest.hexdigest()[:16],
    )


def physical_chips(largest_vcpus: float) -> int:
    """CCF's rule: one physical chip per (up to) 96 vCPUs of the family's largest type."""
    return max(1, math.ceil(largest_vcpus / 96))
