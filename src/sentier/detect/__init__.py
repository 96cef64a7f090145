"""Detection rules as code: Sigma rules run on what sentier receives, as a stream and as SQL.

Public names of the detection domain; other packages import from here only.
"""

from sentier.detect.engine import Detection, RuleIndex, StreamEngine, window_of
from sentier.detect.errors import DetectError
from sentier.detect.hunt import HuntEngine, HuntResult, correlation_sql, records_table, rule_sql
from sentier.detect.records import LineReader, Record, from_cloudevent, from_document
from sentier.detect.rules import (
    Correlation,
    Rule,
    RuleInfo,
    RuleSet,
    load_rules,
    shipped_rules_dir,
)
from sentier.detect.testing import TestOutcome, run_rule_tests

__all__ = [
    "Correlation",
    "DetectError",
    "Detection",
    "HuntEngine",
    "HuntResult",
    "LineReader",
    "Record",
    "Rule",
    "RuleIndex",
    "RuleInfo",
    "RuleSet",
    "StreamEngine",
    "TestOutcome",
    "correlation_sql",
    "from_cloudevent",
    "from_document",
    "load_rules",
    "records_table",
    "rule_sql",
    "run_rule_tests",
    "shipped_rules_dir",
    "window_of",
]
