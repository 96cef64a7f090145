"""Alert correlation with ground truth, on three families of storms from three generators.

    python bench/incidents.py [--seeds 20]      # score, write docs/benchmarks.md
    python bench/incidents.py --fit             # learn the model on the tuning family

The families (each a generator written apart from the others, see their modules):

- demo (``scenarios.py``): a day of faults and noise on the demo organisation's catalog
  graph (80 entities), notifications written alert by alert;
- layered (``scenarios_layered.py``): a four-layer shop of 22 entities over four days,
  shaped like an independent storm sentier was once measured on (shared databases, a bus,
  overlapping faults, noise next to faults), sent through a simulated Alertmanager;
- mesh (``scenarios_mesh.py``): a week of a larger platform (60-90 entities: hubs, deep
  chains, diamonds, calls across systems), half-declared and half-monitored.

The model's parameters (``correlation.yaml``) are learned by maximum likelihood on ONE
family, mesh seeds 1-25 (``--fit``); every other figure is on data the model never saw:
mesh seeds 26 and up, and the other two families. A cross-validation table learns on each
family in turn and scores the others. Scored with the logs' scorer: pairwise precision,
recall and F1 over alert occurrences (truth: the fault or noise event each belongs to), GA,
incident count against the true one, root cause top-1 / top-3 per fault (all faults with an
alert; and those where two entities or more alerted). Throughput: normalise + correlate in
memory; and the whole stored path on SQLite.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from sentier.aiops import grouping, pairwise
from sentier.aiops.alerts import (
    AlertRecord,
    Correlator,
    DependencyGraph,
    Scenario,
    default_correlation,
    from_alertmanager,
    generate,
    graph_from_catalog,
    ingest_alerts,
    sort_for_replay,
)
from sentier.aiops.alerts.correlate import CorrelationSettings
from sentier.aiops.alerts.learn import fit, gather
from sentier.aiops.alerts.likelihood import JoinModel
from sentier.aiops.alerts.scenarios import _iso
from sentier.aiops.alerts.scenarios_layered import generate_layered
from sentier.aiops.alerts.scenarios_mesh import generate_mesh

TUNING = "mesh"
TUNING_SEEDS = range(1, 26)
# The correlator before the propagation model (rules and windows tuned on the demo family's
# seeds 1-25), measured once on 2026-12-08 on the same generators (pairwise F1, top-1):
PREVIOUS = {
    "demo": "0.945 / 81% (seeds 26-45, which it was not tuned on)",
    "layered": "0.687 / 63% (seeds 1-20)",
    "mesh": "0.737 / 67% (seeds 26-45)",
}


def demo_catalog(workdir: Path) -> tuple[DependencyGraph, str]:
    from sentier.catalog import ingest_source
    from sentier.demo import generate_organisation
    from sentier.store import session_scope, upgrade
    from sentier.store.engine import create_sentier_engine

    generate_organisation(workdir / "org")
    url = f"sqlite:///{workdir / 'bench.db'}"
    engine = create_sentier_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        ingest_source(session, [workdir / "org" / "catalog"])
    with session_scope(engine) as session:
        graph = graph_from_catalog(session)
    engine.dispose()
    return graph, url


class Families:
    """Storms by family and seed (the demo family needs the demo catalog's graph)."""

    def __init__(self, demo_graph: DependencyGraph) -> None:
        self.demo_graph = demo_graph

    def storm(self, family: str, seed: int) -> tuple[DependencyGraph, Scenario]:
        if family == "demo":
            return self.demo_graph, generate(self.demo_graph, seed=seed)
        made = {"layered": generate_layered, "mesh": generate_mesh}[family](seed)
        return made.graph, made.scenario

    def storms(
        self, family: str, seeds: Iterable[int]
    ) -> Iterable[tuple[DependencyGraph, Scenario]]:
        return (self.storm(family, seed) for seed in seeds)


FAMILIES = ("demo", "layered", "mesh")


def correlate(
    graph: DependencyGraph, scenario: Scenario, settings: CorrelationSettings | None = None
) -> tuple[Correlator, list[Any], float]:
    start = time.perf_counter()
    alerts = []
    for index, payload in enumerate(scenario.payloads):
        alerts.extend(from_alertmanager(payload, f"payload {index}").alerts)
    correlator = Correlator(graph, settings)
    outcomes = [correlator.process(alert) for alert in sort_for_replay(alerts)]
    correlator.finish()
    elapsed = time.perf_counter() - start
    return correlator, outcomes, len(alerts) / elapsed


def score(correlator: Correlator, scenario: Scenario) -> dict[str, float]:
    records: list[AlertRecord] = correlator.records()
    truth, predicted = [], []
    by_fault: dict[str, list[AlertRecord]] = {}
    for record in records:
        key = (record.alert.fingerprint, _iso(record.first_at))
        if key not in scenario.truth:
            raise SystemExit(f"occurrence {key} is not in the storm's truth")
        label = scenario.truth[key]
        truth.append(label)
        assert record.incident is not None
        predicted.append(record.incident.key)
        by_fault.setdefault(label, []).append(record)
    pairs = pairwise(truth, predicted)
    groups = grouping(truth, predicted)
    found: Counter[str] = Counter()
    for fault in scenario.faults:
        members = by_fault.get(fault.id)
        if not members:
            continue
        incident_key, _ = Counter(r.incident.key for r in members if r.incident).most_common(1)[0]
        ranked = [c["ref"] for c in correlator.incidents[incident_key].root_causes]
        hit1, hit3 = ranked[:1] == [fault.entity], fault.entity in ranked[:3]
        found.update(faults=1, top1=hit1, top3=hit3)
        if len({r.alert.entity or r.alert.entity_hint for r in members}) > 1:
            found.update(multi=1, multi_top1=hit1, multi_top3=hit3)
    incidents = len(set(predicted))
    return {
        "notifications": scenario.notifications,
        "alerts": len(records),
        "incidents": incidents,
        "true_groups": len(set(truth)),
        "pairwise_precision": pairs.precision,
        "pairwise_recall": pairs.recall,
        "pairwise_f1": pairs.f1,
        "ga": groups.ga,
        **{k: float(v) for k, v in found.items()},
    }


KEYS = ("pairwise_precision", "pairwise_recall", "pairwise_f1", "ga")


def summarise(results: list[dict[str, float]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for result in results:
        total.update({k: v for k, v in result.items()})
    n = len(results)
    out = {k: total[k] / n for k in KEYS}
    out["incidents"], out["true_groups"] = total["incidents"], total["true_groups"]
    out["count_error"] = total["incidents"] / total["true_groups"] - 1
    out["notifications"], out["alerts"] = total["notifications"] / n, total["alerts"] / n
    for name, base in (("top1", "faults"), ("top3", "faults")):
        out[name] = total[name] / total[base] if total[base] else 0.0
    for name in ("multi_top1", "multi_top3"):
        out[name] = total[name] / total["multi"] if total["multi"] else 0.0
    out["faults"], out["multi"] = total["faults"], total["multi"]
    return out


def run_family(
    families: Families,
    family: str,
    seeds: Iterable[int],
    settings: CorrelationSettings | None = None,
    on_each: Callable[[int, dict[str, float]], None] | None = None,
) -> dict[str, float]:
    results = []
    for seed in seeds:
        graph, scenario = families.storm(family, seed)
        correlator, _, _ = correlate(graph, scenario, settings)
        results.append(score(correlator, scenario))
        if on_each is not None:
            on_each(seed, results[-1])
    return summarise(results)


def learned(families: Families, family: str) -> JoinModel:
    return fit(gather(families.storms(family, TUNING_SEEDS)), default_correlation().model)


def stored_throughput(url: str, graph: DependencyGraph, scenario: Scenario) -> float:
    from sentier.store import session_scope
    from sentier.store.engine import create_sentier_engine

    alerts = []
    for index, payload in enumerate(scenario.payloads):
        alerts.extend(from_alertmanager(payload, f"payload {index}").alerts)
    engine = create_sentier_engine(url)
    start = time.perf_counter()
    with session_scope(engine) as session:
        ingest_alerts(session, alerts, graph=graph)
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(alerts) / elapsed


def _row(label: str, found: dict[str, float]) -> list[object]:
    return [
        label,
        f"{found['notifications']:,.0f}",
        f"{found['alerts']:,.0f}",
        f"{found['incidents']:,.0f} / {found['true_groups']:,.0f} ({found['count_error']:+.1%})",
        f"{found['pairwise_precision']:.3f}",
        f"{found['pairwise_recall']:.3f}",
        f"**{found['pairwise_f1']:.3f}**",
        f"{found['ga']:.3f}",
        f"{found['top1']:.1%} / {found['top3']:.1%} of {found['faults']:.0f}",
        f"{found['multi_top1']:.1%} / {found['multi_top3']:.1%} of {found['multi']:.0f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds scored per family")
    parser.add_argument("--cross", type=int, default=8, help="seeds per cell of the matrix")
    parser.add_argument("--fit", action="store_true", help="print the model learned on mesh")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        graph, url = demo_catalog(Path(tmp))
        families = Families(graph)
        if args.fit:
            model = learned(families, TUNING)
            print(yaml.safe_dump({"model": model.as_dict()}, sort_keys=False))
            return
        shipped = default_correlation()
        held_out = range(TUNING_SEEDS.stop, TUNING_SEEDS.stop + args.seeds)
        rows = []
        for family in FAMILIES:
            seeds = held_out if family == TUNING else range(1, args.seeds + 1)
            label = f"{family} (seeds {seeds.start}-{seeds.stop - 1})"
            found = run_family(families, family, seeds, shipped)
            rows.append(_row(label, found))
            print(rows[-1], flush=True)
        matrix = []
        for tuned in FAMILIES:
            settings = replace(shipped, model=learned(families, tuned))
            cells: list[object] = [f"learned on {tuned} (seeds 1-25)"]
            for family in FAMILIES:
                seeds = (
                    range(TUNING_SEEDS.stop, TUNING_SEEDS.stop + args.cross)
                    if family == tuned
                    else range(1, args.cross + 1)
                )
                found = run_family(families, family, seeds, settings)
                mark = "" if family != tuned else " (held-out seeds)"
                cells.append(f"{found['pairwise_f1']:.3f} / {found['top1']:.0%}{mark}")
            matrix.append(cells)
            print(matrix[-1], flush=True)
        big = generate(graph, seed=99, faults=600, noise=2000, hours=24 * 7)
        # Best of three: the machine is shared, and other work only ever slows a run down.
        speed = max(correlate(graph, big)[2] for _ in range(3))
        # Best of three too, each into a fresh copy of the catalog's database.
        day = generate(graph, seed=100)
        source = Path(url.removeprefix("sqlite:///"))
        runs = []
        for attempt in range(3):
            copy = source.with_name(f"stored-{attempt}.db")
            shutil.copyfile(source, copy)
            runs.append(stored_throughput(f"sqlite:///{copy}", graph, day))
        stored = max(runs)
    model = shipped.model
    body = "\n\n".join(
        [
            "Three families of storms, each from its own generator (see `bench/incidents.py` "
            "and the generators' modules): **demo**, a day on the demo organisation's graph "
            "(80 entities); **layered**, four days of a 22-entity shop in four layers with "
            "shared databases and a message bus, overlapping faults and noise next to faults, "
            "sent through a simulated Alertmanager (grouping, re-sends, HA duplicates); "
            "**mesh**, a week of a 60-90-entity platform with hubs, deep chains, diamonds and "
            "calls across systems, part of it missing from the catalog and part unmonitored. "
            f"The model was learned by maximum likelihood on **{TUNING} seeds 1-25 only**; "
            "every figure below is on storms it never saw.",
            table(
                [
                    "family (seeds)",
                    "notifications per storm",
                    "alert occurrences per storm",
                    "incidents / true groups, all storms (error)",
                    "pair P",
                    "pair R",
                    "pair F1",
                    "GA",
                    "root cause top-1 / top-3, all faults",
                    "top-1 / top-3, faults with 2+ alerting entities",
                ],
                rows,
            ),
            "Cross-generator validation: the model learned on each family in turn (seeds "
            f"1-25), scored on {args.cross} storms of each (pairwise F1 / root cause top-1). "
            "The diagonal is on held-out seeds of the family learned on.",
            table(["", *FAMILIES], matrix),
            "The learned parameters in use (`correlation.yaml`): "
            + ", ".join(f"{k} {v}" for k, v in model.as_dict().items())
            + ".",
            "The correlator before the propagation model (windows and rules tuned on the demo "
            "family), pairwise F1 / top-1: "
            + "; ".join(f"{k}: {v}" for k, v in PREVIOUS.items())
            + ".",
            table(
                ["throughput", "alerts/s"],
                [
                    [
                        f"normalise + correlate in memory ({big.notifications:,} notifications, "
                        "one week, best of 3)",
                        f"{speed:,.0f}",
                    ],
                    [
                        f"whole stored path on SQLite ({day.notifications:,} notifications, one "
                        "day, one transaction, best of 3)",
                        f"{stored:,.0f}",
                    ],
                ],
            ),
        ]
    )
    write_section("incidents", "Alert correlation into incidents (three storm families)", body)


if __name__ == "__main__":
    main()
