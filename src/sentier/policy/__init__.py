"""Security as code: IaC loaders, the rule engine and its packs, reporters, suppressions,
baselines, stored findings and drift detection.

Public names of the policy domain. Storage helpers (``record_scan``, ``list_findings``...)
and drift are imported on first use, so a plain scan never loads SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from sentier.policy.config import PolicyConfig, find_config, load_config
from sentier.policy.errors import PolicyError
from sentier.policy.model import LoadResult, Resource, Unknown
from sentier.policy.reporters import FORMATS, render
from sentier.policy.rules.engine import SEVERITIES, Finding, Rule, load_rules
from sentier.policy.scan import ScanResult, scan_paths
from sentier.policy.suppress import read_baseline, write_baseline

_LAZY = {
    "record_scan": "sentier.policy.store",
    "list_findings": "sentier.policy.store",
    "list_scans": "sentier.policy.store",
    "entity_summary": "sentier.policy.store",
    "count_findings": "sentier.policy.store",
    "get_scan": "sentier.policy.store",
    "entity_locations": "sentier.policy.store",
    "latest_scan_paths": "sentier.policy.store",
    "detect_drift": "sentier.policy.drift",
    "DriftReport": "sentier.policy.drift",
    "load_inventory": "sentier.policy.drift",
    "run_rule_tests": "sentier.policy.testing",
    "load_paths": "sentier.policy.loaders",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "FORMATS",
    "SEVERITIES",
    "DriftReport",
    "Finding",
    "LoadResult",
    "PolicyConfig",
    "PolicyError",
    "Resource",
    "Rule",
    "ScanResult",
    "Unknown",
    "count_findings",
    "detect_drift",
    "entity_locations",
    "entity_summary",
    "find_config",
    "get_scan",
    "latest_scan_paths",
    "list_findings",
    "list_scans",
    "load_config",
    "load_inventory",
    "load_paths",
    "load_rules",
    "read_baseline",
    "record_scan",
    "render",
    "run_rule_tests",
    "scan_paths",
    "write_baseline",
]
