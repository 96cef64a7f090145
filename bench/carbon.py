"""GreenOps benchmark: carbon of the 10 M-line FinOps benchmark set against its showback.

Uses the FOCUS Parquet export ``bench/finops.py`` generates (``bench/.work/finops``), ingested
once into its own home here, plus resource facts (instance types for the compute resources,
measured CPU utilisation for half of them), and measures in separate processes:

- carbon per month x team x service category (``sentier.greenops.carbon_rows``: the carbon
  mapping of every line key with FinOps' owners, one Ibis expression over the lines), in
  three states: *recomputed* (no persisted mapping: the carbon mapping and FinOps'
  allocation mapping both computed, in a fresh process), *fresh process* (a new process
  whose mappings were persisted by an earlier one, inputs unchanged) and *warm* (later calls
  in the same process);
- the peer: FinOps' showback on the same data and grouping (``sentier.finops.allocate``),
  in the same three states, measured in the same run.

Target: carbon within 1.5x the showback's time.

Usage: python bench/carbon.py [--rows N] [--repeats N] [--rounds N]
(the ingested home under bench/.work/carbon is reused by later runs; delete it to re-ingest)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
FINOPS_WORK = ROOT / ".work" / "finops"
WORK = ROOT / ".work" / "carbon"
sys.path.insert(0, str(ROOT))

INSTANCE_TYPES = [
    "m5.large",
    "m5.xlarge",
    "c5.2xlarge",
    "r5.large",
    "m6g.large",
    "t3.medium",
    "c6i.xlarge",
    "m5.4xlarge",
    "g4dn.xlarge",
    "r6g.xlarge",
]


# Seconds spent reading inputs before timing (reported beside the figures).
LOADED: dict[str, float] = {}


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase_resources(home: Path) -> dict[str, float]:
    """Instance types for every Compute resource of the set, utilisation for half of them."""
    os.environ["SENTIER_HOME"] = str(home)
    import numpy as np

    from finops import ACCOUNTS, CATEGORIES, REGIONS, RESOURCES_PER_ACCOUNT, SERVICES
    from sentier.greenops import store_resource_facts
    from sentier.greenops.resources import ResourceFact
    from sentier.store import get_engine, session_scope

    # Replays the generator's draws (same seed and order) to know each resource's service.
    rng = np.random.default_rng(7)
    resources = ACCOUNTS * RESOURCES_PER_ACCOUNT
    account = np.arange(resources) // RESOURCES_PER_ACCOUNT
    service = rng.integers(0, SERVICES, resources)
    region = rng.integers(0, REGIONS, resources)
    regions = [f"region-{i}" for i in range(REGIONS)]
    facts = []
    picker = np.random.default_rng(11)
    for i in range(resources):
        if CATEGORIES[service[i] % len(CATEGORIES)] != "Compute":
            continue
        resource_id = (
            f"arn:aws:svc{service[i]}:{regions[region[i]]}:{100000000000 + account[i]}:"
            f"resource/r-{i:08x}"
        )
        measured = picker.random() < 0.5
        facts.append(
            ResourceFact(
                resource_id,
                "",
                INSTANCE_TYPES[i % len(INSTANCE_TYPES)],
                float(np.clip(picker.normal(0.3, 0.15), 0.01, 0.99)) if measured else None,
            )
        )
    with session_scope(get_engine()) as session:
        summary = store_resource_facts(session, "bench", facts)
    return {"resources": summary["resources"], "with_utilization": summary["with_utilization"]}


def _contexts(home: Path):  # type: ignore[no-untyped-def]
    os.environ["SENTIER_HOME"] = str(home)
    from finops import _snapshot
    from sentier.analytics import duckdb_connection
    from sentier.finops import Facts, load_rules
    from sentier.greenops import CarbonContext, load_coefficients, load_resource_facts
    from sentier.store import get_engine, session_scope

    with session_scope(get_engine()) as session:
        resources = load_resource_facts(session)
    con = duckdb_connection(threads=2)
    # Inputs are read before timing on both sides: the catalog snapshot and the rules for
    # both, the resource facts and the coefficient set (read once per process) for carbon.
    snapshot, rules = _snapshot(), load_rules()
    started = time.perf_counter()
    coefficients = load_coefficients()
    LOADED["coefficients"] = time.perf_counter() - started

    def carbon() -> CarbonContext:
        return CarbonContext(Facts(con), snapshot, rules, coefficients, resources)

    return con, snapshot, rules, carbon


def _clear_caches(home: Path) -> None:
    shutil.rmtree(home / "facts" / "finops" / "_cache", ignore_errors=True)
    shutil.rmtree(home / "facts" / "greenops" / "_cache", ignore_errors=True)


def _timed(run: Callable[[], Any], repeats: int, *, clear: Path | None) -> dict[str, float]:
    """The first call (after clearing the persisted mappings if ``clear``), then warm calls."""
    if clear is not None:
        _clear_caches(clear)
    started, cpu = time.perf_counter(), _cpu_seconds()
    run()
    first, first_cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    warm, warm_cpu = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), _cpu_seconds()
        run()
        warm.append(time.perf_counter() - started)
        warm_cpu.append(_cpu_seconds() - cpu)
    return {
        "first": first,
        "first_cpu": first_cpu,
        "warm": statistics.median(warm) if warm else 0.0,
        "warm_cpu": statistics.median(warm_cpu) if warm_cpu else 0.0,
    }


def phase_carbon(home: Path, repeats: int, clear: bool) -> dict[str, float]:
    """Carbon in a fresh process: mappings recomputed (``clear``) or persisted before."""
    from sentier.greenops import carbon_rows

    _con, _snapshot, _rules, carbon = _contexts(home)
    found: list[Any] = []

    def run() -> None:
        found[:] = carbon_rows(carbon(), key_dims=["ServiceCategory"])

    out = _timed(run, repeats, clear=home if clear else None)
    rows = found
    out.update(
        coefficients_load=LOADED["coefficients"],
        groups=len(rows),
        estimated_lines=sum(r["lines"] for r in rows if r["status"] == "estimated"),
        lines=sum(r["lines"] for r in rows),
        kg=sum(r["scope2_location"] + r["scope3"] for r in rows),
    )
    return out


def phase_showback(home: Path, repeats: int, clear: bool) -> dict[str, float]:
    """The showback in a fresh process: mapping recomputed (``clear``) or persisted before."""
    from sentier.finops import Facts, allocate

    con, snapshot, rules, _carbon = _contexts(home)
    found: list[Any] = []

    def run() -> None:
        found[:] = allocate(Facts(con), snapshot, rules, key_dims=["ServiceCategory"]).rows

    out = _timed(run, repeats, clear=home if clear else None)
    out["groups"] = len(found)
    return out


def _child(script: Path, phase: str, *args: str) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, str(script), "--phase", phase, *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="Alternate both sides this often.")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    options = parser.parse_args()
    phases = {"resources": phase_resources}
    if options.phase in phases:
        print(json.dumps(phases[options.phase](Path(options.args[0]))))
        return
    if options.phase in ("carbon", "showback"):
        run = phase_carbon if options.phase == "carbon" else phase_showback
        home, repeats, clear = Path(options.args[0]), int(options.args[1]), options.args[2]
        print(json.dumps(run(home, repeats, clear == "recompute")))
        return

    finops_script = ROOT / "finops.py"
    raw = FINOPS_WORK / f"focus-{options.rows}.parquet"
    if not raw.exists():
        print(
            f"generating {options.rows:,} FOCUS lines into {raw} (bench/finops.py) ...", flush=True
        )
        FINOPS_WORK.mkdir(parents=True, exist_ok=True)
        _child(finops_script, "generate", str(raw), str(options.rows))
    home = WORK / f"home-{options.rows}"
    if not (home / "facts" / "finops" / "_manifest.json").exists():
        shutil.rmtree(home, ignore_errors=True)
        print("ingesting (once) ...", flush=True)
        print(f"  {_child(finops_script, 'ingest', str(raw), str(home))}", flush=True)
        print(f"  resource facts: {_child(Path(__file__), 'resources', str(home))}", flush=True)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    for round_ in range(options.rounds):
        # Alternated, so that load from other work on the machine falls on both sides. Each
        # side first recomputes its mappings in a fresh process (and measures warm calls),
        # then a second fresh process finds them persisted.
        for side, label in (("showback", "showback (FinOps)"), ("carbon", "carbon (GreenOps)")):
            for state, repeats in (("recompute", options.repeats), ("persisted", 0)):
                print(f"round {round_ + 1}: {label}, {state} ...", flush=True)
                result = _child(Path(__file__), side, str(home), str(repeats), state)
                runs.setdefault((side, state), []).append(result)
                print(f"  {result}", flush=True)

    def best(side: str, state: str, key: str) -> float:
        return min(r[key] for r in runs[(side, state)])

    carbon, showback = runs[("carbon", "recompute")][-1], runs[("showback", "recompute")][-1]
    warm_c, warm_s = best("carbon", "recompute", "warm"), best("showback", "recompute", "warm")
    cpu_c, cpu_s = (
        best("carbon", "recompute", "warm_cpu"),
        best("showback", "recompute", "warm_cpu"),
    )
    fresh_c, fresh_s = best("carbon", "persisted", "first"), best("showback", "persisted", "first")
    cold_c, cold_s = best("carbon", "recompute", "first"), best("showback", "recompute", "first")
    cold_cpu_c = best("carbon", "recompute", "first_cpu")
    cold_cpu_s = best("showback", "recompute", "first_cpu")

    from _report import table, write_section

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    body = table(
        ["measure", "carbon (GreenOps)", "peer: showback (FinOps)", "ratio", "target"],
        [
            [
                "warm (s), month x team x service category",
                warm_c,
                warm_s,
                f"{warm_c / warm_s:.2f}x",
                f"<= 1.5x: {verdict(warm_c <= 1.5 * warm_s)}",
            ],
            ["warm CPU seconds", cpu_c, cpu_s, f"{cpu_c / cpu_s:.2f}x", ""],
            [
                "fresh process, mappings persisted (s)",
                fresh_c,
                fresh_s,
                f"{fresh_c / fresh_s:.2f}x",
                f"<= 1.5x: {verdict(fresh_c <= 1.5 * fresh_s)}",
            ],
            [
                "cold: fresh process, mappings recomputed (s)",
                cold_c,
                cold_s,
                f"{cold_c / cold_s:.2f}x",
                f"<= 1.5x: {verdict(cold_c <= 1.5 * cold_s)}",
            ],
            [
                "cold CPU seconds",
                cold_cpu_c,
                cold_cpu_s,
                f"{cold_cpu_c / cold_cpu_s:.2f}x",
                "",
            ],
            ["result groups", int(carbon["groups"]), int(showback["groups"]), "", ""],
        ],
    )
    load = os.getloadavg()[0]
    coefficients_load = min(r["coefficients_load"] for r in runs[("carbon", "recompute")])
    body += (
        f"\n\nLoad average when measured: {load:.1f} on {os.cpu_count()} CPUs; best of "
        f"{options.rounds} alternated rounds, each the median of {options.repeats} warm runs. "
        "Inputs are read before timing on both sides (catalog snapshot, allocation rules; for "
        "carbon also resource facts and the coefficient set, whose reading took "
        f"{coefficients_load:.2f} s once per process)."
        f"\n\n{int(carbon['lines']):,} lines (bench/finops.py's set: 50 sub-accounts x 2,000 "
        "resources, 30 services, 15 regions, 6 months); resource facts give an instance type "
        "to every Compute resource and a measured CPU utilisation to half of them, so "
        f"{int(carbon['estimated_lines']):,} lines are estimated "
        f"({carbon['kg'] / 1000:,.1f} tCO2e), the others counted as not estimated with their "
        "cost. The set's regions (`region-N`) are not real ones: the provider's average grid "
        "factor applies. Carbon joins one table to the monthly sums, the carbon mapping of "
        "every line key carrying FinOps' owners, and multiplies 15 factor columns; the "
        "showback joins the allocation mapping and sums costs. *Recomputed*: a fresh process "
        "with no persisted mapping (carbon: classification, model and FinOps' allocation; "
        "showback: FinOps' allocation), what the first report after a change of facts, "
        "catalog, rules, coefficients or resource facts pays. *Fresh process, persisted*: a "
        "new process whose mappings an earlier one persisted (inputs unchanged), what a "
        "restarted server or a CLI call pays. *Warm*: later calls in the same process."
    )
    write_section("carbon", "GreenOps: carbon of the 10 M-line FOCUS set vs FinOps showback", body)


if __name__ == "__main__":
    main()
