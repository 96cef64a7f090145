"""Cost anomalies: a day whose cost, for one owner and service, breaks its weekly pattern.

Each daily series is decomposed with STL (seasonal-trend decomposition by LOESS, period 7,
robust) from statsmodels; a day is anomalous when its residual exceeds ``threshold`` robust
standard deviations (1.4826 x the median absolute deviation of the residuals) and the excess
is material (``min_amount`` and ``min_share`` of the expected cost). Weekends being cheaper is
thus not an anomaly; a Tuesday costing three Tuesdays is. Each anomaly is explained by the
resources whose cost that day moved most against their usual cost.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.finops.allocation import mapping_table
from sentier.finops.columns import LINE_KEY, PERIOD
from sentier.finops.facts import Facts
from sentier.finops.ownership import UNALLOCATED, CatalogSnapshot
from sentier.finops.reports import Scope, mapping_for
from sentier.finops.rules import AllocationRules
from sentier.finops.timeseries import Daily, daily_costs, dense

MIN_DAYS = 21


@dataclass
class Anomaly:
    owner_ref: str
    service: str
    currency: str
    day: date
    actual: Decimal
    expected: Decimal
    score: float
    drivers: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "owner": self.owner_ref,
            "service": self.service,
            "currency": self.currency,
            "day": self.day,
            "actual": self.actual,
            "expected": self.expected,
            "excess": self.actual - self.expected,
            "score": round(self.score, 2),
            "drivers": self.drivers,
        }


def stl_scores(values: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Expected values and robust z-scores of residuals of one daily series."""
    from statsmodels.tsa.seasonal import STL

    series = np.asarray(values, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = STL(series, period=7, robust=True).fit()
    expected = fit.trend + fit.seasonal
    residual = series - expected
    mad = float(np.median(np.abs(residual - np.median(residual))))
    scale = max(1.4826 * mad, 1e-9, 0.01 * float(np.mean(np.abs(series))))
    return expected, residual / scale


def detect(
    daily: Daily,
    *,
    threshold: float = 4.0,
    min_amount: Decimal = Decimal("1"),
    min_share: float = 0.2,
    since: date | None = None,
) -> list[Anomaly]:
    """Anomalous (owner, service, day) of usage-based cost, most striking first."""
    if daily.first_day is None or daily.last_day is None:
        return []
    series = daily.series(
        lambda r: (r["owner_ref"], r.get("ServiceName") or "(none)", r["currency"]),
        usage_only=True,
    )
    found = []
    for (owner, service, currency), values in series.items():
        if owner is None:
            continue
        first = min(values)
        points = dense(values, first, daily.last_day)
        if len(points) < MIN_DAYS:
            continue
        expected, scores = stl_scores(points)
        for index, score in enumerate(scores):
            day = first + timedelta(days=index)
            if since is not None and day < since:
                continue
            actual = Decimal(str(points[index])).quantize(Decimal("0.01"))
            baseline = Decimal(str(max(expected[index], 0.0))).quantize(Decimal("0.01"))
            excess = actual - baseline
            if (
                score >= threshold
                and excess >= min_amount
                and float(excess) >= min_share * max(float(baseline), 0.01)
            ):
                found.append(
                    Anomaly(owner, service, currency, day, actual, baseline, float(score), [])
                )
    found.sort(key=lambda a: (-(a.actual - a.expected), a.day))
    return found


def explain(
    facts: Facts,
    mapping: Any,
    anomaly: Anomaly,
    *,
    baseline_days: int = 14,
    top: int = 5,
) -> list[dict[str, Any]]:
    """The resources whose cost on the anomaly's day moved most against their usual day."""
    lines = facts.lines()
    start = anomaly.day - timedelta(days=baseline_days)
    end = anomaly.day + timedelta(days=1)
    window = lines.filter((lines.ChargePeriodStart >= start) & (lines.ChargePeriodStart < end))
    summed = window.group_by(
        [window[PERIOD], window[LINE_KEY], window.ChargePeriodStart.date().name("day")]
    ).aggregate(cost=window.EffectiveCost.sum())
    keys = facts.keys().select(PERIOD, LINE_KEY, "ResourceId", "ServiceName", "BillingCurrency")
    joined = summed.join(keys, [PERIOD, LINE_KEY]).join(mapping, LINE_KEY)
    joined = joined.filter(
        (joined.owner_ref == anomaly.owner_ref)
        & (joined.ServiceName.fill_null("(none)") == anomaly.service)
        & (joined.BillingCurrency == anomaly.currency)
    )
    per_day = joined.group_by(["ResourceId", "day"]).aggregate(cost=joined.cost.sum())
    frame = per_day.to_pandas()
    totals: dict[str, dict[str, Decimal]] = {}
    for record in frame.to_dict("records"):
        resource = record["ResourceId"] if isinstance(record["ResourceId"], str) else "(none)"
        entry = totals.setdefault(resource, {"actual": Decimal(0), "before": Decimal(0)})
        day = record["day"]
        if isinstance(day, datetime):
            day = day.date()
        if day == anomaly.day:
            entry["actual"] += Decimal(str(record["cost"]))
        else:
            entry["before"] += Decimal(str(record["cost"]))
    drivers = []
    for resource, values in totals.items():
        usual = (values["before"] / baseline_days).quantize(Decimal("0.01"))
        actual = values["actual"].quantize(Decimal("0.01"))
        drivers.append(
            {"resource_id": resource, "actual": actual, "usual": usual, "delta": actual - usual}
        )
    drivers.sort(key=lambda d: -Decimal(str(d["delta"])))
    return drivers[:top]


def detect_and_record(
    session: Session,
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    threshold: float = 4.0,
    since: date | None = None,
    scope: Scope | None = None,
) -> dict[str, Any]:
    """Detect anomalies, explain and store the new ones, and emit one event each.

    Returns ``{"new": [...], "known": [...]}``; an anomaly already stored (same owner, service
    and day) is not announced again, so running detection daily is safe.
    """
    from sentier import events
    from sentier.events import types as event_types
    from sentier.store.models import FinopsAnomaly

    daily = daily_costs(facts, snapshot, rules, scope=scope)
    found = detect(daily, threshold=threshold, since=since)
    mapping = mapping_table(mapping_for(facts, snapshot, rules))
    new: list[dict[str, Any]] = []
    known: list[dict[str, Any]] = []
    pending = []
    for anomaly in found:
        existing = session.scalar(
            select(FinopsAnomaly).where(
                FinopsAnomaly.owner_ref == anomaly.owner_ref,
                FinopsAnomaly.service == anomaly.service,
                FinopsAnomaly.day == anomaly.day,
            )
        )
        if existing is not None:
            anomaly.drivers = list(existing.drivers or [])
            known.append(anomaly.as_dict())
            continue
        anomaly.drivers = explain(facts, mapping, anomaly)
        stored_drivers = [
            {k: (str(v) if isinstance(v, Decimal) else v) for k, v in d.items()}
            for d in anomaly.drivers
        ]
        session.add(
            FinopsAnomaly(
                owner_ref=anomaly.owner_ref,
                service=anomaly.service,
                day=anomaly.day,
                currency=anomaly.currency,
                actual=anomaly.actual,
                expected=anomaly.expected,
                score=anomaly.score,
                drivers=stored_drivers,
            )
        )
        data = anomaly.as_dict()
        pending.append(
            events.PendingEvent(
                event_types.FINOPS_ANOMALY_DETECTED,
                f"finops:anomaly:{anomaly.owner_ref}:{anomaly.service}:{anomaly.day.isoformat()}",
                _jsonable(data),
                owner_ref=None if anomaly.owner_ref == UNALLOCATED else anomaly.owner_ref,
            )
        )
        new.append(data)
    if pending:
        events.record_many(session, pending)
    return {"new": new, "known": known}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def stored_anomalies(session: Session, *, since: date | None = None) -> list[dict[str, Any]]:
    """Anomalies recorded so far, newest day first."""
    from sentier.store.models import FinopsAnomaly

    query = select(FinopsAnomaly).order_by(FinopsAnomaly.day.desc(), FinopsAnomaly.id)
    if since is not None:
        query = query.where(FinopsAnomaly.day >= since)
    return [
        {
            "owner": a.owner_ref,
            "service": a.service,
            "currency": a.currency,
            "day": a.day,
            "actual": a.actual,
            "expected": a.expected,
            "excess": a.actual - a.expected,
            "score": round(a.score, 2),
            "drivers": a.drivers or [],
        }
        for a in session.scalars(query)
    ]
