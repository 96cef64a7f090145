"""The detector on series a person can picture: steady, seasonal, a spike, a level shift."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sentier.aiops import AIOpsError
from sentier.aiops.metrics import DetectorSettings, SeriesDetector, default_settings
from sentier.aiops.metrics.detectors import log_score

RANGE = "beyond the range seen so far"


def run(
    values: list[float], stamps: list[datetime] | None = None, **settings: float
) -> list[tuple[int, str]]:
    detector = SeriesDetector(replace(default_settings(), **settings))
    alarms = []
    for index, value in enumerate(values):
        detection = detector.update(value, stamps[index] if stamps else None)
        if detection.alarm:
            alarms.append((index, detection.reason))
    return alarms


def noisy(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [100 + rng.gauss(0, 2) for _ in range(n)]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_steady_noise_only_ever_alarms_on_a_new_record(seed: int) -> None:
    # Noise is never "unlikely" for long; what remains is the odd new all-time extreme.
    alarms = run(noisy(3000, seed))
    assert len(alarms) <= 3 and all(reason == RANGE for _, reason in alarms)
    # A wider tolerance (per-source settings) silences most of them.
    assert len(run(noisy(3000, seed), spatial_tolerance=0.1)) <= 1


def test_a_spike_raises_an_alarm_where_it_is() -> None:
    values = noisy(2000)
    values[1500] = 160
    assert (1500, RANGE) in run(values)


def test_a_level_shift_raises_an_alarm_at_once_not_a_storm() -> None:
    values = noisy(3000)
    values[2000:] = [v + 40 for v in values[2000:]]
    after = [index for index, _ in run(values) if index >= 2000]
    assert after[0] == 2000 and len(after) <= 3


def test_sustained_oddness_inside_the_range_is_found_by_its_likelihood() -> None:
    values = noisy(3000, seed=2)
    values[50], values[51] = 140, 60  # an early excursion: the range is wide from then on
    for index in range(2500, 2540):
        values[index] += 6 if index % 2 else -6
    # shape alarms off (no raw surprise reaches 2): the likelihood alone finds it
    ((index, reason),) = run(values, shape_corroboration=2.0)
    assert 2500 <= index <= 2510 and reason.endswith("sustained over the last 20 points")
    # with them, the new zig-zag is also a shape never drawn: one alarm all the same
    ((index, reason),) = run(values)
    assert 2500 <= index <= 2510 and reason in (
        "unusual shape of the last 40 points",
        "sudden change, sustained over the last 20 points",
    )


def test_daily_seasonality_is_not_an_anomaly_but_an_evening_peak_is() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [start + timedelta(minutes=15 * i) for i in range(96 * 30)]
    rng = random.Random(3)
    values = [
        100 + 50 * math.sin(2 * math.pi * (t.hour * 60 + t.minute) / 1440) + rng.gauss(0, 3)
        for t in stamps
    ]
    assert run(values, stamps) == []
    evening = next(i for i, t in enumerate(stamps) if t.day == 25 and t.hour == 18)
    values[evening] = 140  # a value of the morning peak at the evening low: inside the range
    ((index, reason),) = run(values, stamps)
    assert evening <= index <= evening + 1 and "sustained" in reason


def test_scores_are_bounded_silent_in_warm_up_and_half_at_the_alarm() -> None:
    detector = SeriesDetector()
    values = noisy(3000)
    values[2500] = 200
    scores = [detector.score(v) for v in values]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores[:100] == [0.0] * 100  # warm-up
    assert scores[2500] == 1.0
    assert log_score(0.99999) == pytest.approx(0.5, abs=1e-4)
    assert default_settings().alarm == 0.5


def test_bad_values_and_settings_are_explained() -> None:
    with pytest.raises(AIOpsError):
        SeriesDetector().update(float("nan"))
    with pytest.raises(AIOpsError):
        DetectorSettings.from_dict({"nonsense": 1})
    with pytest.raises(AIOpsError, match="average"):
        DetectorSettings.from_dict({"average": 0})
