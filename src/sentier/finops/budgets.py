"""Monthly budgets per group (with its child groups) or system, and the events they raise.

``check`` compares each budget with the month's allocated cost (shared costs included) and
with the forecast month-end; each threshold crossed is stored once and announced once as a
CloudEvent (``io.sentier.finops.budget.crossed``, or ``...forecast_crossed`` when only the
forecast crosses it), in the same transaction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentier.finops.errors import FinOpsError
from sentier.finops.facts import Facts
from sentier.finops.forecast import forecast
from sentier.finops.ownership import CatalogSnapshot
from sentier.finops.reports import Scope
from sentier.finops.rules import AllocationRules
from sentier.finops.timeseries import daily_costs, month_of
from sentier.store.models import FinopsBudget, FinopsBudgetAlert

DEFAULT_THRESHOLDS = (50, 80, 100)


def budget_scope(value: str) -> str:
    """The reference a budget covers: a group (``team-a``, ``group:team-a``) or a system."""
    from sentier.catalog import RefError, parse_ref

    try:
        ref = parse_ref(value, default_kind="group")
    except RefError as error:
        raise FinOpsError(str(error), column="scope") from error
    if ref.kind not in {"group", "system"}:
        raise FinOpsError(f"a budget covers a group or a system, not a {ref.kind}", column="scope")
    return ref.key


def add_budget(
    session: Session,
    name: str,
    scope: str,
    amount: str | Decimal,
    currency: str,
    *,
    thresholds: list[int] | None = None,
    forecast_alert: bool = True,
) -> dict[str, Any]:
    """Create or update the budget ``name``."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as error:
        raise FinOpsError(f"{amount!r} is not an amount", column="amount") from error
    if value <= 0:
        raise FinOpsError("a budget amount must be positive", column="amount")
    levels = sorted(set(thresholds or DEFAULT_THRESHOLDS))
    if not levels or any(t <= 0 or t > 1000 for t in levels):
        raise FinOpsError("thresholds are percentages between 1 and 1000", column="thresholds")
    if len(currency) != 3 or not currency.isalpha():
        raise FinOpsError(f"{currency!r} is not a currency code", column="currency")
    budget = session.scalar(select(FinopsBudget).where(FinopsBudget.name == name))
    if budget is None:
        budget = FinopsBudget(name=name)
        session.add(budget)
    budget.scope_ref = budget_scope(scope)
    budget.amount = value
    budget.currency = currency.upper()
    budget.thresholds = levels
    budget.forecast_alert = forecast_alert
    session.flush()
    return _as_dict(budget)


def remove_budget(session: Session, name: str) -> bool:
    budget = session.scalar(select(FinopsBudget).where(FinopsBudget.name == name))
    if budget is None:
        return False
    session.delete(budget)
    return True


def list_budgets(session: Session) -> list[dict[str, Any]]:
    return [_as_dict(b) for b in session.scalars(select(FinopsBudget).order_by(FinopsBudget.name))]


def _as_dict(budget: FinopsBudget) -> dict[str, Any]:
    return {
        "name": budget.name,
        "scope": budget.scope_ref,
        "amount": budget.amount,
        "currency": budget.currency,
        "thresholds": list(budget.thresholds),
        "forecast_alert": budget.forecast_alert,
    }


def _in_scope(scope_ref: str, row: dict[str, Any], snapshot: CatalogSnapshot) -> bool:
    if scope_ref.startswith("system:"):
        return row.get("system_ref") == scope_ref
    owner = row.get("owner_ref")
    return bool(owner) and scope_ref in snapshot.ancestors(str(owner))


def check_budgets(
    session: Session,
    facts: Facts,
    snapshot: CatalogSnapshot,
    rules: AllocationRules,
    *,
    month: str | None = None,
    record: bool = True,
) -> list[dict[str, Any]]:
    """Status of every budget for ``month`` (default: the latest billing month with data).

    Records newly crossed thresholds and emits their events in the session's transaction;
    with ``record=False`` only reports (a page showing the status must not announce).
    """
    from sentier import events
    from sentier.events import types as event_types

    budgets = session.scalars(select(FinopsBudget).order_by(FinopsBudget.name)).all()
    if not budgets:
        return []
    months = facts.available_periods()
    month = month or (months[-1] if months else None)
    if month is None:
        return []
    year, number = (int(x) for x in month.split("-"))
    first = date(year, number, 1)
    after = date(year + (number == 12), number % 12 + 1, 1)
    start = date(first.year - (first.month <= 3), (first.month - 4) % 12 + 1, 1)
    daily = daily_costs(facts, snapshot, rules, scope=Scope(date_from=start, date_to=after))
    out = []
    pending = []
    for budget in budgets:
        rows = [r for r in daily.rows if _in_scope(budget.scope_ref, r, snapshot)]
        rows = [r for r in rows if r["currency"] == budget.currency]
        spent = sum(
            (r["effective"] for r in rows if month_of(r["day"]) == month), Decimal(0)
        ).quantize(Decimal("0.01"))
        projected = spent
        if daily.last_day is not None and month_of(daily.last_day) == month:
            from sentier.finops.timeseries import Daily

            sub = Daily(rows, daily.first_day, daily.last_day)
            predicted = forecast(sub, key=lambda r: budget.scope_ref, months=0)
            for item in predicted:
                if item["month"] == month:
                    projected = max(spent, Decimal(item["forecast"]).quantize(Decimal("0.01")))
        used = spent / budget.amount * 100
        forecast_used = projected / budget.amount * 100
        crossed = []
        for threshold in budget.thresholds:
            kind = None
            if used >= threshold:
                kind = "actual"
            elif budget.forecast_alert and forecast_used >= threshold:
                kind = "forecast"
            if kind is None:
                continue
            crossed.append({"threshold": threshold, "kind": kind})
            if not record:
                continue
            exists = session.scalar(
                select(FinopsBudgetAlert).where(
                    FinopsBudgetAlert.budget_id == budget.id,
                    FinopsBudgetAlert.month == month,
                    FinopsBudgetAlert.threshold == threshold,
                    FinopsBudgetAlert.kind == kind,
                )
            )
            if exists is not None:
                continue
            amount = spent if kind == "actual" else projected
            session.add(
                FinopsBudgetAlert(
                    budget_id=budget.id, month=month, threshold=threshold, kind=kind, amount=amount
                )
            )
            pending.append(
                events.PendingEvent(
                    event_types.FINOPS_BUDGET_CROSSED
                    if kind == "actual"
                    else event_types.FINOPS_BUDGET_FORECAST_CROSSED,
                    f"finops:budget:{budget.name}:{month}",
                    {
                        "budget": budget.name,
                        "scope": budget.scope_ref,
                        "month": month,
                        "threshold": threshold,
                        "kind": kind,
                        "amount": str(amount),
                        "budget_amount": str(budget.amount),
                        "currency": budget.currency,
                    },
                    owner_ref=budget.scope_ref if budget.scope_ref.startswith("group:") else None,
                )
            )
        out.append(
            {
                **_as_dict(budget),
                "month": month,
                "spent": spent,
                "forecast": projected,
                "used": float(used),
                "forecast_used": float(forecast_used),
                "crossed": crossed,
            }
        )
    if pending:
        events.record_many(session, pending)
    return out
