"""Rebuild sentier's carbon coefficient files from the Cloud Carbon Footprint extracts.

``python -m sentier.greenops.data.build --corpora DIR`` reads ``DIR/carbon`` (CSV extracts of
the CCF application constants and of the ccf-coefficients outputs, with their provenance) and
writes this package's own files under ``data/ccf/``: the facts, reorganised per provider and
region, each with the source it came from. The CSVs themselves are not copied. Run it when the
corpus is refreshed, bump ``VERSION`` and commit the regenerated files with the change.
"""

from __future__ import annotations

import argparse
import csv
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

VERSION = "ccf-2024.03+coefficients-2026.04"
HERE = Path(__file__).resolve().parent
PROVIDERS = {"AWS": "aws", "GCP": "gcp", "Azure": "azure"}
APP_COMMIT = "b7a049c7d25c0022919ab9010199dd9e77aa4577"
COEFF_COMMIT = "b0032d928c787cf76cecd7d1d611c5b46f366e29"
SOURCES = {
    "ccf-app": {
        "title": "Cloud Carbon Footprint application constants (2024-03-25)",
        "repository": "cloud-carbon-footprint/cloud-carbon-footprint",
        "commit": APP_COMMIT,
        "licence": "Apache-2.0, (c) Thoughtworks, Inc. and contributors",
    },
    "ccf-coefficients": {
        "title": "Cloud Carbon Footprint coefficient generator outputs (2026-04-24)",
        "repository": "cloud-carbon-footprint/ccf-coefficients",
        "commit": COEFF_COMMIT,
        "licence": "Apache-2.0, (c) Thoughtworks, Inc. and contributors",
    },
}
# Names the two CCF sources give the same processor: one canonical spelling here.
PROCESSOR_ALIASES = {
    "AMD EPYC 1st Gen": "EPYC 1st Gen",
    "AMD EPYC 2nd Gen": "EPYC 2nd Gen",
    "AMD EPYC 3rd Gen": "EPYC 3rd Gen",
    "AWS Graviton2": "Graviton2",
}


def canonical_processor(name: str) -> str:
    return PROCESSOR_ALIASES.get(name.strip(), name.strip())


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _number(text: str) -> float:
    return float(text)


def providers(folder: Path) -> dict[str, Any]:
    """Per provider: power, memory, storage and network coefficients, PUE, replication."""
    names = {
        "SSDCOEFFICIENT": "ssd_wh_per_tb_hour",
        "HDDCOEFFICIENT": "hdd_wh_per_tb_hour",
        "MEMORY_AVG": "memory_gb_per_chip",
        "MIN_WATTS_AVG": "min_watts_per_vcpu",
        "MAX_WATTS_AVG": "max_watts_per_vcpu",
        "MIN_WATTS_MEDIAN": "min_watts_per_vcpu",
        "MAX_WATTS_MEDIAN": "max_watts_per_vcpu",
        "NETWORKING_COEFFICIENT": "network_kwh_per_gb",
        "MEMORY_COEFFICIENT": "memory_kwh_per_gb_hour",
        "PUE_AVG": "pue",
        "AVG_CPU_UTILIZATION_2020": "default_utilization",
        "SERVER_EXPECTED_LIFESPAN": "server_lifespan_hours",
    }
    out: dict[str, Any] = {}
    for row in _rows(folder / "ccf_provider_constants.csv"):
        provider = PROVIDERS[row["provider"]]
        entry = out.setdefault(provider, {"source": "ccf-app", "pue_by_region": {}})
        value = _number(row["value"])
        key = names[row["constant"]]
        entry[key] = value / 100 if key == "default_utilization" else value
        entry.setdefault("files", [])
        if row["source_file"] not in entry["files"]:
            entry["files"].append(row["source_file"])
    for row in _rows(folder / "ccf_pue.csv"):
        provider = PROVIDERS[row["provider"]]
        if row["region"] != "*":
            out[provider]["pue_by_region"][row["region"]] = _number(row["pue"])
    for row in _rows(folder / "ccf_replication_factors.csv"):
        provider = PROVIDERS[row["provider"]]
        out[provider].setdefault("replication", {})[row["service_class"]] = _number(
            row["replication_factor"]
        )
    return out


def microarchitectures(folder: Path) -> dict[str, Any]:
    """Per provider and processor: W per vCPU at idle and full load, GB per chip, GPU watts.

    The application's values come first (they reproduce CCF's figures); processors only the
    newer coefficient outputs know (Ice Lake, Sapphire Rapids, Graviton3...) are added from
    there, each row saying which source it is from.
    """
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    rows = _rows(folder / "ccf_watts_by_microarchitecture.csv")
    for row in sorted(rows, key=lambda r: r["source_repo"] != SOURCES["ccf-app"]["repository"]):
        provider = PROVIDERS[row["provider"]]
        name = canonical_processor(row["processor"])
        if name in out[provider]:
            continue
        source = (
            "ccf-app"
            if row["source_repo"].endswith("/cloud-carbon-footprint")
            else ("ccf-coefficients")
        )
        entry: dict[str, Any] = {
            "kind": row["kind"].lower(),
            "min_watts": _number(row["min_watts_per_vcpu"]),
            "max_watts": _number(row["max_watts_per_vcpu"]),
            "source": source,
        }
        if row["gb_per_physical_chip"]:
            entry["memory_gb_per_chip"] = _number(row["gb_per_physical_chip"])
        out[provider][name] = entry
    return {p: dict(sorted(v.items())) for p, v in sorted(out.items())}


