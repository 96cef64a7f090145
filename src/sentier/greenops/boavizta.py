"""Boavizta's figure for the same workload, through ``boaviztapi`` called as a library, offline.

Boavizta models a cloud instance bottom-up (its archetype's CPU, RAM and storage, a
consumption profile by load, the country's electricity mix) and counts manufacturing over
the server's life. It gives a second opinion beside CCF's, and the ``boavizta`` method of
reports uses it for instance hours (other usage falls back to CCF, said per line).

``boaviztapi`` 2.5.0 pins old FastAPI, Uvicorn and pandas < 3 for its own web server; the
library part used here works with sentier's versions, so it is installed without its pins
(``pip install --no-deps boaviztapi==2.5.0 rapidfuzz toml``, which ``make install`` does).
Nothing here opens a connection: its data files ship in the package.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from sentier.greenops.errors import GreenOpsError

INSTALL_HINT = "pip install --no-deps boaviztapi==2.5.0 rapidfuzz toml"
# What ``instance_hours`` imports: boaviztapi itself imports rapidfuzz and toml in these, so a
# package installed without them is as unusable as a missing one.
_MODULES = (
    "boaviztapi",
    "boaviztapi.compute.impacts_computation",
    "boaviztapi.compute.verbose",
    "boaviztapi.data.archetype",
    "boaviztapi.dto.device",
    "boaviztapi.dto.device.device",
    "boaviztapi.dto.usage.usage",
)


class BoaviztaUnavailable(GreenOpsError):
    """The optional ``boaviztapi`` package cannot be imported: says why and how to install it."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"the Boavizta cross-check needs the optional boaviztapi package, which cannot be "
            f"imported here ({reason}); install it with `{INSTALL_HINT}` (`make install` does), "
            "or use the ccf method"
        )


@dataclass(frozen=True)
class BoaviztaFigure:
    """Boavizta's kgCO2e for ``hours`` of an instance: use phase and manufacturing, ranges."""

    instance_type: str
    provider: str
    country: str
    utilization: float
    hours: float
    use: float
    use_range: tuple[float, float]
    embedded: float
    embedded_range: tuple[float, float]
    avg_power_watts: float | None
    archetype: str
    version: str

    @property
    def total(self) -> float:
        return self.use + self.embedded

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": "boavizta",
            "library": f"boaviztapi {self.version}",
            "instance_type": self.instance_type,
            "archetype": self.archetype,
            "provider": self.provider,
            "usage_location": self.country,
            "utilization": self.utilization,
            "hours": self.hours,
            "use_kg": self.use,
            "use_range": list(self.use_range),
            "manufacturing_kg": self.embedded,
            "manufacturing_range": list(self.embedded_range),
            "total_kg": self.total,
            "avg_power_watts": self.avg_power_watts,
            "energy_kwh": (self.avg_power_watts * self.hours / 1000)
            if self.avg_power_watts is not None
            else None,
        }


def unavailable_reason() -> str | None:
    """Why Boavizta cannot be used here (the import error), or None when it can."""
    import importlib

    for name in _MODULES:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(name)
        except ImportError as error:
            return str(error) or f"cannot import {name}"
    return None


def available() -> bool:
    return unavailable_reason() is None


def require() -> None:
    """Raise ``BoaviztaUnavailable`` (a GreenOpsError) unless boaviztapi can be used."""
    reason = unavailable_reason()
    if reason is not None:
        raise BoaviztaUnavailable(reason)


def version() -> str | None:
    try:
        from importlib.metadata import version as dist_version

        return dist_version("boaviztapi")
    except Exception:  # noqa: BLE001 - not installed or installed without metadata
        return None


@cache
def _alpha3() -> dict[str, str]:
    text = resources.files("sentier.greenops").joinpath("data/countries.yaml").read_text("utf-8")
    return {str(k): str(v) for k, v in yaml.safe_load(text)["alpha3"].items()}


def country_of(provider: str, region: str) -> str | None:
    """Boavizta's usage location (ISO alpha-3) of a cloud region, from the region registry."""
    from sentier.sovereignty import find_region

    found = find_region(provider, region)
    if found is None:
        return None
    return _alpha3().get(found.country)


@cache
def instance_hours(
    provider: str, instance_type: str, region: str, utilization: float, hours: float = 1.0
) -> BoaviztaFigure:
    """Boavizta's impacts of ``hours`` of ``instance_type`` at ``utilization`` in ``region``."""
    require()
    country = country_of(provider, region)
    if country is None:
        raise GreenOpsError(f"region {region!r} of {provider} has no known country for Boavizta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from boaviztapi.compute.impacts_computation import compute_impacts
        from boaviztapi.compute.verbose import verbose_cloud
        from boaviztapi.data.archetype import fuzzy_get_cloud_instance_archetype
        from boaviztapi.dto.device import Cloud
        from boaviztapi.dto.device.device import mapper_cloud_instance
        from boaviztapi.dto.usage.usage import UsageCloud

        archetype, matched = fuzzy_get_cloud_instance_archetype(instance_type, provider)
        if not archetype or matched != instance_type:
            raise GreenOpsError(f"Boavizta has no archetype for {provider} {instance_type}")
        cloud = Cloud(
            provider=provider,
            instance_type=instance_type,
            usage=UsageCloud(usage_location=country, time_workload=utilization * 100),
        )
        model = mapper_cloud_instance(cloud, archetype=archetype)
        impacts = compute_impacts(model=model, selected_criteria=["gwp"], duration=hours)
        verbose = verbose_cloud(model, selected_criteria=["gwp"], duration=hours)
    gwp = impacts["gwp"]
    use, embedded = gwp["use"], gwp["embedded"]
    power = (verbose.get("avg_power") or {}).get("value")
    return BoaviztaFigure(
        instance_type=instance_type,
        provider=provider,
        country=country,
        utilization=utilization,
        hours=hours,
        use=float(use["value"]),
        use_range=(float(use["min"]), float(use["max"])),
        embedded=float(embedded["value"]),
        embedded_range=(float(embedded["min"]), float(embedded["max"])),
        avg_power_watts=float(power) if power is not None else None,
        archetype=str(matched),
        version=version() or "unknown",
    )
