"""Grouping and parsing accuracy as the Loghub papers define them, shared by every benchmark.

Logs (templates) and incidents (alerts grouped into incidents) are both "put these items into
groups": the same scorer judges both, so the figures are comparable.

- GA: share of items whose predicted group holds exactly the items of their true group.
- FGA: F1 of the share of predicted groups that are exactly right, and of true groups found.
- PA: share of items whose predicted template equals the true one (whitespace normalised).
- FTA: F1 over groups both exactly grouped and exactly templated.
- pairwise precision/recall/F1: over every pair of items, "same group" agreement.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class GroupingScore:
    ga: float
    fga: float
    pga: float
    rga: float
    true_groups: int
    predicted_groups: int
    correct_groups: int


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _members(labels: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label].append(index)
    return groups


def _correct_true_groups(
    truth: Sequence[Hashable], predicted: Sequence[Hashable]
) -> list[tuple[Hashable, list[int]]]:
    """True groups whose members form exactly one predicted group (and nothing more)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predicted")
    predicted_sizes = Counter(predicted)
    correct = []
    for label, members in _members(truth).items():
        first = predicted[members[0]]
        if predicted_sizes[first] == len(members) and all(predicted[i] == first for i in members):
            correct.append((label, members))
    return correct


def grouping(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> GroupingScore:
    """GA and FGA of ``predicted`` group labels against ``truth`` (labels compared by members)."""
    if not truth:
        return GroupingScore(1.0, 1.0, 1.0, 1.0, 0, 0, 0)
    correct = _correct_true_groups(truth, predicted)
    lines = sum(len(members) for _, members in correct)
    true_groups = len(set(truth))
    predicted_groups = len(set(predicted))
    pga = len(correct) / predicted_groups
    rga = len(correct) / true_groups
    return GroupingScore(
        lines / len(truth),
        _f1(pga, rga),
        pga,
        rga,
        true_groups,
        predicted_groups,
        len(correct),
    )


def _norm(template: str) -> str:
    return " ".join(template.split())


def parsing_accuracy(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """PA: share of lines whose template string is exactly right."""
    if not truth:
        return 1.0
    return sum(_norm(a) == _norm(b) for a, b in zip(truth, predicted, strict=True)) / len(truth)


def template_accuracy(
    truth: Sequence[str], predicted_groups: Sequence[Hashable], predicted: Sequence[str]
) -> float:
    """FTA: F1 over groups that are exactly grouped AND exactly templated."""
    if not truth:
        return 1.0
    correct = 0
    for _label, members in _correct_true_groups(truth, predicted_groups):
        first = members[0]
        if _norm(truth[first]) == _norm(predicted[first]):
            correct += 1
    precision = correct / len(set(predicted_groups))
    recall = correct / len(set(truth))
    return _f1(precision, recall)


@dataclass(frozen=True)
class PairwiseScore:
    precision: float
    recall: float
    f1: float


def pairwise(truth: Sequence[Hashable], predicted: Sequence[Hashable]) -> PairwiseScore:
    """Precision/recall/F1 over item pairs put together, computed from group sizes (no n²)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} true labels but {len(predicted)} predicted")

    def pairs(counts: Counter[Hashable]) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    together = pairs(Counter(zip(truth, predicted, strict=True)))
    predicted_pairs = pairs(Counter(predicted))
    true_pairs = pairs(Counter(truth))
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / true_pairs if true_pairs else 1.0
    return PairwiseScore(precision, recall, _f1(precision, recall))
