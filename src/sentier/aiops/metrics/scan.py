"""Running the detectors over ingested samples: anomalies per series, as plain data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sentier.aiops.metrics.detectors import DetectorBank, DetectorSettings
from sentier.aiops.metrics.ingest import Sample


@dataclass(frozen=True, slots=True)
class Anomaly:
    series: str
    name: str
    labels: dict[str, str]
    timestamp: datetime | None
    value: float
    score: float
    reason: str
    line: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "name": self.name,
            "labels": self.labels,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "value": self.value,
            "score": round(self.score, 4),
            "reason": self.reason,
            "line": self.line,
        }


@dataclass
class SeriesSummary:
    series: str
    points: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)


def scan_samples(
    samples: Iterable[Sample],
    *,
    settings: DetectorSettings | None = None,
    threshold: float | None = None,
) -> dict[str, SeriesSummary]:
    """Score every sample in order. Without ``threshold``, the anomalies are the alarms (the
    first point of each episode); with one, every point scoring at least that much."""
    bank = DetectorBank(settings)
    summaries: dict[str, SeriesSummary] = {}
    for sample in samples:
        key = sample.series
        summary = summaries.get(key)
        if summary is None:
            summary = summaries[key] = SeriesSummary(key)
        summary.points += 1
        detection = bank.update(key, sample.value, sample.timestamp)
        if detection.alarm if threshold is None else detection.score >= threshold:
            summary.anomalies.append(
                Anomaly(
                    key,
                    sample.name,
                    dict(sample.labels),
                    sample.timestamp,
                    sample.value,
                    detection.score,
                    detection.reason,
                    sample.line,
                )
            )
    return summaries
