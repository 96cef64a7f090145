"""AIOps: log templates, metric anomalies, alert correlation into incidents, root cause.

Subpackages: ``logs`` (template mining), ``metrics`` (streaming anomaly detection) and
``alerts`` (normalisation, correlation, incidents). Shared: the error type and the scorer.
"""

from sentier.aiops.accuracy import (
    GroupingScore,
    PairwiseScore,
    grouping,
    pairwise,
    parsing_accuracy,
    template_accuracy,
)
from sentier.aiops.errors import AIOpsError

__all__ = [
    "AIOpsError",
    "GroupingScore",
    "PairwiseScore",
    "grouping",
    "pairwise",
    "parsing_accuracy",
    "template_accuracy",
]
