"""NAB's scoring rules on a tiny hand-computed corpus."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sentier.aiops.metrics import best_threshold, label_rows, normalised, profiles, score_at
from sentier.aiops.metrics.nab_score import MAX_TP, probation_length, scaled_sigmoid

START = datetime(2024, 1, 1)
STAMPS = [START + timedelta(minutes=i) for i in range(100)]
WINDOW = [(STAMPS[50], STAMPS[59])]  # rows 50..59; probation is rows 0..14


def test_sigmoid_matches_the_published_anchors() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(3.0) == -1.0
    assert probation_length(100) == 15
    assert probation_length(100_000) == 750


def test_earliest_detection_scores_one_and_misses_cost_one() -> None:
    rows = label_rows("s", STAMPS, WINDOW)
    standard = profiles()["standard"]
    early = [0.0] * 100
    early[50] = 1.0
    assert score_at([rows], [early], standard, 0.5) == pytest.approx(1.0)
    assert normalised(1.0, [rows], standard) == pytest.approx(100.0)
    nothing = [0.0] * 100
    assert score_at([rows], [nothing], standard, 0.5) == pytest.approx(-1.0)
    assert normalised(-1.0, [rows], standard) == pytest.approx(0.0)


def test_late_detection_and_false_positives() -> None:
    rows = label_rows("s", STAMPS, WINDOW)
    standard = profiles()["standard"]
    scores = [0.0] * 100
    scores[59] = 0.9  # last row of the window: position -1/10
    scores[20] = 0.8  # before any window: full false positive
    scores[5] = 1.0  # in probation: ignored
    expected_tp = scaled_sigmoid(-1 / 10) / MAX_TP
    assert score_at([rows], [scores], standard, 0.5) == pytest.approx(expected_tp - 0.11)
    # the optimiser prefers 0.9 (only the detection) over 0.8 (detection + false positive)
    best = best_threshold([rows], [scores], standard)
    assert best.threshold == 0.9
    assert best.score == pytest.approx(expected_tp)
    # a false positive right after the window costs less than one far away
    after = [0.0] * 100
    after[61] = 1.0
    near = score_at([rows], [after], standard, 0.5)
    assert near == pytest.approx(-1.0 + 0.11 * scaled_sigmoid(2 / 9) * -1 * -1)
