"""Billing with known answers for the API test catalog (team-a > team-a1, team-b, shop)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Engine

from sentier.finops import ingest
from tests.finops.finops_helpers import line, write_focus

FULL = {"environment": "production"}


def known_lines() -> list[dict[str, object]]:
    """August and September 2024; totals per owner below (EffectiveCost, USD).

    | owner          | Aug | Sep |
    | team-a (own)   | 100 | 145 |  (Sep: 120 by team tag + 25 via the checkout component)
    | team-a1        |  50 |  60 |
    | team-b         |  30 |  30 |
    | unallocated    |   0 |  40 |
    """
    return [
        line(
            day="2024-08-10",
            cost="100",
            ResourceId="i-checkout",
            tags={"team": "team-a", "service": "checkout", **FULL},
        ),
        line(
            day="2024-08-11",
            cost="50",
            ResourceId="db-orders",
            ServiceName="Amazon RDS",
            ServiceCategory="Databases",
            tags={"team": "team-a1", "service": "orders-db", **FULL},
        ),
        line(day="2024-08-12", cost="30", ResourceId="i-billing", tags={"team": "team-b"}),
        line(
            day="2024-09-10",
            cost="120",
            ResourceId="i-checkout",
            tags={"team": "team-a", "service": "checkout", **FULL},
        ),
        line(day="2024-09-11", cost="25", ResourceId="i-checkout-2", tags={"service": "checkout"}),
        line(
            day="2024-09-11",
            cost="60",
            ResourceId="db-orders",
            ServiceName="Amazon RDS",
            ServiceCategory="Databases",
            tags={"team": "team-a1", "service": "orders-db", **FULL},
        ),
        line(day="2024-09-12", cost="30", ResourceId="i-billing", tags={"team": "team-b"}),
        line(day="2024-09-13", cost="40", ResourceId="i-stray"),
    ]


def spiky_lines(spike: date = date(2024, 9, 24)) -> list[dict[str, object]]:
    """Five weeks of daily cost for team-a, cheaper at weekends, and one runaway resource."""
    rows = []
    day = date(2024, 8, 20)
    while day <= date(2024, 9, 30):
        base = (20 if day.weekday() >= 5 else 40) + (day.day * 7) % 5  # a little noise
        rows.append(
            line(day=day.isoformat(), cost=str(base), ResourceId="i-web", tags={"team": "team-a"})
        )
        rows.append(
            line(day=day.isoformat(), cost="10", ResourceId="i-worker", tags={"team": "team-a"})
        )
        if day == spike:
            rows.append(
                line(
                    day=day.isoformat(), cost="400", ResourceId="i-runaway", tags={"team": "team-a"}
                )
            )
        day += timedelta(days=1)
    return rows


def ingest_known(engine: Engine, directory: Path) -> Path:
    path = write_focus(directory / "billing.csv", known_lines())
    report = ingest(engine, [path])
    assert report.ok, [str(p) for f in report.files for p in f.errors]
    return path
