"""Novelty of a series' recent shape: a fuzzy adaptive-resonance memory of short windows.

The value detector (``detectors.py``) asks how improbable each point is; this one asks
whether the last few dozen points draw a shape the series has never drawn. It follows the
design of ARTime (Mark Hampton's NAB detector, on Carpenter and Grossberg's fuzzy adaptive
resonance theory and dual-vigilance ART): strided extremes, levels snapped to the median,
level and Haar features, the similarity below, alarms at the onset of novelty. The code is
written anew (ARTime is AGPL: none of it is copied), with a vigilance rule of its own and
without ARTime's look at each file's minimum and maximum; its constants started from
ARTime's and were checked or chosen on the tuning half of NAB (``bench/nab.py``).

- *Strides*: the series is cut into strides of ``stride`` points; each stride keeps its most
  extreme value (the one farthest from a fast running mean), so a one-point spike survives.
- *Levels*: the stride value in units of the range seen while learning, rounded to
  ``1 / levels``; anything within ``deadband`` of the running median level is the median
  (noise around the usual level is not a shape). Levels run from -1 to 2: beyond the learnt
  range stays distinguishable.
- *Shapes*: the last ``window`` levels, beside their Haar transform scaled to [0, 1] (the
  same shape at another level), complement-coded for a fuzzy ART memory.
- *Resonance*: each stored category is a box; the similarity of a window to a box is its
  fuzzy subsethood, cubed, times the match of the current level, squared. At or above the
  upper vigilance the window joins every box it resonates with (the boxes grow); below it a
  new box is stored; below the lower vigilance the window is *novel*.
- *Vigilance* follows the series: the upper one is the mean similarity so far; the lower one
  moves towards the lowest similarity of the recent past, slowly up (``rise``) and faster
  down (``fall``), and never under the mean similarity of past alarms.
- *Alarm*: a novel window after ``quiet`` strides without novelty (the onset of an episode),
  or one much less familiar than the last alarm (``breakthrough``). Its evidence is how far
  below the lower vigilance the similarity fell: ``(lower - s) / (1 - s)``.

Memory is bounded by ``capacity`` boxes (the least recently resonating is replaced): 256
boxes of 32 numbers by default, about 70 KiB per series with the scratch space. Cost: a few
numpy operations once per stride (one stride is ``probation / strides`` points, 5 by default).
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentier.aiops.metrics.detectors import DetectorSettings

_LOW, _HIGH = -1.0, 2.0  # levels kept, in units of the learnt range
_ROOT_HALF = math.sqrt(0.5)


def haar(values: list[float]) -> list[float]:
    """Full Haar decomposition of ``values`` (a power of two long, less their minimum),
    scaled to [0, 1]: the shape of the window whatever its level and height (a positive
    scale of the input cancels in the final scaling)."""
    low = min(values)
    if max(values) <= low:
        return [0.0] * len(values)
    if len(values) == 8:  # the default window, unrolled
        a, b, c, d, e, f, g, h = (v - low for v in values)
        s1, s2, s3, s4 = (
            (a + b) * _ROOT_HALF,
            (c + d) * _ROOT_HALF,
            (e + f) * _ROOT_HALF,
            (g + h) * _ROOT_HALF,
        )
        t1, t2 = (s1 + s2) * _ROOT_HALF, (s3 + s4) * _ROOT_HALF
        out = [
            (t1 + t2) * _ROOT_HALF,
            (t1 - t2) * _ROOT_HALF,
            (s1 - s2) * _ROOT_HALF,
            (s3 - s4) * _ROOT_HALF,
            (a - b) * _ROOT_HALF,
            (c - d) * _ROOT_HALF,
            (e - f) * _ROOT_HALF,
            (g - h) * _ROOT_HALF,
        ]
    else:
        out = [v - low for v in values]
        size = len(out)
        while size > 1:
            evens, odds = out[0:size:2], out[1:size:2]
            half = size >> 1
            out[half:size] = [(x - y) * _ROOT_HALF for x, y in zip(evens, odds, strict=True)]
            out[:half] = [(x + y) * _ROOT_HALF for x, y in zip(evens, odds, strict=True)]
            size = half
    low = min(out)
    span = max(out) - low
    if span <= 0.0:
        return [0.0] * len(out)
    scale = 1.0 / span
    return [(v - low) * scale for v in out]


class ShapeMemory:
    """The shape memory of ONE series; :meth:`update` takes every point in time order and
    returns the evidence of a novel shape (> 0) on the point that completes it, else 0."""

    __slots__ = (
        "_alarm_mean",
        "_alarms",
        "_batch",
        "_block",
        "_block_high",
        "_block_low",
        "_block_sum",
        "_boxes",
        "_coded",
        "_common",
        "_count",
        "_fast",
        "_high",
        "_inverse_energy",
        "_inverse_norm",
        "_last_alarm",
        "_last_alarm_similarity",
        "_last_novel",
        "_last_update",
        "_learn",
        "_low",
        "_lower",
        "_median",
        "_median_below",
        "_median_counts",
        "_median_total",
        "_recent",
        "_sim_count",
        "_sim_mean",
        "_size",
        "_snap",
        "_steps",
        "_upper",
        "_used",
        "_window",
        "probation",
        "settings",
        "stride",
    )

    def __init__(self, settings: DetectorSettings, probation: int) -> None:
        s = settings
        self.settings = s
        self.probation = probation
        self.stride = max(1, probation // s.shape_strides)
        self._learn = max(s.shape_window + 1, probation // self.stride)  # strides learnt first
        self._count = 0
        self._block = 0
        self._block_sum = 0.0
        self._block_high = -math.inf
        self._block_low = math.inf
        self._fast = math.nan
        self._low = math.inf
        self._high = -math.inf
        self._median_counts = [0] * (round((_HIGH - _LOW) * s.shape_levels) + 1)
        self._median = -1
        self._median_below = 0
        self._median_total = 0
        self._snap = s.shape_deadband * s.shape_levels  # in levels
        self._window: deque[float] = deque(maxlen=s.shape_window)
        self._steps = 0
        self._batch: list[list[float]] | None = []
        # boxes are columns (one row per coordinate: shape, levels, then their complements)
        self._boxes = np.empty((4 * s.shape_window, 16), dtype=np.float32)
        self._common = np.empty_like(self._boxes)
        self._coded = np.empty(4 * s.shape_window, dtype=np.float32)
        self._inverse_norm = np.empty(16, dtype=np.float32)
        self._inverse_energy = np.empty(16, dtype=np.float32)
        self._used = np.empty(16)
        self._size = 0
        self._upper = self._lower = s.shape_vigilance
        self._sim_mean = 0.0
        self._sim_count = 0
        self._recent: deque[float] = deque(maxlen=self._learn // 2 + 1)
        self._alarms = 0
        self._alarm_mean = 0.0
        self._last_alarm = -(10**9)
        self._last_alarm_similarity = 0.0
        self._last_novel = -(10**9)
        self._last_update = 0

    @property
    def boxes(self) -> int:
        return self._size

    def update(self, value: float) -> float:
        self._count += 1
        if self._count <= self.probation:
            if value < self._low:
                self._low = value
            if value > self._high:
                self._high = value
        self._block += 1
        self._block_sum += value
        if value > self._block_high:
            self._block_high = value
        if value < self._block_low:
            self._block_low = value
        if self._block < self.stride:
            return 0.0
        mean = self._block_sum / self._block
        high, low = self._block_high, self._block_low
        self._block, self._block_sum = 0, 0.0
        self._block_high, self._block_low = -math.inf, math.inf
        fast = self._fast = mean if self._fast != self._fast else 0.5 * (self._fast + mean)
        return self._stride(high if abs(high - fast) >= abs(low - fast) else low)

    def _stride(self, value: float) -> float:
        s = self.settings
        span = self._high - self._low
        level = (value - self._low) / (span if span > 0.0 else 1.0)
        scale = s.shape_levels
        index = round((min(_HIGH, max(_LOW, level)) - _LOW) * scale)
        median = self._push_median(index)
        if abs(index - median) < self._snap:
            index = median
        window = self._window
        window.append(index / scale + _LOW)
        self._steps += 1
        if len(window) < s.shape_window:
            return 0.0
        shape = list(window)
        features = haar(shape) + shape
        batch = self._batch
        if batch is None:
            return self._judge(features)
        batch.append(features)
        if self._steps >= self._learn:
            self._batch = None
            for learnt in batch:
                self._resonate(learnt)
            self._last_novel = self._steps  # judging starts after a quiet stretch
        return 0.0

    def _push_median(self, index: int) -> int:
        """Insert a level into the running median (a histogram of levels) and return it."""
        counts = self._median_counts
        counts[index] += 1
        self._median_total += 1
        if self._median < 0:
            self._median = index
        elif index < self._median:
            self._median_below += 1
        rank = (self._median_total - 1) // 2
        while rank < self._median_below:
            self._median -= 1
            self._median_below -= counts[self._median]
        while rank >= self._median_below + counts[self._median]:
            self._median_below += counts[self._median]
            self._median += 1
        return self._median

    def _resonate(self, features: list[float]) -> float:
        """Present one window to the memory, learn it, and return its best similarity
        (which also feeds the statistics the vigilances follow)."""
        coded = self._coded
        half = len(features)
        coded[:half] = features
        np.subtract(1.0, coded[:half], out=coded[half:])
        size = self._size
        if size == 0:
            self._store(coded)
            return 1.0
        common = self._common[:, :size]
        np.minimum(self._boxes[:, :size], coded[:, None], out=common)
        first, last = half - 1, 2 * half - 1  # the current level and its complement
        similarity = common.sum(axis=0)
        similarity *= self._inverse_norm[:size]
        cube = similarity * similarity
        similarity *= cube
        energy = common[first] + common[last]
        energy *= self._inverse_energy[:size]
        energy *= energy
        similarity *= energy
        best = int(similarity.argmax())
        top = float(similarity[best])
        if top >= self._upper:
            grown = np.flatnonzero(similarity >= self._upper)
            if len(grown) == 1:  # only the best box resonates
                self._learn_box(best, common[:, best])
            else:  # fast learning: each box shrinks to what it shares with the window
                learnt = common[:, grown]
                self._boxes[:, grown] = learnt
                self._inverse_norm[grown] = 1.0 / np.maximum(learnt.sum(axis=0), 1e-3)
                self._inverse_energy[grown] = 1.0 / np.maximum(learnt[first] + learnt[last], 1e-9)
                self._used[grown] = self._steps
        else:
            self._store(coded)
        self._sim_count += 1
        self._sim_mean += (top - self._sim_mean) / self._sim_count
        self._recent.append(top)
        return top

    def _learn_box(self, index: int, learnt: np.ndarray) -> None:
        """Fast learning: the box shrinks to what it shares with the window (it grows)."""
        self._boxes[:, index] = learnt
        half = len(learnt) // 2
        self._inverse_norm[index] = 1.0 / max(float(learnt.sum()), 1e-3)
        self._inverse_energy[index] = 1.0 / max(float(learnt[half - 1] + learnt[-1]), 1e-9)
        self._used[index] = self._steps

    def _store(self, coded: np.ndarray) -> None:
        slot = self._size
        if slot == self._boxes.shape[1]:
            if slot >= self.settings.shape_capacity:
                slot = int(self._used[:slot].argmin())  # the least recently resonating goes
            else:
                self._grow()
        half = len(coded) // 2
        self._boxes[:, slot] = coded
        self._inverse_norm[slot] = 1.0 / max(float(coded.sum()), 1e-3)
        self._inverse_energy[slot] = 1.0 / max(float(coded[half - 1] + coded[-1]), 1e-9)
        self._used[slot] = self._steps
        if slot == self._size:
            self._size += 1

    def _grow(self) -> None:
        width = min(2 * self._boxes.shape[1], max(self.settings.shape_capacity, 16))
        boxes = np.empty((self._boxes.shape[0], width), dtype=np.float32)
        boxes[:, : self._size] = self._boxes[:, : self._size]
        self._boxes, self._common = boxes, np.empty_like(boxes)
        for name in ("_inverse_norm", "_inverse_energy", "_used"):
            old = getattr(self, name)
            new = np.empty(width, dtype=old.dtype)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)

    def _judge(self, features: list[float]) -> float:
        s = self.settings
        step = self._steps
        lower = self._lower
        similarity = self._resonate(features)
        evidence = 0.0
        since_alarm = step - self._last_alarm
        if similarity < lower:  # novel
            masked = since_alarm <= s.shape_quiet
            quiet = step - self._last_novel > s.shape_quiet
            bar = s.shape_breakthrough_masked if masked else s.shape_breakthrough
            if (quiet and not masked) or similarity < self._last_alarm_similarity * bar:
                capped = min(similarity, 0.999)
                evidence = max((lower - capped) / (1.0 - capped), 1e-6)
                self._last_alarm = step
                self._last_alarm_similarity = similarity
                self._alarms += 1
                self._alarm_mean += (similarity - self._alarm_mean) / self._alarms
            self._last_novel = step
        if step - self._last_update >= self._learn // 2 or since_alarm == s.shape_quiet:
            self._adapt(step)
        return evidence

    def _adapt(self, step: int) -> None:
        """Move the vigilances after the series (see the module docstring)."""
        s = self.settings
        self._upper = self._sim_mean
        target = min(self._recent)
        rate = s.shape_rise if target > self._lower else s.shape_fall
        lower = self._lower + rate * (target - self._lower)
        if self._alarms:
            lower = max(lower, self._alarm_mean)
        self._lower = min(self._upper, lower)
        self._last_update = step
        self._last_novel = step  # a new vigilance must first meet a quiet stretch
