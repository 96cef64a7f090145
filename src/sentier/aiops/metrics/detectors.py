"""Streaming anomaly detection on univariate series: a point in, a score out, bounded memory.

Four views of each point, all constant-time per point and bounded in memory:

- *Surprise* (the raw score): how improbable the value is against a slow exponentially-
  weighted mean and variance, or, once timestamps have filled an hour-of-day bucket,
  against that hour's own mean and variance (daily seasonality: the evening peak is not an
  anomaly); and how improbable the step from the previous value is (spikes, drops, level
  shifts). The stronger of the two, in decades of improbability, squashed into [0, 1).
- *Likelihood* of the recent surprise: the average raw score of the last ``average`` points
  against the distribution of that average so far (an exponentially-weighted mean and
  variance, so memory stays constant). This is Numenta's "anomaly likelihood" post-process,
  which NAB's best detectors share: a noisy series, always a little surprising, stops
  alarming; a quiet one alarms on a small but sustained change. Only the first point of a
  run of "red" likelihoods counts as red (NuPIC's filter), so one episode gives one alarm.
- *Range*: a value beyond everything seen so far by more than ``spatial_tolerance`` of the
  range is an anomaly at once (Numenta's "spatial anomaly" of its NAB detector), scored
  from 0.5 at the tolerance to 1 a whole range beyond.
- *Shape* (``shapes.py``): whether the last few dozen points draw a shape this series has
  never drawn (an adaptive-resonance memory of strided windows, after ARTime). A novel shape
  alarms only if one point of its last stride is itself somewhat surprising (raw score at
  least ``shape_corroboration``): on steady noise, random windows are "new" now and then.

The score is ``log(1 - likelihood) / log(1e-10)``, in [0, 1]: 0.5 is a likelihood of
0.99999 (one chance in 100,000, the alarm level, fixed in advance); range and shape scores
are on the same scale (0.5 at their own alarm level). One problem, one alarm: after an
alarm, none for ``rest_share`` of the probation, unless a score beats the resting alarm's by
``rest_breakthrough`` (a record followed by a real spike: both are reported).

The *probation* is the number of points the detector learns from before its shape memory
speaks (NAB gives each detector its file's probationary period, 15% of the file); its
stride, learnt range and rest follow it. Nothing is scored during the warm-up. Defaults are
data (``detector-defaults.yaml``).
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
from sentier.aiops.metrics.shapes import ShapeMemory

_SQRT2 = math.sqrt(2.0)
MAX_EVIDENCE = 300.0
_LOG_FLOOR = math.log(1e-10)  # log(1 - likelihood) at the most extreme likelihood we express
_NULL = (0.5, 1000.0)  # NuPIC's "no information" distribution: every average is ordinary


@dataclass(frozen=True)
class DetectorSettings:
    baseline_alpha: float = 0.001
    season_alpha: float = 0.05
    season_min: int = 5
    evidence_scale: float = 10.0
    average: int = 20
    learning: int = 288
    estimation: int = 100
    memory: int = 2000
    reestimate: int = 100
    red: float = 0.99999
    yellow: float = 0.999
    spatial_tolerance: float = 0.02
    spatial_warmup: int = 100
    flat_variance: float = 1.5e-5
    alarm: float = 0.5
    rest_share: float = 0.1
    rest_breakthrough: float = 0.3
    probation: int = 600
    shape_strides: int = 104
    shape_window: int = 8
    shape_levels: int = 80
    shape_deadband: float = 0.075
    shape_vigilance: float = 0.8
    shape_rise: float = 0.2
    shape_fall: float = 0.5
    shape_quiet: int = 12
    shape_breakthrough: float = 0.7
    shape_breakthrough_masked: float = 0.9
    shape_capacity: int = 256
    shape_evidence: float = 0.3
    shape_corroboration: float = 0.3

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorSettings:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise AIOpsError(f"unknown detector settings: {', '.join(sorted(unknown))}")
        try:
            settings = cls(**{k: type(getattr(cls(), k))(v) for k, v in data.items()})
        except (TypeError, ValueError) as error:
            raise AIOpsError(f"bad detector settings: {error}") from error
        if settings.average < 1 or settings.memory < 1 or not 0.0 < settings.alarm <= 1.0:
            raise AIOpsError("bad detector settings: average and memory >= 1, 0 < alarm <= 1")
        settings._check_shapes()
        return settings

    def _check_shapes(self) -> None:
        """Bounds of the probation and the shape memory (its size is memory per series)."""
        window = self.shape_window
        bounds = (
            ("probation", 1 <= self.probation <= 1_000_000, "between 1 and 1,000,000"),
            ("rest_share", 0.0 <= self.rest_share <= 1.0, "between 0 and 1"),
            ("rest_breakthrough", self.rest_breakthrough >= 0.0, "0 or more"),
            ("shape_strides", 1 <= self.shape_strides <= self.probation, "between 1 and probation"),
            ("shape_window", 2 <= window <= 64 and window & (window - 1) == 0, "2, 4, ... 64"),
            ("shape_levels", 1 <= self.shape_levels <= 1000, "between 1 and 1,000"),
            ("shape_capacity", 1 <= self.shape_capacity <= 4096, "between 1 and 4,096"),
            ("shape_deadband", 0.0 <= self.shape_deadband <= 1.0, "between 0 and 1"),
            ("shape_vigilance", 0.0 < self.shape_vigilance <= 1.0, "in (0, 1]"),
            ("shape_rise", 0.0 <= self.shape_rise <= 1.0, "between 0 and 1"),
            ("shape_fall", 0.0 <= self.shape_fall <= 1.0, "between 0 and 1"),
            ("shape_evidence", self.shape_evidence > 0.0, "above 0"),
        )
        for name, ok, expected in bounds:
            if not ok:
                raise AIOpsError(f"bad detector settings: {name} must be {expected}", field=name)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def warmup(self) -> int:
        """Points learnt before the likelihood speaks."""
        return self.learning + self.estimation


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


def log_score(likelihood: float) -> float:
    """NuPIC's ``computeLogLikelihood``: 0.5 at 0.99999, 1.0 at 1 - 1e-10 and beyond."""
    return min(1.0, math.log(1.0000000001 - likelihood) / _LOG_FLOOR)


