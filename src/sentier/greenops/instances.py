"""Instance type names -> vCPUs, memory, processors, GPUs and manufacturing emissions.

AWS types expand from the family table of ``data/instances.yaml`` (sizes follow the name
unless the table says otherwise); GCP and Azure types are parsed from their regular names
(``n2-standard-8``, ``Standard_D4s_v3``) with the series' memory per vCPU, and take their
processors from the CCF embodied-emissions table, which lists them per type.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Any

from sentier.greenops.coefficients import InstanceSpec, physical_chips

if TYPE_CHECKING:
    from sentier.greenops.coefficients import Coefficients

_SIZE = re.compile(
    r"^(?P<name>[\w.-]+?)(?:=(?P<vcpus>[\d.]+)(?:/(?P<memory>[\d.]+))?)?(?::(?P<gpus>\d+))?$"
)


def _vcpus_of_size(size: str) -> float | None:
    if size == "medium":
        return 1
    if size == "large":
        return 2
    if size == "xlarge":
        return 4
    match = re.fullmatch(r"(\d+)xlarge", size)
    return 4 * float(match.group(1)) if match else None


@cache
def _aws_family(family: str, spec_items: tuple[tuple[str, Any], ...]) -> dict[str, dict[str, Any]]:
    """Sizes of one AWS family: size -> vcpus, memory, gpus (from the compact size syntax)."""
    spec = dict(spec_items)
    ratio = spec.get("gib_per_vcpu")
    sizes: dict[str, dict[str, Any]] = {}
    pending_metal: list[str] = []
    for token in str(spec["sizes"]).split():
        match = _SIZE.match(token)
        if match is None:
            continue
        name = match.group("name")
        vcpus = float(match.group("vcpus")) if match.group("vcpus") else _vcpus_of_size(name)
        memory = float(match.group("memory")) if match.group("memory") else None
        gpus = float(match.group("gpus")) if match.group("gpus") else 0.0
        if vcpus is None:
            pending_metal.append(name)
            continue
        if memory is None and ratio is not None:
            memory = vcpus * float(ratio)
        sizes[name] = {"vcpus": vcpus, "memory": memory, "gpus": gpus}
    if pending_metal and sizes:
        biggest = max(sizes.values(), key=lambda s: s["vcpus"])
        for name in pending_metal:
            sizes[name] = dict(biggest)
    return sizes


def _aws(coefficients: Coefficients, name: str) -> InstanceSpec | None:
    table = coefficients.instances
    base = name.lower()
    for prefix in table.get("aws_prefixes", []):
        if base.startswith(prefix):
            base = base[len(prefix) :]
    for suffix in table.get("aws_suffixes", []):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    family, _, size = base.partition(".")
    spec = table.get("aws", {}).get(family)
    if spec is None or not size:
        return None
    sizes = _aws_family(family, tuple(sorted((k, _freeze(v)) for k, v in spec.items())))
    found = sizes.get(size)
    if found is None:
        return None
    largest = max(sizes.values(), key=lambda s: (s["vcpus"], s["memory"] or 0))
    embodied = coefficients.embodied.get("aws", {})
    entry = embodied.get(name.lower()) or embodied.get(base) or {}
    chips = int(spec.get("chips") or physical_chips(largest["vcpus"]))
    return InstanceSpec(
        provider="aws",
        name=name,
        family=family,
        vcpus=found["vcpus"],
        memory_gb=found["memory"],
        processors=tuple(spec.get("processors") or ()),
        gpu_model=spec.get("gpu") if found["gpus"] else None,
        gpus=found["gpus"],
        embodied_kg=float(entry["kg"]) if "kg" in entry else None,
        largest_vcpus=largest["vcpus"],
        largest_memory_gb=largest["memory"],
        chips=chips,
        burstable=bool(spec.get("burstable")),
    )


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _sizes(embodied: dict[str, Any], prefix: str) -> list[float]:
    """vCPU counts of the known GCP types named ``{prefix}-...-N`` (or ``{prefix}-N``)."""
    out = []
    for name in embodied:
        last = name.rsplit("-", 1)[-1]
        if name.startswith(prefix + "-") and last.isdigit():
            out.append(float(last))
    return out


def _gcp(coefficients: Coefficients, name: str) -> InstanceSpec | None:
    table = coefficients.instances.get("gcp", {})
    lowered = name.lower().rsplit("/", 1)[-1]
    embodied = coefficients.embodied.get("gcp", {})
    shared = table.get("shared_core", {}).get(lowered)
    if shared is not None:
        vcpus = float(shared["vcpus"])
        memory: float | None = float(shared["memory"])
        series, ratio = str(shared["family"]), None
        family = series
        largest_vcpus, largest_memory = max([vcpus, *_sizes(embodied, series)]), None
    else:
        match = re.fullmatch(r"([a-z]\d[a-z]?)-([a-z]+)-(\d+)", lowered)
        if match is None:
            return None
        series, klass, count = match.group(1), match.group(2), float(match.group(3))
        ratio = table.get("series", {}).get(series, {}).get(klass)
        vcpus = count
        memory = count * float(ratio) if ratio is not None else None
        family = f"{series}-{klass}"
        largest_vcpus = max([vcpus, *_sizes(embodied, family)])
        largest_memory = largest_vcpus * float(ratio) if ratio is not None else None
    entry = embodied.get(lowered, {})
    gpu_model, gpus = None, 0.0
    for prefix, gpu in table.get("gpus", {}).items():
        if lowered.startswith(prefix):
            gpu_model, gpus = str(gpu["gpu"]), max(1.0, vcpus // float(gpu["per_vcpus"]))
    return InstanceSpec(
        provider="gcp",
        name=name,
        family=family,
        vcpus=vcpus,
        memory_gb=memory,
        processors=tuple(entry.get("processors") or ()),
        gpu_model=gpu_model,
        gpus=gpus,
        embodied_kg=float(entry["kg"]) if "kg" in entry else None,
        largest_vcpus=largest_vcpus,
        largest_memory_gb=largest_memory,
        chips=physical_chips(largest_vcpus),
    )


def azure_display_name(name: str) -> str:
    """``Standard_D4s_v3`` -> ``D4s v3`` (the spelling of the CCF tables)."""
    text = re.sub(r"^(standard|basic)_", "", name.strip(), flags=re.IGNORECASE)
    parts = text.split("_")
    head = parts[0]
    rest = [p for p in parts[1:] if p]
    return " ".join([head[0].upper() + head[1:], *rest]) if head else text


def _azure(coefficients: Coefficients, name: str) -> InstanceSpec | None:
    table = coefficients.instances.get("azure", {})
    display = azure_display_name(name)
    embodied = coefficients.embodied.get("azure", {})
    entry = next((v for k, v in embodied.items() if k.lower() == display.lower()), None)
    match = re.match(r"^([A-Za-z]+?)(\d+)", display)
    if match is None:
        return None
    letters, count = match.group(1).upper(), float(match.group(2))
    series_table = table.get("series", {})
    series = next(
        (s for s in sorted(series_table, key=len, reverse=True) if letters.startswith(s)), None
    )
    ratio = series_table.get(series) if series else None
    memory = count * float(ratio) if ratio is not None else None
    family = str(entry.get("family")) if entry else f"{letters} series"
    siblings = [
        float(m.group(2))
        for k, v in embodied.items()
        if v.get("family") == family and (m := re.match(r"^([A-Za-z]+?)(\d+)", k))
    ]
    largest = max([count, *siblings])
    gpu_model, gpus = None, 0.0
    for prefix, gpu in table.get("gpus", {}).items():
        if letters.startswith(prefix):
            gpu_model, gpus = str(gpu["gpu"]), max(1.0, count // float(gpu["per_vcpus"]))
    if entry is None and series is None:
        return None
    return InstanceSpec(
        provider="azure",
        name=name,
        family=family,
        vcpus=count,
        memory_gb=memory,
        processors=tuple((entry or {}).get("processors") or ()),
        gpu_model=gpu_model,
        gpus=gpus,
        embodied_kg=float(entry["kg"]) if entry and "kg" in entry else None,
        largest_vcpus=largest,
        largest_memory_gb=largest * float(ratio) if ratio is not None else None,
        chips=physical_chips(largest),
    )


def resolve(coefficients: Coefficients, provider: str, name: str) -> InstanceSpec | None:
    """The instance type ``name`` of ``provider``, or None when sentier does not know it."""
    if provider == "aws":
        return _aws(coefficients, name)
    if provider == "gcp":
        return _gcp(coefficients, name)
    if provider == "azure":
        return _azure(coefficients, name)
    return None


# Instance types inside free text (CUR descriptions, SkuMeter): "per On Demand Linux m5.large
# Instance Hour", "db.t3.medium", "n2-standard-8", "Standard_D4s_v3".
INSTANCE_PATTERNS = {
    "aws": re.compile(
        r"\b((?:db\.|cache\.|kafka\.|ml\.)?[a-z][a-z0-9-]*\d[a-z0-9-]*\.(?:nano|micro|small|medium|"
        r"large|xlarge|\d+xlarge|metal(?:-\d+xl)?|xlplus)(?:\.search|\.elasticsearch)?)\b",
        re.IGNORECASE,
    ),
    "gcp": re.compile(
        r"\b([a-z]\d[a-z]?-[a-z]+-\d+|e2-(?:micro|small|medium)|f1-micro|g1-small)\b", re.IGNORECASE
    ),
    "azure": re.compile(r"\b((?:Standard_)?[A-Z]{1,3}\d+[a-z]*(?:[ _]v\d)?)\b"),
}


def find_instance_type(coefficients: Coefficients, provider: str, *texts: str | None) -> str | None:
    """The first known instance type named in ``texts`` (descriptions, meters, details)."""
    pattern = INSTANCE_PATTERNS.get(provider)
    if pattern is None:
        return None
    for text in texts:
        if not text:
            continue
        for match in pattern.finditer(text):
            candidate = match.group(1)
            if coefficients.instance(provider, candidate) is not None:
                return candidate
    return None
