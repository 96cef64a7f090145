"""The Numenta Anomaly Benchmark's scoring, written from its published rules.

NAB rewards the EARLIEST detection inside each labelled anomaly window and charges every
detection outside one, more the closer it is to nothing:

- inside a window of width ``w`` ending at row ``r``, a detection at row ``i`` is worth
  ``tp * S(-(r - i + 1) / w) / S(-1)`` where ``S(x) = 2 / (1 + e^(5x)) - 1``; a window
  counts only its best (earliest) detection, and ``-fn`` when it has none;
- outside windows a detection costs ``fp * S(d)`` (a negative number), ``d`` being its
  distance past the previous window's right edge over that window's width minus one
  (``S(3) = -1`` before any window, and from three widths on);
- the first 15% of each series (at most 750 rows) is a probation period, never scored;
- a detector's anomaly scores become detections above one threshold for the whole corpus;
  NAB reports the best threshold per profile (``best_threshold``), normalised so that the
  null detector (no detection) scores 0 and a perfect one 100.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources

import yaml

PROBATION_SHARE = 0.15
PROBATION_MAX = 750


@dataclass(frozen=True, slots=True)
class CostProfile:
    name: str
    tp: float
    fp: float
    fn: float


@lru_cache(maxsize=1)
def profiles() -> dict[str, CostProfile]:
    """The three NAB cost profiles (a data file beside this module)."""
    text = resources.files("sentier.aiops.metrics").joinpath("nab-profiles.yaml").read_text()
    data = yaml.safe_load(text)
    return {
        name: CostProfile(name, float(v["tp"]), float(v["fp"]), float(v["fn"]))
        for name, v in data.items()
    }


def scaled_sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


MAX_TP = scaled_sigmoid(-1.0)


def probation_length(rows: int) -> int:
    return int(min(math.floor(PROBATION_SHARE * rows), PROBATION_SHARE * 5000))


@dataclass(frozen=True)
class ScoredRows:
    """Per row of one series: its window (None outside; -1 in probation) and position score."""

    series: str
    window: list[int | None]
    position: list[float]  # S(...) for in-window rows (positive) and outside rows (negative)
    windows: int


def label_rows(
    series: str, timestamps: Sequence[datetime], windows: Sequence[tuple[datetime, datetime]]
) -> ScoredRows:
    """Where each row stands against the labelled windows of its series."""
    index = {t: i for i, t in enumerate(timestamps)}
    spans = []
    for opens, closes in windows:
        if opens not in index or closes not in index:
            raise ValueError(f"{series}: window {opens}..{closes} does not fall on rows")
        spans.append((index[opens], index[closes]))
    spans.sort()
    probation = probation_length(len(timestamps))
    window: list[int | None] = []
    position: list[float] = []
    current = 0
    previous_end: int | None = None
    previous_width = 0.0
    for i in range(len(timestamps)):
        while current < len(spans) and spans[current][1] < i:
            previous_end = spans[current][1]
            previous_width = float(spans[current][1] - spans[current][0] + 1)
            current += 1
        inside = current < len(spans) and spans[current][0] <= i <= spans[current][1]
        if inside:
            start, end = spans[current]
            width = float(end - start + 1)
            position.append(scaled_sigmoid(-(end - i + 1) / width))
            window.append(current)
        else:
            if previous_end is None:
                past = 3.0
            else:
                past = abs(previous_end - i) / (previous_width - 1) if previous_width > 1 else 3.0
            position.append(scaled_sigmoid(past))
            window.append(None)
        if i < probation:
            window[-1] = -1
    return ScoredRows(series, window, position, len(spans))


@dataclass(frozen=True, slots=True)
class Sweep:
    threshold: float
    score: float


def sweep(
    rows: Sequence[ScoredRows], scores: Sequence[Sequence[float]], profile: CostProfile
) -> list[Sweep]:
    """Raw corpus score at every distinct threshold (detections: anomaly score >= threshold)."""
    points: list[tuple[float, float, tuple[int, int] | None]] = []
    parts: dict[tuple[int, int], float] = {}
    for s, (labelled, values) in enumerate(zip(rows, scores, strict=True)):
        if len(labelled.window) != len(values):
            raise ValueError(f"{labelled.series}: {len(values)} scores for {len(labelled.window)}")
        for i, (window, position) in enumerate(
            zip(labelled.window, labelled.position, strict=True)
        ):
            if window == -1:
                continue
            if window is None:
                points.append((values[i], position * profile.fp, None))
            else:
                key = (s, window)
                parts[key] = -profile.fn
                points.append((values[i], position * profile.tp / MAX_TP, key))
    points.sort(key=lambda p: -p[0])
    fp_total = 0.0
    window_total = sum(parts.values())
    result: list[Sweep] = []
    threshold = math.inf
    for value, weighted, where in points:
        if value != threshold:
            result.append(Sweep(threshold, fp_total + window_total))
            threshold = value
        if where is None:
            fp_total += weighted
        elif weighted > parts[where]:
            window_total += weighted - parts[where]
            parts[where] = weighted
    result.append(Sweep(threshold, fp_total + window_total))
    return result


def score_at(
    rows: Sequence[ScoredRows],
    scores: Sequence[Sequence[float]],
    profile: CostProfile,
    threshold: float,
) -> float:
    """Raw corpus score with one fixed threshold."""
    total = 0.0
    for labelled, values in zip(rows, scores, strict=True):
        best: dict[int, float] = {}
        for value, window, position in zip(values, labelled.window, labelled.position, strict=True):
            if window == -1 or value < threshold:
                continue
            if window is None:
                total += position * profile.fp
            else:
                weighted = position * profile.tp / MAX_TP
                best[window] = max(best.get(window, -math.inf), weighted)
        scored_windows = {w for w in labelled.window if w is not None and w != -1}
        for window in scored_windows:
            total += best.get(window, -profile.fn)
    return total


def best_threshold(
    rows: Sequence[ScoredRows], scores: Sequence[Sequence[float]], profile: CostProfile
) -> Sweep:
    """NAB's optimiser: the threshold with the best raw score over the whole corpus."""
    return max(sweep(rows, scores, profile), key=lambda s: s.score)


def normalised(raw: float, rows: Sequence[ScoredRows], profile: CostProfile) -> float:
    """100 for a perfect detector, 0 for one that never detects."""
    windows = sum(r.windows for r in rows)
    null = -profile.fn * windows
    perfect = profile.tp * windows
    return 100.0 * (raw - null) / (perfect - null)
