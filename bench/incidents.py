"""Alert correlation with ground truth: seeded fault storms on the demo organisation's graph.

    python bench/incidents.py [--seeds 5]

The demo organisation is generated and ingested into a throwaway catalog, so the graph is
the real one the catalog serves (``dependency_edges``). For each seed, a day of faults (a
fault alerts at its entity, then at entities depending on it, with delays), noise,
re-sent notifications, flapping and simultaneous independent faults is sent as Alertmanager
webhooks through normalisation and correlation. Scored with the logs' scorer: pairwise F1 and
GA over alerts (truth: the fault or noise event each alert belongs to), noise reduction
(1 - incidents / notifications), root cause top-1 / top-3 per fault. Throughput: normalise +
correlate, one core, in memory; and the whole stored path on SQLite.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from sentier.aiops import grouping, pairwise
from sentier.aiops.alerts import (
    AlertRecord,
    Correlator,
    DependencyGraph,
    Scenario,
    from_alertmanager,
    generate,
    graph_from_catalog,
    ingest_alerts,
    sort_for_replay,
)
from sentier.aiops.alerts.scenarios import _iso

# (The previous correlator, measured on seeds 1-5 on 2026-11-28: pairwise F1 0.891, noise
# reduction 0.901, top-1 0.792, top-3 0.979; on seeds 26-55: F1 0.870, top-1 0.740.)


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


def correlate(graph: DependencyGraph, scenario: Scenario) -> tuple[Correlator, list[Any], float]:
    start = time.perf_counter()
    alerts = []
    for index, payload in enumerate(scenario.payloads):
        alerts.extend(from_alertmanager(payload, f"payload {index}").alerts)
    correlator = Correlator(graph)
    outcomes = [correlator.process(alert) for alert in sort_for_replay(alerts)]
    correlator.finish()
    elapsed = time.perf_counter() - start
    return correlator, outcomes, len(alerts) / elapsed


def score(correlator: Correlator, outcomes: list[Any], scenario: Scenario) -> dict[str, float]:
    records: dict[int, AlertRecord] = {}
    for outcome in outcomes:
        if outcome.record is not None:
            records[id(outcome.record)] = outcome.record
    truth, predicted = [], []
    by_fault: dict[str, list[AlertRecord]] = {}
    for record in records.values():
        label = scenario.truth[(record.alert.fingerprint, _iso(record.first_at))]
        truth.append(label)
        assert record.incident is not None
        predicted.append(record.incident.key)
        by_fault.setdefault(label, []).append(record)
    pairs = pairwise(truth, predicted)
    groups = grouping(truth, predicted)
    top1 = top3 = evaluated = 0
    for fault in scenario.faults:
        members = by_fault.get(fault.id)
        if not members:
            continue
        evaluated += 1
        incident_key, _ = Counter(r.incident.key for r in members if r.incident).most_common(1)[0]
        ranked = [c["ref"] for c in correlator.incidents[incident_key].root_causes]
        top1 += bool(ranked[:1] == [fault.entity])
        top3 += fault.entity in ranked[:3]
    incidents = len(set(predicted))
    return {
        "notifications": scenario.notifications,
        "alerts": len(records),
        "incidents": incidents,
        "true_groups": len(set(truth)),
        "noise_reduction": 1 - incidents / scenario.notifications,
        "best_reduction": 1 - len(set(truth)) / scenario.notifications,
        "alert_reduction": 1 - incidents / len(records),
        "pairwise_precision": pairs.precision,
        "pairwise_recall": pairs.recall,
        "pairwise_f1": pairs.f1,
        "ga": groups.ga,
        "faults": evaluated,
        "top1": top1 / evaluated if evaluated else 0.0,
        "top3": top3 / evaluated if evaluated else 0.0,
    }


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--more", type=int, default=50, help="seeds 6..5+MORE, summarised (see the docstring)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        graph, url = demo_catalog(Path(tmp))
        rows = []
        totals: Counter[str] = Counter()
        keys = (
            "pairwise_f1",
            "ga",
            "noise_reduction",
            "best_reduction",
            "alert_reduction",
            "top1",
            "top3",
        )
        for seed in range(1, args.seeds + 1):
            scenario = generate(graph, seed=seed)
            correlator, outcomes, speed = correlate(graph, scenario)
            result = score(correlator, outcomes, scenario)
            for key in keys:
                totals[key] += result[key]
            rows.append(
                [
                    seed,
                    result["notifications"],
                    result["alerts"],
                    result["incidents"],
                    result["true_groups"],
                    f"{result['pairwise_precision']:.3f}",
                    f"{result['pairwise_recall']:.3f}",
                    f"{result['pairwise_f1']:.3f}",
                    f"{result['ga']:.3f}",
                    f"{result['noise_reduction']:.1%}",
                    f"{result['top1']:.0%} of {result['faults']}",
                    f"{result['top3']:.0%}",
                ]
            )
            print(rows[-1], flush=True)
        mean = {key: totals[key] / args.seeds for key in keys}
        # The correlation rules were designed while looking at seeds 1-25; seeds 26 and up
        # were held out: first scored once the rules were settled.
        ranges = [("6-25 (looked at while designing)", range(6, 26))]
        if args.more > 20:
            ranges.append((f"26-{5 + args.more} (held out)", range(26, 6 + args.more)))
        more_rows = []
        for label, seeds in ranges:
            sums: Counter[str] = Counter()
            for seed in seeds:
                scenario = generate(graph, seed=seed)
                correlator, outcomes, _ = correlate(graph, scenario)
                found = score(correlator, outcomes, scenario)
                for key in keys:
                    sums[key] += found[key]
            more_rows.append([label, *(f"{sums[k] / len(seeds):.3f}" for k in keys)])
            print(more_rows[-1], flush=True)
        big = generate(graph, seed=99, faults=600, noise=2000, hours=24 * 7)
        # Best of three: the machine is shared, and other work only ever slows a run down.
        speed = max(correlate(graph, big)[2] for _ in range(3))
        stored = stored_throughput(url, graph, generate(graph, seed=100))
    body = "\n\n".join(
        [
            f"Demo organisation graph: {len(graph.depends_on)} entities with dependencies. "
            "Per seed: 40 faults in a day (25% striking within 90 s of an earlier one, at an "
            "entity independent of it; 30% of faulty resources raise no alert themselves), "
            "dependants alerting with probability 0.75^hops and 20-100 s per hop, 40 noise "
            "alerts (10% naming services unknown to the catalog), half of all alerts re-sent "
            "every 5 minutes while firing (Alertmanager's group interval), 10-20% flapping. "
            "'best possible' is the noise reduction of the truth itself (1 - true groups / "
            "notifications).",
            table(
                [
                    "seed",
                    "notifications",
                    "alerts",
                    "incidents",
                    "true groups",
                    "pair P",
                    "pair R",
                    "pair F1",
                    "GA",
                    "noise reduction",
                    "root cause top-1",
                    "top-3",
                ],
                rows,
            ),
            table(
                [
                    "mean over seeds",
                    "pairwise F1",
                    "GA",
                    "noise reduction",
                    "best possible",
                    "alert reduction",
                    "top-1",
                    "top-3",
                ],
                [[f"1-{args.seeds} (above)", *(f"{mean[k]:.3f}" for k in keys)], *more_rows],
            ),
            "The correlation and root-cause rules were revised while looking at seeds 1-25; "
            "seeds 26 and up were first scored once the rules were settled (only the weight of "
            "severity changed after, from a unit test, not from these figures). "
            "'best possible' is "
            "below 90% here: the 40 noise alerts a day are each an incident of their own, so a "
            "90% noise reduction is reachable only by merging unrelated alerts.",
            table(
                ["throughput", "alerts/s"],
                [
                    [
                        f"normalise + correlate in memory ({big.notifications:,} notifications, "
                        "one week, best of 3)",
                        f"{speed:,.0f}",
                    ],
                    ["whole stored path on SQLite (one day, one transaction)", f"{stored:,.0f}"],
                ],
            ),
        ]
    )
    write_section("incidents", "Alert correlation into incidents (seeded fault storms)", body)


if __name__ == "__main__":
    main()
