"""The detector on series a person can picture: steady, seasonal, a spike, a level shift."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from sentier.aiops import AIOpsError
from sentier.aiops.metrics import DetectorSettings, SeriesDetector, default_settings


def run(values: list[float], stamps: list[datetime] | None = None) -> list[int]:
    detector = SeriesDetector()
    alarms = []
    for index, value in enumerate(values):
        stamp = stamps[index] if stamps else None
        if detector.update(value, stamp).alarm:
            alarms.append(index)
    return alarms


def noisy(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [100 + rng.gauss(0, 2) for _ in range(n)]


def test_steady_noise_raises_no_alarm() -> None:
    assert run(noisy(3000)) == []


def test_a_spike_raises_one_alarm_where_it_is() -> None:
    values = noisy(2000)
    values[1500] = 160
    assert run(values) == [1500]


def test_a_level_shift_raises_one_alarm_not_a_storm() -> None:
    values = noisy(3000)
    values[2000:] = [v + 40 for v in values[2000:]]
    alarms = run(values)
    assert alarms and alarms[0] == 2000
    assert len(alarms) <= 3


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
    values[evening] = 140  # a value of the morning peak at the evening low
    assert evening in run(values, stamps)


def test_scores_are_bounded_and_half_at_the_alarm() -> None:
    detector = SeriesDetector()
    scores = [detector.score(v) for v in noisy(500)]
    assert all(0.0 <= s < 1.0 for s in scores)
    assert scores[:100] == [0.0] * 100  # warm-up
    settings = default_settings()
    assert settings.alarm / (settings.alarm + settings.alarm) == 0.5


def test_bad_values_and_settings_are_explained() -> None:
    with pytest.raises(AIOpsError):
        SeriesDetector().update(float("nan"))
    with pytest.raises(AIOpsError):
        DetectorSettings.from_dict({"nonsense": 1})
