"""The energy and emissions model (Cloud Carbon Footprint's method), one unit of usage at a time.

Every estimate is linear in what varies from line to line: the quantity, and for processors
the utilisation. So the model gives *factors* per unit of usage (an instance hour, a GB-hour
of storage, a GB moved between regions) as ``a + b x utilisation``; ``Factors.at`` evaluates
them for one workload (``sentier carbon estimate``, ``explain``), and the report applies the
same numbers to millions of lines in one vectorised expression. One formula, two uses: the
figures of a report and of its explanation cannot drift apart.

Formulas (CCF methodology; the coefficients are in ``data/``):

- compute kWh = vCPU-hours x (min W + u x (max W - min W)) / 1000, min/max averaged over the
  type's possible processors (provider average when unknown);
- memory kWh = GB-hours beyond the processor's SPECpower baseline x 0.000392 (the surplus of
  the family's largest type spread in proportion to this type's memory);
- GPU kWh = GPU-hours x (min W + u x (max W - min W)) / 1000 for the GPU model;
- storage kWh = GB-hours x Wh/TB-h / 10^6 x replication factor (SSD 1.2, HDD 0.65 Wh/TB-h);
- network kWh = GB between regions x 0.001;
- facility energy = IT energy x PUE; scope 2 = facility energy x grid factor (location-based;
  market-based where the provider's carbon-free matching is known);
- scope 3 (embodied) = manufacturing kgCO2e x hours / server lifespan x vCPUs / largest vCPUs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sentier.greenops.coefficients import (
    Coefficients,
    GridFactor,
    InstanceSpec,
    ProviderConstants,
)
from sentier.greenops.errors import GreenOpsError

COMPONENTS = ("compute", "memory", "gpu", "storage", "network")
KINDS = ("instance", "vcpu", "function", "storage", "memory", "network", "gpu")


@dataclass(frozen=True)
class Linear:
    """``a + b x u``: a per-unit quantity that may depend on utilisation ``u``."""

    a: float = 0.0
    b: float = 0.0

    def at(self, u: float) -> float:
        return self.a + self.b * u

    def __add__(self, other: Linear) -> Linear:
        return Linear(self.a + other.a, self.b + other.b)

    def scaled(self, factor: float) -> Linear:
        return Linear(self.a * factor, self.b * factor)


@dataclass(frozen=True)
class Factors:
    """Per unit of usage: IT energy (kWh, central and bounds), PUE, grid and embodied factors."""

    kind: str
    unit: str  # hour, GB-hour, GB
    provider: str
    region: str
    components: dict[str, Linear]  # IT kWh per unit, central
    it_low: Linear
    it_high: Linear
    pue: float
    pue_low: float
    pue_high: float
    grid: GridFactor
    grid_location: float
    grid_location_low: float
    grid_location_high: float
    grid_market: float
    grid_market_low: float
    grid_market_high: float
    market_known: bool
    scope3: float  # kgCO2e per unit
    scope3_low: float
    scope3_high: float
    coefficients: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def it(self) -> Linear:
        total = Linear()
        for value in self.components.values():
            total = total + value
        return total

    def at(
        self,
        quantity: float,
        utilization: float,
        utilization_bounds: tuple[float, float],
        *,
        utilization_source: str,
        method: str = "ccf",
    ) -> Estimate:
        """The estimate of ``quantity`` units at utilisation ``utilization``."""
        u_low, u_high = utilization_bounds
        it = self.it.at(utilization) * quantity
        it_low = self.it_low.at(u_low) * quantity
        it_high = self.it_high.at(u_high) * quantity
        energy = it * self.pue
        energy_low, energy_high = it_low * self.pue_low, it_high * self.pue_high
        components = {k: v.at(utilization) * quantity for k, v in self.components.items()}
        return Estimate(
            kind=self.kind,
            method=method,
            provider=self.provider,
            region=self.region,
            quantity=quantity,
            unit=self.unit,
            utilization=utilization if self.it.b else None,
            utilization_source=utilization_source if self.it.b else None,
            energy_components=components,
            it_kwh=it,
            pue=self.pue,
            energy_kwh=energy,
            energy_kwh_range=(energy_low, energy_high),
            grid_location=self.grid_location,
            grid_market=self.grid_market,
            market_known=self.market_known,
            scope2_location=energy * self.grid_location,
            scope2_location_range=(
                energy_low * self.grid_location_low,
                energy_high * self.grid_location_high,
            ),
            scope2_market=energy * self.grid_market,
            scope2_market_range=(
                energy_low * self.grid_market_low,
                energy_high * self.grid_market_high,
            ),
            scope3=self.scope3 * quantity,
            scope3_range=(self.scope3_low * quantity, self.scope3_high * quantity),
            coefficients=dict(self.coefficients),
            notes=list(self.notes),
        )


@dataclass
class Estimate:
    """kgCO2e of one workload or line, with how it was computed and its range."""

    kind: str
    method: str
    provider: str
    region: str
    quantity: float
    unit: str
    utilization: float | None
    utilization_source: str | None
    energy_components: dict[str, float]
    it_kwh: float
    pue: float
    energy_kwh: float
    energy_kwh_range: tuple[float, float]
    grid_location: float
    grid_market: float
    market_known: bool
    scope2_location: float
    scope2_location_range: tuple[float, float]
    scope2_market: float
    scope2_market_range: tuple[float, float]
    scope3: float
    scope3_range: tuple[float, float]
    coefficients: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        """Scope 2 (location-based) plus scope 3: the figure reports lead with."""
        return self.scope2_location + self.scope3

    @property
    def total_range(self) -> tuple[float, float]:
        return (
            self.scope2_location_range[0] + self.scope3_range[0],
            self.scope2_location_range[1] + self.scope3_range[1],
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "provider": self.provider,
            "region": self.region,
            "quantity": self.quantity,
            "unit": self.unit,
            "utilization": self.utilization,
            "utilization_source": self.utilization_source,
            "energy_kwh": self.energy_kwh,
            "energy_kwh_range": list(self.energy_kwh_range),
            "it_energy_kwh": self.it_kwh,
            "energy_components_kwh": self.energy_components,
            "pue": self.pue,
            "grid_location_kg_per_kwh": self.grid_location,
            "grid_market_kg_per_kwh": self.grid_market,
            "market_based_known": self.market_known,
            "scope2_location_kg": self.scope2_location,
            "scope2_location_range": list(self.scope2_location_range),
            "scope2_market_kg": self.scope2_market,
            "scope2_market_range": list(self.scope2_market_range),
            "scope3_kg": self.scope3,
            "scope3_range": list(self.scope3_range),
            "total_kg": self.total,
            "total_range": list(self.total_range),
            "coefficients": self.coefficients,
            "notes": self.notes,
        }


# -- utilisation ----------------------------------------------------------------------------


def utilization_bounds(
    coefficients: Coefficients, utilization: float, *, measured: bool
) -> tuple[float, float]:
    """The utilisation range a figure's low and high use."""
    if not measured:
        return coefficients.uncertainty.utilization_default
    delta = coefficients.uncertainty.utilization_measured
    return max(0.0, utilization - delta), min(1.0, utilization + delta)


