"""The shape memory: a series' usual shapes are learnt, a shape it never drew is novel."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sentier.aiops import AIOpsError
from sentier.aiops.metrics import DetectorSettings, SeriesDetector, default_settings
from sentier.aiops.metrics.shapes import ShapeMemory, haar


def saw(n: int, seed: int = 1, period: int = 40) -> list[float]:
    """A rising ramp that falls back every ``period`` points, with a little noise."""
    rng = random.Random(seed)
    return [10 + (i % period) + rng.gauss(0, 0.3) for i in range(n)]


def novel_points(values: list[float], probation: int = 600) -> list[int]:
    memory = ShapeMemory(default_settings(), probation)
    return [i for i, v in enumerate(values) if memory.update(v) > 0.0]


def test_a_learnt_rhythm_is_not_novel_but_a_reversed_ramp_is() -> None:
    values = saw(4000)
    assert novel_points(values) == []
    # one period runs backwards: the same values, in the same range, another shape
    values[3000:3040] = [10 + 39 - (i % 40) for i in range(40)]
    found = novel_points(values)
    assert found and 3000 <= found[0] <= 3040


def workdays(seed: int = 2) -> tuple[list[datetime], list[float]]:
    """Five-minute points: 20 at night, 80 from 8:00 to 20:00; on the 11th day only 50."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    stamps = [start + timedelta(minutes=5 * i) for i in range(288 * 14)]
    values = []
    for t in stamps:
        day = 50 if t.day == 11 else 80
        values.append((day if 8 <= t.hour < 20 else 20) + rng.gauss(0, 1))
    return stamps, values


def first_alarm_on_day_11(probation: int | None = None, **settings: float) -> tuple[str, str]:
    stamps, values = workdays()
    detector = SeriesDetector(replace(default_settings(), **settings), probation)
    for stamp, value in zip(stamps, values, strict=True):
        detection = detector.update(value, stamp)
        if detection.alarm and stamp.day == 11:
            return stamp.strftime("%H:%M"), detection.reason
    return "", ""


def test_a_low_day_is_an_unusual_shape_at_once_before_the_likelihood_sees_it() -> None:
    assert first_alarm_on_day_11() == ("08:15", "unusual shape of the last 40 points")
    # without shapes (no raw surprise reaches 2), the likelihood needs half an hour more
    assert first_alarm_on_day_11(shape_corroboration=2.0) == (
        "08:45",
        "unusual level for the hour of day, sustained over the last 20 points",
    )


def test_the_stride_follows_the_probation() -> None:
    settings = default_settings()
    assert ShapeMemory(settings, 600).stride == 600 // settings.shape_strides
    assert ShapeMemory(settings, 169).stride == 1  # a short NAB file: every point is a stride
    _, reason = first_alarm_on_day_11(probation=750)
    assert reason == f"unusual shape of the last {750 // settings.shape_strides * 8} points"


def test_memory_stays_bounded_on_endless_novelty() -> None:
    settings = replace(default_settings(), shape_capacity=32)
    memory = ShapeMemory(settings, 200)
    rng = random.Random(7)
    for _ in range(20_000):
        memory.update(rng.uniform(0, 100))
    assert memory.boxes == 32


def test_haar_sees_the_shape_not_the_level_or_height() -> None:
    window = [0.0, 1.0, 3.0, 2.0, 2.0, 5.0, 4.0, 1.0]
    shape = haar(window)
    assert min(shape) == 0.0 and max(shape) == 1.0
    assert haar([10 + 3 * v for v in window]) == pytest.approx(shape)
    assert haar([2.0] * 8) == [0.0] * 8
    assert haar([0.0, 1.0, 0.0, 1.0]) == pytest.approx(haar([5.0, 9.0, 5.0, 9.0]))


def test_a_strong_alarm_breaks_through_the_rest_of_a_weak_one() -> None:
    rng = random.Random(3)
    values = [100 + rng.gauss(0, 1) for _ in range(2000)]
    values[1500] = 104  # a modest new record...
    values[1510] = 160  # ...and, ten points later, within its rest, a real spike
    detector = SeriesDetector()
    alarms = [i for i, v in enumerate(values) if detector.update(v).alarm]
    assert 1510 in alarms
    quiet = SeriesDetector(replace(default_settings(), rest_breakthrough=10.0))
    assert 1510 not in [i for i, v in enumerate(values) if quiet.update(v).alarm]


def test_steady_seasonal_and_noisy_series_stay_quiet_for_long() -> None:
    rng = random.Random(11)
    values = [100 + 20 * math.sin(2 * math.pi * i / 96) + rng.gauss(0, 1) for i in range(6000)]
    detector = SeriesDetector()
    reasons = [detector.update(v).reason for v in values]
    assert not any(reason.startswith("unusual shape") for reason in reasons)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"shape_window": 6}, "shape_window"),
        ({"shape_capacity": 100_000}, "shape_capacity"),
        ({"probation": 0}, "probation"),
        ({"rest_share": 2}, "rest_share"),
        ({"shape_strides": 10_000}, "shape_strides"),
    ],
)
def test_bad_shape_settings_name_the_field(settings: dict[str, float], field: str) -> None:
    with pytest.raises(AIOpsError, match=field):
        DetectorSettings.from_dict(settings)


def test_the_old_rest_in_points_is_refused_by_name() -> None:
    with pytest.raises(AIOpsError, match="unknown detector settings: rest"):
        DetectorSettings.from_dict({"rest": 20})