_LEVEL, _HOUR, _STEP, _RANGE, _SHAPE = range(5)
_REASONS = (
    "unusual level",
    "unusual level for the hour of day",
    "sudden change",
    "beyond the range seen so far",
    "unusual shape",
)


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
        "_average",
        "_averaged",
        "_count",
        "_delta_mean",
        "_delta_var",
        "_distribution",
        "_forget",
        "_high",
        "_lik_count",
        "_lik_mean",
        "_lik_var",
        "_low",
        "_mean",
        "_previous",
        "_previous_tail",
        "_quiet",
        "_rest",
        "_rest_score",
        "_ring",
        "_ring_at",
        "_season",
        "_shape",
        "_shape_span",
        "_stride",
        "_stride_raw",
        "_value_mean",
        "_value_var",
        "_var",
        "_warmup",
        "settings",
    )

    def __init__(
        self, settings: DetectorSettings | None = None, probation: int | None = None
    ) -> None:
        self.settings = settings or default_settings()
        self._shape = ShapeMemory(self.settings, probation or self.settings.probation)
        self._shape_span = self._shape.stride * self.settings.shape_window
        self._stride = self._shape.stride
        self._stride_raw = 0.0  # the most surprising value of the current stride
        self._warmup = self.settings.warmup
        # one problem, one alarm: quiet for a share of the probation (of a NAB file's length)
        self._rest = round(self.settings.rest_share * self._shape.probation)
        self._rest_score = 0.0
        self._forget = 1.0 / self.settings.memory
        self._count = 0
        self._mean = 0.0
        self._var = 0.0
        self._delta_mean = 0.0
        self._delta_var = 0.0
        self._previous = 0.0
        self._low = math.inf
        self._high = -math.inf
        self._season: dict[int, list[float]] = {}  # hour -> [count, mean, var]: 24 at most
        # likelihood: a ring of the last ``average`` raw scores and their running sum
        self._ring = [0.0] * self.settings.average
        self._ring_at = 0
        self._average = 0.0
        self._averaged = 0
        self._lik_count = 0
        self._lik_mean = 0.0
        self._lik_var = 0.0
        self._value_mean = 0.0
        self._value_var = 0.0
        self._distribution = _NULL
        self._previous_tail = 1.0
        self._quiet = 0

    @property
    def count(self) -> int:
        return self._count

    def score(self, value: float, timestamp: datetime | float | None = None) -> float:
        """The point's score in [0, 1] (0.5 is the alarm level)."""
        return self._step(value, timestamp)[0]

    def step(self, value: float, timestamp: datetime | float | None = None) -> tuple[float, bool]:
        """The point's score and whether it raises an alarm, without the reason (for bulk
        scoring: the same computation as :meth:`update`)."""
        score, alarm, _, _ = self._step(value, timestamp)
        return score, alarm

    def update(self, value: float, timestamp: datetime | float | None = None) -> Detection:
        score, alarm, evidence, why = self._step(value, timestamp)
        if why == _SHAPE:
            reason = f"unusual shape of the last {self._shape_span} points"
        else:
            reason = _REASONS[why]
            if why < _RANGE and score >= self.settings.alarm:
                reason = (
                    f"{reason}, sustained over the last {min(self._count, self._averaged)} points"
                )
        return Detection(score, alarm, evidence, reason)

    def _step(
        self, value: float, timestamp: datetime | float | None
    ) -> tuple[float, bool, float, int]:
        """Score one point: (score, alarm, evidence, reason code). One function, locals only:
        this runs for every point of every series."""
        if value != value or value == math.inf or value == -math.inf:  # NaN or infinite
            raise AIOpsError(f"not a finite number: {value!r}", field="value")
        s = self.settings
        n = self._count = self._count + 1
        if n == 1:
            self._mean = self._previous = self._low = self._high = value
        # -- surprise: the level (or the hour's level) and the step, in decades
        mean, var = self._mean, self._var
        deviation = value - mean if value >= mean else mean - value
        z = deviation / math.sqrt(var) if var > 0.0 else (0.0 if deviation == 0.0 else 50.0)
        why = _LEVEL
        if timestamp is not None:
            hour = (
                timestamp.hour
                if type(timestamp) is datetime and timestamp.tzinfo is None
                else _hour(timestamp)
            )
            bucket = self._season.get(hour)
            if bucket is None:
                self._season[hour] = [1.0, value, 0.0]
            else:
                if bucket[0] >= s.season_min:
                    deviation = abs(value - bucket[1])
                    z = (
                        deviation / math.sqrt(bucket[2])
                        if bucket[2] > 0.0
                        else (0.0 if deviation == 0.0 else 50.0)
                    )
                    why = _HOUR
                bucket[0] += 1.0
                alpha = 1.0 / bucket[0]
                if alpha < s.season_alpha:
                    alpha = s.season_alpha
                delta = value - bucket[1]
                bucket[1] += alpha * delta
                bucket[2] = (1.0 - alpha) * (bucket[2] + alpha * delta * delta)
        step = value - self._previous
        step_mean, step_var = self._delta_mean, self._delta_var
        deviation = abs(step - step_mean)
        z_step = (
            deviation / math.sqrt(step_var)
            if step_var > 0.0
            else (0.0 if deviation == 0.0 else 50.0)
        )
        if z_step > z:
            z, why = z_step, _STEP
        alpha = 1.0 / n
        if alpha < s.baseline_alpha:
            alpha = s.baseline_alpha
        delta = value - mean
        self._mean = mean + alpha * delta
        self._var = (1.0 - alpha) * (var + alpha * delta * delta)
        delta = step - step_mean
        self._delta_mean = step_mean + alpha * delta
        self._delta_var = (1.0 - alpha) * (step_var + alpha * delta * delta)
        self._previous = value
        evidence = _tail_decades(z) if z > 0.0 else 0.0
        raw = evidence / (evidence + s.evidence_scale)
        # -- likelihood of the recent average surprise, against this series' history of it
        ring, slot = self._ring, self._ring_at
        self._average += raw - ring[slot]
        ring[slot] = raw
        slot += 1
        self._ring_at = 0 if slot == len(ring) else slot
        averaged = self._averaged
        if averaged < len(ring):
            averaged = self._averaged = averaged + 1
        average = self._average / averaged
        score = 0.0
        warmup = self._warmup
        if n > warmup:
            if n == warmup + 1 or n % s.reestimate == 0:
                self._estimate()
            center, spread = self._distribution
            reflected = average if average >= center else 2.0 * center - average
            tail = 0.5 * math.erfc((reflected - center) / spread / _SQRT2)
            red = 1.0 - s.red
            filtered = tail
            if tail <= red and self._previous_tail <= red:
                filtered = 1.0 - s.yellow  # still red: not a new alarm
            self._previous_tail = tail
            score = log_score(1.0 - filtered)
        alpha = 1.0 / n
        if alpha < self._forget:
            alpha = self._forget
        delta = value - self._value_mean
        self._value_mean += alpha * delta
        self._value_var = (1.0 - alpha) * (self._value_var + alpha * delta * delta)
        if n > s.learning:
            count = self._lik_count = self._lik_count + 1
            alpha = 1.0 / count
            if alpha < self._forget:
                alpha = self._forget
            delta = average - self._lik_mean
            self._lik_mean += alpha * delta
            self._lik_var = (1.0 - alpha) * (self._lik_var + alpha * delta * delta)
        # -- range: beyond everything seen, by more than the tolerance
        low, high = self._low, self._high
        if n > s.spatial_warmup and high > low:
            margin = (high - low) * s.spatial_tolerance
            if value > high + margin or value < low - margin:
                # graded by how far beyond: 0.5 at the tolerance, 1 at a whole range beyond
                beyond = (value - high if value > high else low - value) / (high - low)
                score, why = min(1.0, 0.5 + 0.5 * beyond), _RANGE
        if value < low:
            self._low = value
        elif value > high:
            self._high = value
        # -- shape: a window unlike any the series has drawn, with a value it finds surprising
        novelty = self._shape.update(value)
        if raw > self._stride_raw:
            self._stride_raw = raw
        if novelty > 0.0 or n % self._stride == 0:
            if novelty > 0.0 and self._stride_raw >= s.shape_corroboration:
                shape_score = novelty / (novelty + s.shape_evidence)
                if shape_score > score:
                    score, why = shape_score, _SHAPE
            self._stride_raw = 0.0
        # -- one problem, one alarm (unless a much stronger one comes while resting)
        alarm = False
        if self._quiet > 0:
            self._quiet -= 1
            if score >= s.alarm and score >= self._rest_score + s.rest_breakthrough:
                alarm = True
                self._quiet = self._rest
                self._rest_score = score
        elif score >= s.alarm:
            alarm = True
            self._quiet = self._rest
            self._rest_score = score
        return score, alarm, evidence, why

    def _estimate(self) -> None:
        """Refresh the distribution the recent surprise is judged against (every
        ``reestimate`` points, as NuPIC does: an episode does not instantly excuse itself)."""
        s = self.settings
        if self._value_var < s.flat_variance:
            self._distribution = _NULL  # a flat series: no surprise is meaningful
        else:
            # NuPIC's floors: a series that was never surprising is not infinitely sure
            self._distribution = (
                max(self._lik_mean, 0.03),
                math.sqrt(max(self._lik_var, 0.0003)),
            )


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
