"""The Loghub metrics on hand-computed cases."""

from __future__ import annotations

import pytest

from sentier.aiops import grouping, pairwise, parsing_accuracy, template_accuracy


def test_grouping_accuracy_compares_members_not_names() -> None:
    truth = ["a", "a", "b", "b", "c"]
    predicted = [7, 7, 8, 8, 8]  # b and c merged: only a's two lines are right
    score = grouping(truth, predicted)
    assert score.ga == pytest.approx(2 / 5)
    assert score.pga == pytest.approx(1 / 2)
    assert score.rga == pytest.approx(1 / 3)
    assert score.fga == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert grouping(truth, ["x", "x", "y", "y", "z"]).ga == 1.0


def test_parsing_and_template_accuracy() -> None:
    truth = ["send <*>", "send <*>", "stop"]
    assert parsing_accuracy(truth, ["send  <*>", "send <*>", "stop now"]) == pytest.approx(2 / 3)
    # group 1 right and templated right; group 2 right but templated wrong
    assert template_accuracy(truth, [1, 1, 2], ["send <*>", "send <*>", "halt"]) == pytest.approx(
        0.5
    )


def test_pairwise_f1() -> None:
    score = pairwise(["a", "a", "a", "b"], [1, 1, 2, 2])
    # true pairs: 3 (aa); predicted pairs: 2; together: 1
    assert score.precision == pytest.approx(1 / 2)
    assert score.recall == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        pairwise(["a"], [])
