"""Metric anomalies: streaming detectors, sample ingestion, and NAB's scoring."""

from sentier.aiops.metrics.detectors import (
    Detection,
    DetectorBank,
    DetectorSettings,
    SeriesDetector,
    default_settings,
)
from sentier.aiops.metrics.ingest import (
    IngestReport,
    Sample,
    parse_csv,
    parse_prometheus,
    parse_text,
    parse_timestamp,
)
from sentier.aiops.metrics.nab_score import (
    CostProfile,
    ScoredRows,
    best_threshold,
    label_rows,
    normalised,
    profiles,
    score_at,
    sweep,
)
from sentier.aiops.metrics.scan import Anomaly, SeriesSummary, scan_samples

__all__ = [
    "Anomaly",
    "CostProfile",
    "Detection",
    "DetectorBank",
    "DetectorSettings",
    "IngestReport",
    "Sample",
    "ScoredRows",
    "SeriesDetector",
    "SeriesSummary",
    "best_threshold",
    "default_settings",
    "label_rows",
    "normalised",
    "parse_csv",
    "parse_prometheus",
    "parse_text",
    "parse_timestamp",
    "profiles",
    "scan_samples",
    "score_at",
    "sweep",
]
