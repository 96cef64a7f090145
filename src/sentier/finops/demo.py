"""The demo's FinOps: its billing ingested with its allocation rules, budgets, steering run.

``sentier demo up`` calls ``load_demo_billing`` once the demo catalog is in: the portal then
shows allocation (shared support plan, redistributed unused Savings Plan), budgets in every
state and the explained cost spike. Re-running it is harmless: ingestion replaces the same
slices, budgets and files a user changed are left alone, events are not sent twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from sentier.finops.budgets import add_budget, list_budgets
from sentier.finops.facts import Facts
from sentier.finops.ingest import ingest
from sentier.finops.ownership import load_snapshot
from sentier.finops.reports import showback
from sentier.finops.rules import load_rules
from sentier.finops.steering import steer

# Budget name -> (scope, budget / the latest month's spend): one over, one close, one at ease.
DEMO_BUDGETS = {
    "search": ("group:default/team-search", Decimal("0.93")),
    "data": ("group:default/team-data", Decimal("1.07")),
    "storefront": ("system:default/storefront", Decimal("2.2")),
}


@dataclass
class DemoFinops:
    """What the step did, for the command's output."""

    rows: int = 0
    files: int = 0
    installed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    budgets: list[str] = field(default_factory=list)
    steering: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"demo billing: {self.rows:,} lines from {self.files} files"]
        if self.installed:
            parts.append(f"installed {', '.join(self.installed)}")
        if self.kept:
            parts.append(f"kept your own {', '.join(self.kept)}")
        if self.budgets:
            parts.append(f"budgets {', '.join(self.budgets)}")
        parts.append(
            f"{self.steering.get('anomalies_new', 0)} new anomalies, "
            f"{self.steering.get('budget_thresholds_crossed', 0)} budget thresholds crossed"
        )
        return "; ".join(parts)


def _install(source: Path, target: Path, report: DemoFinops) -> None:
    """Copy a demo settings file into SENTIER_HOME unless the user has one of their own."""
    text = source.read_text(encoding="utf-8")
    if target.is_file() and target.read_text(encoding="utf-8") != text:
        report.kept.append(str(target))
        return
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        report.installed.append(str(target))


def load_demo_billing(engine: Engine, directory: Path, home: Path) -> DemoFinops:
    """Ingest ``directory/billing`` with the demo's rules and KPIs, add budgets, then steer."""
    from sentier.analytics import duckdb_connection
    from sentier.store import session_scope

    report = DemoFinops()
    _install(directory / "finops" / "allocation.yaml", home / "allocation.yaml", report)
    _install(directory / "finops" / "kpis.csv", home / "kpis.csv", report)
    result = ingest(engine, [directory / "billing"])
    report.rows, report.files = result.rows, len(result.files)
    rules = load_rules()
    con = duckdb_connection()
    try:
        facts = Facts(con)
        with session_scope(engine) as session:
            snapshot = load_snapshot(session)
            existing = {b["name"] for b in list_budgets(session)}
            latest = facts.available_periods()[-1:]
            spent = showback(facts, snapshot, rules, by="owner") if latest else None
            by_system = showback(facts, snapshot, rules, by="system") if latest else None
            for name, (scope, factor) in DEMO_BUDGETS.items():
                if name in existing or spent is None or by_system is None:
                    continue
                rows = by_system["rows"] if scope.startswith("system:") else spent["rows"]
                row = next((r for r in rows if r["key"] == scope), None)
                if row is None:
                    continue
                amount = (row["periods"][latest[0]] * factor / 100).quantize(
                    Decimal(1), rounding=ROUND_CEILING
                ) * 100
                add_budget(session, name, scope, amount, row["currency"])
                report.budgets.append(name)
            report.steering = steer(session, facts, snapshot, rules)
    finally:
        con.disconnect()
    return report