# -- building blocks ------------------------------------------------------------------------


def _grid_and_pue(
    coefficients: Coefficients, provider: ProviderConstants, region: str
) -> dict[str, Any]:
    u = coefficients.uncertainty
    grid = coefficients.grid_factor(provider.name, region)
    low, high = grid.bounds
    if not grid.known:
        known = [g.location for g in coefficients.grid.get(provider.name, {}).values()]
        low, high = min(known), max(known)
    pue = provider.pue_of(region)
    market_known = grid.market is not None
    market = grid.market if grid.market is not None else grid.location
    return {
        "pue": pue,
        "pue_low": pue * u.pue[0],
        "pue_high": pue * u.pue[1],
        "grid": grid,
        "grid_location": grid.location,
        "grid_location_low": low * u.grid[0],
        "grid_location_high": high * u.grid[1],
        "grid_market": market,
        "grid_market_low": market * (u.grid[0] if market_known else u.market_unknown[0]),
        "grid_market_high": (market * u.grid[1]) if market_known else high * u.grid[1],
        "market_known": market_known,
    }


def _region_coefficients(values: dict[str, Any], region: str) -> dict[str, Any]:
    grid: GridFactor = values["grid"]
    out: dict[str, Any] = {
        "pue": values["pue"],
        "grid_location_kg_per_kwh": grid.location,
        "grid_source": "ccf-app" if grid.known else "ccf-app (provider average, region unknown)",
    }
    if grid.recent is not None:
        out["grid_recent_kg_per_kwh"] = grid.recent
        out["grid_recent_source"] = f"ccf-coefficients ({grid.recent_source})"
    if grid.market is not None:
        out["grid_market_kg_per_kwh"] = grid.market
        out["grid_market_source"] = "ccf-app carbon-free-energy adjusted (provider matching)"
    return out


