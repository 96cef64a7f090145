"""NAB: sentier's streaming detector on the 58 series, scored by NAB's rules, beside a baseline.

    python bench/nab.py --corpora ../shared/corpora   (or SENTIER_CORPORA)

The scorer (``sentier.aiops.metrics.nab_score``) is checked in the same run: the windowed
Gaussian detector, re-implemented here as NAB v1.0 ran it (a 6,400-point window sliding by
100, NuPIC's tabulated normal tail), must land on its published scores (39.6 / 20.9 / 47.4).
Our detector is reported twice: with NAB's per-profile optimised threshold (how every
scoreboard entry is reported) and with the threshold fixed in advance (0.5, the alarm level).
Three of its constants (the averaging window, the memory of the likelihood, the range
tolerance) were chosen while looking at NAB: on the even-numbered half of the series only,
so the odd half is reported apart as held out, and the same detector with NuPIC's own
constants is reported too.
Throughput: points per second on one core, detector only (the same loop for both).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from sentier.aiops.metrics import (
    DetectorSettings,
    ScoredRows,
    SeriesDetector,
    best_threshold,
    default_settings,
    label_rows,
    normalised,
    profiles,
    score_at,
)

PUBLISHED = {  # NAB's scoreboard (README of the corpus, results/final_results.json)
    "windowedGaussian": (39.6, 20.9, 47.4),
    "numenta (HTM)": (70.1, 63.1, 74.3),
    "contextOSE (CAD OSE)": (69.9, 67.0, 73.2),
}
PROFILE_ORDER = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")

Series = tuple[str, list[datetime], list[float], ScoredRows]


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.split(".")[0])


def load(corpora: Path) -> list[Series]:
    root = corpora / "nab"
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    series = []
    for name in sorted(windows):
        with (root / "data" / name).open(encoding="utf-8") as handle:
            rows = list(csv.reader(handle))[1:]
        stamps = [_timestamp(r[0]) for r in rows]
        values = [float(r[1]) for r in rows]
        spans = [(_timestamp(a), _timestamp(b)) for a, b in windows[name]]
        series.append((name, stamps, values, label_rows(name, stamps, spans)))
    return series


def _nupic_tail(z: float) -> float:
    """NuPIC's normalProbability: the normal tail from a table in tenths of sigma, 0 past 7."""
    tenths = math.floor(10 * abs(z) + 0.5)
    if tenths > 70:
        return 0.0
    return 0.5 * math.erfc(tenths / 10 / math.sqrt(2))


def windowed_gaussian(values: Sequence[float], stamps: Sequence[datetime]) -> list[float]:
    """NAB's windowed Gaussian baseline: 1 - tail probability against a sliding window."""
    size, step = 6400, 100
    window: list[float] = []
    pending: list[float] = []
    mean, std = 0.0, 1.0
    out = []

    def refresh() -> tuple[float, float]:
        m = math.fsum(window) / len(window)
        sd = math.sqrt(math.fsum((v - m) ** 2 for v in window) / len(window))
        return m, sd or 0.000001

    for value in values:
        out.append(1.0 - _nupic_tail((value - mean) / std) if window else 0.0)
        if len(window) < size:
            window.append(value)
            mean, std = refresh()
        else:
            pending.append(value)
            if len(pending) == step:
                window = window[step:] + pending
                pending = []
                mean, std = refresh()
    return out


def sentier_detector(
    values: Sequence[float], stamps: Sequence[datetime], settings: DetectorSettings | None = None
) -> list[float]:
    detector = SeriesDetector(settings)
    score = detector.score
    return [score(v, t) for v, t in zip(values, stamps, strict=True)]


# NuPIC's anomaly likelihood and spatial anomaly constants, as its NAB detector ran them.
NUPIC = replace(default_settings(), average=10, memory=8640, spatial_tolerance=0.05)


def nupic_constants(values: Sequence[float], stamps: Sequence[datetime]) -> list[float]:
    return sentier_detector(values, stamps, NUPIC)