def grid(folder: Path) -> dict[str, Any]:
    """Per provider and region: location-based factor, a newer one, carbon-free adjusted."""
    out: dict[str, dict[str, dict[str, Any]]] = defaultdict(lambda: defaultdict(dict))
    recent_by_name: dict[tuple[str, str], tuple[float, str]] = {}
    for row in _rows(folder / "ccf_grid_emission_factors.csv"):
        provider = PROVIDERS[row["provider"]]
        value = _number(row["kgCO2e_per_kWh"])
        variant = row["variant"]
        if variant == "grid (default)":
            entry = out[provider][row["region"]]
            entry["location"] = value
            if row["note"]:
                entry["note"] = row["note"]
        elif variant.startswith("carbon-free-energy adjusted"):
            out[provider][row["region"]]["cfe_adjusted"] = value
        else:
            detail = re.sub(r"^ccf-coefficients data \((.*)\)$", r"\1", variant)
            recent_by_name[(provider, row["region"])] = (value, detail)
    # The newer table names Azure regions by display name ("West Europe"): match them to the
    # application's ids ("westeurope") by removing spaces and case.
    for (provider, region), (value, detail) in recent_by_name.items():
        wanted = region.replace(" ", "").lower()
        matches = [r for r in out[provider] if r.lower() == wanted] or [region]
        for match in matches:
            out[provider][match]["recent"] = value
            out[provider][match]["recent_source"] = detail
    return {
        p: {r: dict(v) for r, v in sorted(regions.items(), key=lambda kv: kv[0].lower())}
        for p, regions in sorted(out.items())
    }


def embodied(folder: Path) -> dict[str, Any]:
    """Manufacturing emissions per instance type (kgCO2e), and the processors of each type."""
    out: dict[str, Any] = {"aws": {}, "azure": {}, "gcp": {}}
    for row in _rows(folder / "coefficients-aws-embodied.csv"):
        out["aws"][row["type"]] = {"kg": _number(row["total"])}
    for row in _rows(folder / "coefficients-azure-embodied.csv"):
        entry = out["azure"].setdefault(
            row["type"], {"kg": _number(row["total"]), "family": row["family"], "processors": []}
        )
        name = canonical_processor(row["microarchitecture"])
        if name != "Unknown" and name not in entry["processors"]:
            entry["processors"].append(name)
    means = {
        r["type"]: _number(r["total_mean"])
        for r in _rows(folder / "coefficients-gcp-embodied-mean.csv")
    }
    for row in _rows(folder / "coefficients-gcp-embodied.csv"):
        entry = out["gcp"].setdefault(
            row["type"],
            {
                "kg": means.get(row["type"], _number(row["total"])),
                "family": row["family"],
                "processors": [],
            },
        )
        name = canonical_processor(row["microarchitecture"])
        if name not in entry["processors"]:
            entry["processors"].append(name)
    for provider in out:
        for entry in out[provider].values():
            if "processors" in entry and not entry["processors"]:
                del entry["processors"]
    return out


def _dump(path: Path, header: str, data: Any) -> None:
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(header + text, encoding="utf-8")


def build(corpora: Path, target: Path) -> None:
    folder = corpora / "carbon"
    target.mkdir(parents=True, exist_ok=True)
    note = (
        f"# Generated by `python -m sentier.greenops.data.build` (coefficients {VERSION}) from\n"
        "# the CCF extracts of the evaluation corpora; do not edit by hand, re-run instead.\n"
    )
    meta = {"version": VERSION, "sources": SOURCES}
    _dump(target / "providers.yaml", note, {**meta, "providers": providers(folder)})
    _dump(
        target / "microarchitectures.yaml", note, {**meta, "processors": microarchitectures(folder)}
    )
    _dump(
        target / "grid.yaml",
        note + "# location: CCF app grid factor (kgCO2e/kWh, location-based, what CCF uses);\n"
        "# recent: the newer ccf-coefficients table with its source; cfe_adjusted: GCP factor\n"
        "# after Google's hourly carbon-free energy matching (a market-based figure).\n",
        {**meta, "regions": grid(folder)},
    )
    _dump(
        target / "embodied.yaml",
        note + "# kg: total manufacturing emissions of the host server (kgCO2e), amortised\n"
        "# per instance share and hour of use; processors: micro-architectures of the type.\n",
        {**meta, "instances": embodied(folder)},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, required=True)
    parser.add_argument("--target", type=Path, default=HERE / "ccf")
    options = parser.parse_args()
    build(options.corpora, options.target)


if __name__ == "__main__":
    main()