def _processor_power(
    coefficients: Coefficients, provider: ProviderConstants, processors: tuple[str, ...]
) -> tuple[float, float, float | None, list[str], bool]:
    """(min W, max W, GB per chip, processors used, known) averaged as CCF does."""
    found = [p for name in processors if (p := coefficients.processor(provider.name, name))]
    cpus = [p for p in found if p.kind == "cpu"]
    if not cpus:
        return provider.min_watts, provider.max_watts, provider.memory_gb_per_chip, [], False
    minimum = sum(p.min_watts for p in cpus) / len(cpus)
    maximum = sum(p.max_watts for p in cpus) / len(cpus)
    memories = [p.memory_gb_per_chip for p in cpus if p.memory_gb_per_chip is not None]
    memory = sum(memories) / len(memories) if memories else provider.memory_gb_per_chip
    return minimum, maximum, memory, [p.name for p in cpus], True


def extra_memory_gb(spec: InstanceSpec, processor_memory_gb: float | None) -> float:
    """GB of the instance beyond what SPECpower's power figures already include (CCF)."""
    if (
        spec.burstable
        or spec.memory_gb is None
        or not spec.memory_gb
        or spec.largest_memory_gb is None
        or processor_memory_gb is None
    ):
        return 0.0
    per_chip = spec.largest_memory_gb / spec.chips
    delta = per_chip - processor_memory_gb
    if delta <= 0:
        return 0.0
    return delta / (spec.largest_memory_gb / spec.memory_gb)


def _factors(
    coefficients: Coefficients,
    provider: ProviderConstants,
    region: str,
    kind: str,
    unit: str,
    components: dict[str, Linear],
    low: Linear,
    high: Linear,
    scope3: tuple[float, float, float],
    used: dict[str, Any],
    notes: list[str],
) -> Factors:
    place = _grid_and_pue(coefficients, provider, region)
    if not place["grid"].known:
        notes.append(f"region {region or '(none)'} not in the grid table: provider average")
    used = {**used, **_region_coefficients(place, region)}
    return Factors(
        kind=kind,
        unit=unit,
        provider=provider.name,
        region=region,
        components=components,
        it_low=low,
        it_high=high,
        scope3=scope3[0],
        scope3_low=scope3[1],
        scope3_high=scope3[2],
        coefficients={"version": coefficients.version, **used},
        notes=tuple(notes),
        **place,
    )


# -- per kind -------------------------------------------------------------------------------