def halves(rows: list[ScoredRows], scores: list[list[float]]) -> list[str]:
    """Standard score, optimised and fixed, on the even (tuning) and odd (held-out) halves."""
    cost = profiles()["standard"]
    cells = []
    for start in (0, 1):
        part_rows, part_scores = rows[start::2], scores[start::2]
        best = best_threshold(part_rows, part_scores, cost)
        fixed = score_at(part_rows, part_scores, cost, 0.5)
        cells.append(
            f"{normalised(best.score, part_rows, cost):.1f} / "
            f"{normalised(fixed, part_rows, cost):.1f}"
        )
    return cells


def run(
    series: list[Series], detect: Callable[[Sequence[float], Sequence[datetime]], list[float]]
) -> tuple[list[list[float]], float]:
    start = time.perf_counter()
    scores = [detect(values, stamps) for _, stamps, values, _ in series]
    elapsed = time.perf_counter() - start
    return scores, sum(len(s[2]) for s in series) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=os.environ.get("SENTIER_CORPORA"))
    args = parser.parse_args()
    if not args.corpora or not (Path(args.corpora) / "nab").is_dir():
        raise SystemExit("NAB not found: pass --corpora DIR or set SENTIER_CORPORA")
    series = load(Path(args.corpora))
    rows = [s[3] for s in series]
    points = sum(len(s[2]) for s in series)
    cost = profiles()

    results: dict[str, list[str]] = {}
    speeds: dict[str, float] = {}
    split: list[list[str]] = []
    for label, detect in (
        ("windowed Gaussian (re-implemented)", windowed_gaussian),
        ("sentier, optimised threshold", sentier_detector),
        ("sentier with NuPIC's constants, optimised threshold", nupic_constants),
    ):
        scores, speed = run(series, detect)
        if not label.startswith("sentier with"):
            speeds[label] = speed
        if label.startswith("sentier"):
            split.append([label.split(",")[0], *halves(rows, scores)])
        cells = []
        for name in PROFILE_ORDER:
            best = best_threshold(rows, scores, cost[name])
            cells.append(f"{normalised(best.score, rows, cost[name]):.1f} (t={best.threshold:.4g})")
        results[label] = cells
        print(label, cells, f"{speed:,.0f} points/s", flush=True)
        if label.startswith("sentier"):
            fixed = [
                f"{normalised(score_at(rows, scores, cost[n], 0.5), rows, cost[n]):.1f}"
                for n in PROFILE_ORDER
            ]
            results[f"{label.split(',')[0]}, threshold fixed in advance (0.5)"] = fixed
            print("fixed threshold", fixed, flush=True)
    table_rows = [[label, *cells] for label, cells in results.items()]
    table_rows += [
        [f"published: {k}", *(f"{v:.1f}" for v in vals)] for k, vals in PUBLISHED.items()
    ]
    speed_rows = [[label, f"{speed:,.0f}"] for label, speed in speeds.items()]
    body = "\n\n".join(
        [
            f"58 series, {points:,} points, 116 windows; NAB v1.1 labels and cost profiles. "
            "Scores normalised as NAB does (null detector 0, perfect 100).",
            "The first row checks the scorer: NAB's windowed Gaussian baseline, re-implemented, "
            "scored here, against its published figures at the bottom. sentier's detector: "
            "surprise of the level (against the hour of day once known) and of the step, "
            "NuPIC's anomaly likelihood over its 20-point average (streaming, exponentially "
            "weighted), and NuPIC's range ('spatial') anomaly; one configuration, no look-ahead "
            "(NAB's detectors may read each file's min/max and length; this one does not). "
            "NuPIC's constants: a 10-point average, 8,640 points of memory, 5% range tolerance.",
            table(["detector", *PROFILE_ORDER], table_rows),
            "Standard profile on each half of the corpus (series sorted by name; even-numbered "
            "ones were used to choose the three constants, odd-numbered ones were not; the "
            "split was made after a first look at the whole corpus, where the 20-point average "
            "was first tried, so the odd half is not pristine), optimised / fixed threshold:",
            table(["detector", "even half (tuning)", "odd half (held out)"], split),
            table(["detector", "points/s (one core)"], speed_rows),
        ]
    )
    write_section("nab", "Metric anomaly detection on NAB", body)


if __name__ == "__main__":
    main()
