"""What follows new billing: anomalies detected and budgets checked, each event sent once.

Run after every ingestion that landed lines (by the API's ingestion job and by the demo), so
that budget crossings and anomalies are announced when the data arrives rather than when
someone happens to look.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from sentier.finops.anomalies import detect_and_record
from sentier.finops.budgets import check_budgets
from sentier.finops.facts import Facts
from sentier.finops.ownership import CatalogSnapshot
from sentier.finops.rules import AllocationRules


def steer(
    session: Session, facts: Facts, snapshot: CatalogSnapshot, rules: AllocationRules
) -> dict[str, Any]:
    """Detect and record anomalies, check every budget for the latest month; counts of both."""
    anomalies = detect_and_record(session, facts, snapshot, rules)
    budgets = check_budgets(session, facts, snapshot, rules)
    return {
        "anomalies_new": len(anomalies["new"]),
        "anomalies_known": len(anomalies["known"]),
        "budgets_checked": len(budgets),
        "budget_thresholds_crossed": sum(len(b["crossed"]) for b in budgets),
    }