def instance_hour(coefficients: Coefficients, spec: InstanceSpec, region: str) -> Factors:
    """Factors of one hour of an instance type in a region (CPU, memory, GPU, embodied)."""
    provider = coefficients.provider(spec.provider)
    u = coefficients.uncertainty
    minimum, maximum, chip_memory, used_cpus, known = _processor_power(
        coefficients, provider, spec.processors
    )
    power = u.power_known if known else u.power_average
    compute = Linear(spec.vcpus * minimum / 1000, spec.vcpus * (maximum - minimum) / 1000)
    extra = extra_memory_gb(spec, chip_memory)
    memory = Linear(extra * provider.memory_kwh_per_gb_hour, 0.0)
    gpu = Linear()
    notes: list[str] = []
    used: dict[str, Any] = {
        "instance_type": spec.name,
        "vcpus": spec.vcpus,
        "memory_gb": spec.memory_gb,
        "processors": used_cpus or "unknown: provider average",
        "min_watts_per_vcpu": minimum,
        "max_watts_per_vcpu": maximum,
        "memory_gb_per_chip_baseline": chip_memory,
        "extra_memory_gb": extra,
        "memory_kwh_per_gb_hour": provider.memory_kwh_per_gb_hour,
        "largest_in_family": {"vcpus": spec.largest_vcpus, "memory_gb": spec.largest_memory_gb},
    }
    if spec.burstable:
        notes.append("burstable type: memory not estimated (CCF)")
    if spec.gpus and spec.gpu_model:
        model = coefficients.processor(provider.name, spec.gpu_model)
        if model is not None and model.kind == "gpu":
            gpu = Linear(
                spec.gpus * model.min_watts / 1000,
                spec.gpus * (model.max_watts - model.min_watts) / 1000,
            )
            used.update(
                {
                    "gpus": spec.gpus,
                    "gpu_model": model.name,
                    "gpu_min_watts": model.min_watts,
                    "gpu_max_watts": model.max_watts,
                }
            )
        else:
            notes.append(f"GPU {spec.gpu_model} has no power figures: GPUs not estimated")
    low = compute.scaled(power[0]) + memory.scaled(u.memory[0]) + gpu.scaled(u.gpu[0])
    high = compute.scaled(power[1]) + memory.scaled(u.memory[1]) + gpu.scaled(u.gpu[1])
    if spec.embodied_kg is not None and spec.largest_vcpus:
        share = spec.vcpus / spec.largest_vcpus
        per_hour = spec.embodied_kg / provider.lifespan_hours * share
        used.update(
            {
                "embodied_kg_per_server": spec.embodied_kg,
                "server_lifespan_hours": provider.lifespan_hours,
                "instance_share_of_server": share,
            }
        )
    else:
        per_hour = 0.0
        notes.append("no manufacturing figure for this type: scope 3 not estimated")
    scope3 = (per_hour, per_hour * u.embodied[0], per_hour * u.embodied[1])
    components = {"compute": compute, "memory": memory, "gpu": gpu}
    return _factors(
        coefficients,
        provider,
        region,
        "instance",
        "hour",
        components,
        low,
        high,
        scope3,
        used,
        notes,
    )


def vcpu_hour(coefficients: Coefficients, provider_name: str, region: str) -> Factors:
    """One vCPU-hour of an unknown processor (provider average watts); no embodied figure."""
    provider = coefficients.provider(provider_name)
    u = coefficients.uncertainty
    compute = Linear(provider.min_watts / 1000, (provider.max_watts - provider.min_watts) / 1000)
    used = {
        "min_watts_per_vcpu": provider.min_watts,
        "max_watts_per_vcpu": provider.max_watts,
        "processors": "unknown: provider average",
    }
    return _factors(
        coefficients,
        provider,
        region,
        "vcpu",
        "vCPU-hour",
        {"compute": compute},
        compute.scaled(u.power_average[0]),
        compute.scaled(u.power_average[1]),
        (0.0, 0.0, 0.0),
        used,
        ["vCPU-hours without an instance type: scope 3 not estimated"],
    )


