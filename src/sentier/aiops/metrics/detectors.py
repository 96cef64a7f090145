"""Streaming anomaly detection on univariate series: a point in, a score out, O(1) memory.

Why this ensemble: each part catches what the others miss, and all are constant-time.

- *Level*: how improbable the value is against a slow exponentially-weighted mean and
  variance, or, once timestamps have filled an hour-of-day bucket, against that hour's own
  mean and variance (daily seasonality: the evening peak is not an anomaly).
- *Change*: how improbable the step from the previous value is (spikes, sudden drops).
- *Novelty*: how rarely the series moved from the previous value bin to this one (bins over
  the range seen); a contextual anomaly has ordinary values in an unusual order.

Evidence is measured in decades of improbability (``-log10 p``) and the strongest part wins.
Evidence beyond ``alarm`` raises an alarm, after which the detector rests for ``rest`` points
(one problem, one alarm: a storm of repeated alarms is what operators learn to ignore). The
score ``e / (e + alarm)`` is in [0, 1), monotone in the evidence, and 0.5 exactly at the alarm
level, which is the threshold to use when none was chosen.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from sentier.aiops.errors import AIOpsError

_SQRT2 = math.sqrt(2.0)
MAX_EVIDENCE = 300.0


@dataclass(frozen=True)
class DetectorSettings:
    baseline_alpha: float = 0.001
    season_alpha: float = 0.05
    season_min: int = 5
    bins: int = 20
    novelty_smoothing: float = 0.1
    novelty_weight: float = 2.0
    alarm: float = 10.0
    rest: int = 200
    warmup: int = 100

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise AIOpsError(f"unknown detector settings: {', '.join(sorted(unknown))}")
        try:
            return cls(**{k: type(getattr(cls(), k))(v) for k, v in data.items()})
        except (TypeError, ValueError) as error:
            raise AIOpsError(f"bad detector settings: {error}") from error

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def default_settings() -> DetectorSettings:
    """The shipped defaults (``detector-defaults.yaml``)."""
    text = resources.files("sentier.aiops.metrics").joinpath("detector-defaults.yaml")
    return DetectorSettings.from_dict(yaml.safe_load(text.read_text(encoding="utf-8")))


def _tail_decades(z: float) -> float:
    """-log10 of the two-sided normal tail beyond ``z`` standard deviations."""
    if z <= 0.0:
        return 0.0
    if z > 37.0:
        # erfc underflows; the log tail is asymptotically z^2 / (2 ln 10) + log10(z sqrt(2pi))
        return min(MAX_EVIDENCE, z * z / (2 * math.log(10)) + math.log10(z * 2.5066282746))
    return -math.log10(max(math.erfc(z / _SQRT2) * 0.5, 1e-300))


@dataclass(frozen=True, slots=True)
class Detection:
    """One scored point; ``alarm`` is set on the first point of each raised alarm."""

    score: float
    alarm: bool
    evidence: float
    reason: str


class SeriesDetector:
    """The detector of ONE series; feed points in time order with :meth:`update`."""

    __slots__ = (
        "_bins_seen",
        "_context",
        "_count",
        "_delta_mean",
        "_delta_var",
        "_high",
        "_low",
        "_mean",
        "_previous",
        "_quiet",
        "_season",
        "_totals",
        "_transitions",
        "_var",
        "settings",
    )

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or default_settings()
        self._count = 0
        self._mean = 0.0
        self._var = 0.0
        self._delta_mean = 0.0
        self._delta_var = 0.0
        self._previous = 0.0
        self._low = math.inf
        self._high = -math.inf
        self._context = 0
        self._transitions: dict[tuple[int, int], int] = {}
        self._totals: dict[int, int] = {}
        self._season: dict[int, list[float]] = {}  # hour -> [count, mean, var]
        self._quiet = 0
        self._bins_seen = 0

    @property
    def count(self) -> int:
        return self._count

    def score(self, value: float, timestamp: datetime | float | None = None) -> float:
        """The point's score in [0, 1) (0.5 is the alarm level)."""
        return self.update(value, timestamp).score

    def update(self, value: float, timestamp: datetime | float | None = None) -> Detection:
        if value != value or value in (math.inf, -math.inf):  # NaN or infinite
            raise AIOpsError(f"not a finite number: {value!r}", field="value")
        s = self.settings
        self._count += 1
        n = self._count
        if n == 1:
            self._mean = self._previous = self._low = self._high = value
        # -- level: against the hour of day when it is known and trusted, else the baseline
        z = _z(value, self._mean, self._var)
        reason = "level"
        if timestamp is not None:
            hour = _hour(timestamp)
            bucket = self._season.get(hour)
            if bucket is None:
                self._season[hour] = [1.0, value, 0.0]
            else:
                if bucket[0] >= s.season_min:
                    z = _z(value, bucket[1], bucket[2])
                    reason = "level for the hour of day"
                bucket[0] += 1.0
                alpha = max(s.season_alpha, 1.0 / bucket[0])
                delta = value - bucket[1]
                bucket[1] += alpha * delta
                bucket[2] = (1.0 - alpha) * (bucket[2] + alpha * delta * delta)
        # -- change: the step from the previous point
        step = value - self._previous
        z_step = _z(step, self._delta_mean, self._delta_var)
        if z_step > z:
            z, reason = z_step, "sudden change"
        evidence = _tail_decades(z)
        # -- novelty: the transition between value bins
        if value < self._low:
            self._low = value
        if value > self._high:
            self._high = value
        span = self._high - self._low
        current = min(int((value - self._low) / span * s.bins), s.bins - 1) if span > 0 else 0
        key = (self._context, current)
        seen = self._transitions.get(key, 0)
        total = self._totals.get(self._context, 0)
        novelty = -math.log10((seen + s.novelty_smoothing) / (total + s.novelty_smoothing * s.bins))
        self._transitions[key] = seen + 1
        self._totals[self._context] = total + 1
        self._context = current
        if s.novelty_weight * novelty > evidence:
            evidence, reason = s.novelty_weight * novelty, "unusual sequence"
        # -- learn
        alpha = max(s.baseline_alpha, 1.0 / n)
        delta = value - self._mean
        self._mean += alpha * delta
        self._var = (1.0 - alpha) * (self._var + alpha * delta * delta)
        delta = step - self._delta_mean
        self._delta_mean += alpha * delta
        self._delta_var = (1.0 - alpha) * (self._delta_var + alpha * delta * delta)
        self._previous = value
        # -- alarm and rest
        alarm = False
        if n <= s.warmup:
            evidence = 0.0
        elif self._quiet > 0:
            self._quiet -= 1
            evidence = min(evidence, s.alarm * 0.5)
        elif evidence >= s.alarm:
            alarm = True
            self._quiet = s.rest
        return Detection(evidence / (evidence + s.alarm), alarm, evidence, reason)


def _z(value: float, mean: float, var: float) -> float:
    deviation = abs(value - mean)
    if var > 0.0:
        return deviation / math.sqrt(var)
    return 0.0 if deviation == 0.0 else 50.0


def _hour(timestamp: datetime | float) -> int:
    if isinstance(timestamp, datetime):
        return timestamp.hour if timestamp.tzinfo is None else timestamp.astimezone(UTC).hour
    return int(timestamp // 3600) % 24


class DetectorBank:
    """One detector per series key, created on first sight (for many series at once)."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or default_settings()
        self._detectors: dict[str, SeriesDetector] = {}

    def update(
        self, series: str, value: float, timestamp: datetime | float | None = None
    ) -> Detection:
        detector = self._detectors.get(series)
        if detector is None:
            detector = self._detectors[series] = SeriesDetector(self.settings)
        return detector.update(value, timestamp)

    def __len__(self) -> int:
        return len(self._detectors)