def function_gb_second(coefficients: Coefficients, provider_name: str, region: str) -> Factors:
    """One GB-second of a serverless function, as vCPU time (1 vCPU per 1.769 GB)."""
    per_vcpu = float(coefficients.model["function_gb_per_vcpu"])
    base = vcpu_hour(coefficients, provider_name, region)
    factor = 1 / 3600 / per_vcpu
    return replace(
        base,
        kind="function",
        unit="GB-second",
        components={"compute": base.components["compute"].scaled(factor)},
        it_low=base.it_low.scaled(factor),
        it_high=base.it_high.scaled(factor),
        coefficients={**base.coefficients, "function_gb_per_vcpu": per_vcpu},
    )


def storage_gb_hour(
    coefficients: Coefficients,
    provider_name: str,
    region: str,
    medium: str,
    replication_class: str,
) -> Factors:
    """One GB-hour of allocated storage, replicas included."""
    provider = coefficients.provider(provider_name)
    u = coefficients.uncertainty
    wh = provider.ssd_wh_per_tb_hour if medium == "ssd" else provider.hdd_wh_per_tb_hour
    replication = provider.replication.get(
        replication_class, provider.replication.get("DEFAULT", 1)
    )
    per_gb_hour = wh / 1000 / 1000 * replication
    storage = Linear(per_gb_hour, 0.0)
    used = {
        "medium": medium,
        "wh_per_tb_hour": wh,
        "replication_class": replication_class,
        "replication_factor": replication,
    }
    return _factors(
        coefficients,
        provider,
        region,
        "storage",
        "GB-hour",
        {"storage": storage},
        storage.scaled(u.storage[0]),
        storage.scaled(u.storage[1]),
        (0.0, 0.0, 0.0),
        used,
        ["storage: operational energy only (CCF has no embodied figure for storage)"],
    )


def memory_gb_hour(coefficients: Coefficients, provider_name: str, region: str) -> Factors:
    """One GB-hour of memory billed on its own (custom machine RAM, memory SKUs)."""
    provider = coefficients.provider(provider_name)
    u = coefficients.uncertainty
    memory = Linear(provider.memory_kwh_per_gb_hour, 0.0)
    used = {"memory_kwh_per_gb_hour": provider.memory_kwh_per_gb_hour}
    return _factors(
        coefficients,
        provider,
        region,
        "memory",
        "GB-hour",
        {"memory": memory},
        memory.scaled(u.memory[0]),
        memory.scaled(u.memory[1]),
        (0.0, 0.0, 0.0),
        used,
        [],
    )


def network_gb(coefficients: Coefficients, provider_name: str, region: str) -> Factors:
    """One GB moved between regions or data centres, charged to the sending region's grid."""
    provider = coefficients.provider(provider_name)
    u = coefficients.uncertainty
    network = Linear(provider.network_kwh_per_gb, 0.0)
    used = {"network_kwh_per_gb": provider.network_kwh_per_gb}
    return _factors(
        coefficients,
        provider,
        region,
        "network",
        "GB",
        {"network": network},
        network.scaled(u.network[0]),
        network.scaled(u.network[1]),
        (0.0, 0.0, 0.0),
        used,
        [],
    )


# -- one workload ---------------------------------------------------------------------------


def estimate_instance(
    coefficients: Coefficients,
    provider: str,
    instance_type: str,
    region: str,
    *,
    hours: float = 1.0,
    utilization: float | None = None,
) -> Estimate:
    """CCF estimate of ``hours`` of one instance (``sentier carbon estimate``)."""
    if hours < 0:
        raise GreenOpsError("hours must not be negative", field="hours")
    spec = coefficients.instance(provider, instance_type)
    if spec is None:
        raise GreenOpsError(
            f"unknown {provider} instance type {instance_type!r}", field="instance-type"
        )
    measured = utilization is not None
    if utilization is None:
        utilization = coefficients.provider(provider).default_utilization
    if not 0 <= utilization <= 1:
        raise GreenOpsError("utilization must be between 0 and 1", field="utilization")
    factors = instance_hour(coefficients, spec, region)
    return factors.at(
        hours,
        utilization,
        utilization_bounds(coefficients, utilization, measured=measured),
        utilization_source="given" if measured else "default",
    )
