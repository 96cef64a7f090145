"""What the FinOps pages and endpoints show, computed once for both.

Each function takes the request's ``Inputs`` (facts, catalog snapshot, allocation rules) and
returns plain data ready for JSON: amounts are ``Decimal`` to the cent (JSON strings, so no
float rounding creeps in), entity references stay references beside a short ``label``. The
allocation underneath is exact; rounding happens here, for display only.

Reports are cached in this process under the fingerprint of everything they depend on (the
facts' manifest version, the catalog, the rules, the tagging plan): the second view of a page
is served from memory, and a new ingestion, catalog change or rules edit changes the key.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sentier.api.problems import Problem
from sentier.auth import Principal
from sentier.finops import (
    UNALLOCATED,
    AllocationRules,
    CatalogSnapshot,
    Facts,
    FinOpsError,
    Scope,
    allocate,
    inputs_fingerprint,
    load_rules,
    load_snapshot,
    showback,
    tag_coverage,
)
from sentier.finops.timeseries import Daily

CENT = Decimal("0.01")
SNAPSHOT_KINDS = ("Group", "System", "Component", "Resource", "Domain")
T = TypeVar("T")


def cents(value: Any) -> Decimal:
    """An amount to the cent, for display (the allocation itself keeps ten decimals)."""
    if value is None:
        return Decimal("0.00")
    return Decimal(str(value)).quantize(CENT)


def label_of(key: str | None) -> str:
    """``group:default/team-a`` -> ``team-a``; other namespaces keep theirs; values as they are."""
    if not key:
        return "(none)"
    if ":" in key and "/" in key:
        namespace, name = key.split(":", 1)[1].split("/", 1)
        return name if namespace == "default" else f"{namespace}/{name}"
    return key


# -- inputs and the cache ---------------------------------------------------------------------


class _Cache:
    """A small LRU of computed reports, shared by the threads of this process."""

    def __init__(self, size: int = 96) -> None:
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]  # type: ignore[no-any-return]
        value = compute()  # outside the lock: two threads may compute, both get a right answer
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


CACHE = _Cache()


@dataclass
class Inputs:
    """What every FinOps report of one request reads."""

    facts: Facts
    snapshot: CatalogSnapshot
    rules: AllocationRules
    fingerprint: str

    def cached(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with finops_errors():
            return CACHE.get((self.fingerprint, *key), compute)

    def close(self) -> None:
        with suppress(Exception):
            self.facts.con.disconnect()


@contextmanager
def finops_errors() -> Iterator[None]:
    """A FinOps configuration the server cannot use (rules, plan, metric file) is a 409."""
    from sentier.tagging import TaggingError

    try:
        yield
    except (FinOpsError, TaggingError) as error:
        raise Problem(
            409, f"FinOps configuration on the server: {error}", slug="finops-configuration"
        ) from error


def catalog_snapshot(session: Session) -> CatalogSnapshot:
    """The catalog as allocation sees it, re-read only when the catalog changed."""
    from sentier.store.models import Entity

    count, latest = session.execute(
        select(func.count(), func.max(Entity.updated_at)).where(Entity.kind.in_(SNAPSHOT_KINDS))
    ).one()
    database = str(session.get_bind().engine.url)
    return CACHE.get(("snapshot", database, count, str(latest)), lambda: load_snapshot(session))


@contextmanager
def open_inputs(session: Session, periods: Iterable[str] | None = None) -> Iterator[Inputs]:
    """Facts (of ``periods``, default all), catalog snapshot and rules of the server."""
    from sentier.analytics import duckdb_connection
    from sentier.finops.tags import plan_or_default

    with finops_errors():
        rules = load_rules()
        plan = plan_or_default()
    snapshot = catalog_snapshot(session)
    wanted = list(periods) if periods else None
    facts = Facts(duckdb_connection(), periods=wanted, plan=plan)
    inputs = Inputs(facts, snapshot, rules, inputs_fingerprint(facts, snapshot, rules))
    try:
        yield inputs
    finally:
        inputs.close()


def scope_key(scope: Scope) -> tuple[Any, ...]:
    return (tuple(scope.periods or ()), scope.date_from, scope.date_to)


def trend(periods: list[str], values: dict[str, Decimal]) -> list[dict[str, Any]]:
    """Amount per period with its change against the period before (month over month)."""
    out: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for period in periods:
        amount = values.get(period, Decimal(0))
        change = float((amount - previous) / previous) if previous else None
        out.append({"period": period, "amount": cents(amount), "change": change})
        previous = amount
    return out


def _ref_or_none(key: str, snapshot: CatalogSnapshot) -> str | None:
    return key if key in snapshot.entities else None


def _reconciliation(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "currency": item["currency"],
            "input_effective": cents(item["input_effective"]),
            "allocated": cents(item["allocated"]),
            "unallocated": cents(item["unallocated"]),
            "difference": cents(item["difference"]),
            "input_billed": cents(item["input_billed"]),
            "billed": cents(item["billed"]),
            "balanced": bool(item["balanced"]),
        }
        for item in items
    ]


# -- showback, coverage, allocation -----------------------------------------------------------


def showback_view(inputs: Inputs, by: str, scope: Scope) -> dict[str, Any]:
    """Cost per ``by`` and period with month-over-month change, totals and reconciliation."""
    from sentier.finops.reports import dimension_column

    try:
        dimension_column(by, inputs.facts)
    except FinOpsError as error:
        raise Problem(400, str(error), slug="unknown-dimension") from error
    result = inputs.cached(
        ("showback", by, *scope_key(scope)),
        lambda: showback(inputs.facts, inputs.snapshot, inputs.rules, by=by, scope=scope),
    )
    periods: list[str] = result["periods"]
    ordered = _as_tree(result["rows"]) if by == "group" else result["rows"]
    rows = [
        {
            "key": row["key"],
            "label": label_of(row["key"]),
            "ref": _ref_or_none(row["key"], inputs.snapshot),
            "currency": row["currency"],
            "total": cents(row["total"]),
            "direct": cents(row["direct"]) if "direct" in row else None,
            "parent": row.get("parent"),
            "share": row["share"],
            "change": row["change"],
            "trend": trend(periods, row["periods"]),
            "depth": row.get("depth", 0),
        }
        for row in ordered
    ]
    return {
        "by": by,
        "periods": periods,
        "available_periods": inputs.facts.available_periods(),
        "date_from": scope.date_from,
        "date_to": scope.date_to,
        "rows": rows,
        "totals": [
            {
                "currency": currency,
                "total": cents(result["totals"][currency]),
                "trend": trend(periods, result["period_totals"].get(currency, {})),
            }
            for currency in sorted(result["totals"])
        ],
        "reconciliation": _reconciliation(result["reconciliation"]),
        "reconciled": scope.date_from is None and scope.date_to is None,
    }


def _as_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group rows parent first, each followed by its children (biggest first), with depth."""
    keys = {(r["key"], r["currency"]) for r in rows}
    children: dict[tuple[str | None, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        parent = row.get("parent")
        if (parent, row["currency"]) not in keys:
            parent = None
        children[(parent, row["currency"])].append(row)
    out: list[dict[str, Any]] = []

    def visit(parent: str | None, currency: str, depth: int) -> None:
        for row in children.get((parent, currency), []):  # already biggest first
            if any(r is row for r in out):
                continue
            out.append({**row, "depth": depth})
            visit(row["key"], currency, depth + 1)

    for currency in sorted({r["currency"] for r in rows}):
        visit(None, currency, 0)
    return out


def coverage_view(inputs: Inputs, by: str, scope: Scope, worst: int) -> dict[str, Any]:
    """Share of effective cost fully tagged per ``by``, and the worst offending resources."""
    from sentier.finops.reports import dimension_column

    try:
        dimension_column(by, inputs.facts)
    except FinOpsError as error:
        raise Problem(400, str(error), slug="unknown-dimension") from error
    result = inputs.cached(
        ("tags", by, worst, *scope_key(scope)),
        lambda: tag_coverage(
            inputs.facts, inputs.snapshot, inputs.rules, by=by, scope=scope, worst=worst
        ),
    )
    return {
        "by": by,
        "periods": inputs.facts.periods,
        "required_keys": list(result["required_keys"]),
        "overall": [
            {
                "currency": item["currency"],
                "tagged": cents(item["tagged"]),
                "total": cents(item["total"]),
                "coverage": item["coverage"],
            }
            for item in result["overall"]
        ],
        "rows": [
            {
                "key": row["key"],
                "label": label_of(row["key"]),
                "ref": _ref_or_none(row["key"], inputs.snapshot),
                "currency": row["currency"],
                "tagged": cents(row["tagged"]),
                "untagged": cents(row["untagged"]),
                "total": cents(row["total"]),
                "coverage": row["coverage"],
            }
            for row in result["rows"]
        ],
        "offenders": [
            {
                "resource_id": item["resource_id"],
                "sub_account": item["sub_account"],
                "owner": item["owner"],
                "owner_label": label_of(item["owner"]),
                "currency": item["currency"],
                "violations": list(item["violations"]),
                "cost": cents(item["cost"]),
            }
            for item in result["offenders"]
        ],
    }


def _allocation_rows(inputs: Inputs, dims: tuple[str, ...], scope: Scope) -> list[dict[str, Any]]:
    return inputs.cached(
        ("allocate", dims, *scope_key(scope)),
        lambda: (
            allocate(
                inputs.facts, inputs.snapshot, inputs.rules, key_dims=list(dims), scope=scope
            ).rows
        ),
    )


def allocation_view(inputs: Inputs, scope: Scope, top: int = 15) -> dict[str, Any]:
    """How the cost was attributed: per rule, how shared pools were split, what is left over."""
    dims = ("SubAccountId", "ServiceName")
    rows = _allocation_rows(inputs, dims, scope)
    by_rule: dict[tuple[str, str], dict[str, Any]] = {}
    pools: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    left: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        currency, amount = str(row["currency"]), row["effective"]
        owner = str(row["owner_ref"])
        rule = str(row.get("rule") or UNALLOCATED)
        totals[currency] += amount
        entry = by_rule.setdefault(
            (rule, currency), {"amount": Decimal(0), "owners": set(), "lines": 0}
        )
        entry["amount"] += amount
        if owner != UNALLOCATED:
            entry["owners"].add(owner)
        if rule.startswith("shared:"):
            pools[(rule[7:], str(row["period"]), currency)][owner] += amount
        if owner == UNALLOCATED:
            key = (str(row.get("SubAccountId") or "(none)"), str(row.get("ServiceName")), currency)
            left[key] += amount
    order = {r.label: i for i, r in enumerate(inputs.rules.rules)}
    configured = {pool.name: pool for pool in inputs.rules.shared}
    pool_rows = []
    for (pool, period, currency), owners in sorted(pools.items()):
        total = sum(owners.values(), Decimal(0))
        split = configured.get(pool)
        pool_rows.append(
            {
                "pool": pool,
                "period": period,
                "currency": currency,
                "split": split.split if split else "by commitment use",
                "total": cents(total),
                "owners": [
                    {
                        "owner": owner,
                        "label": label_of(owner),
                        "amount": cents(amount),
                        "share": float(amount / total) if total else None,
                    }
                    for owner, amount in sorted(owners.items(), key=lambda kv: -kv[1])
                ],
            }
        )

    def rule_rank(item: tuple[tuple[str, str], Any]) -> tuple[int, str, str]:
        (rule, currency), _ = item
        if rule in order:
            return (order[rule], rule, currency)
        return (len(order) + (1 if rule.startswith("shared:") else 2), rule, currency)

    for currency in totals:
        for label in order:
            by_rule.setdefault(
                (label, currency), {"amount": Decimal(0), "owners": set(), "lines": 0}
            )
    return {
        "periods": inputs.facts.periods,
        "rules_file": inputs.rules.source,
        "rules": [
            {
                "rule": rule,
                "currency": currency,
                "amount": cents(entry["amount"]),
                "share": float(entry["amount"] / totals[currency]) if totals[currency] else None,
                "owners": len(entry["owners"]),
            }
            for (rule, currency), entry in sorted(by_rule.items(), key=rule_rank)
        ],
        "commitments_unused": inputs.rules.commitments.unused,
        "pools": pool_rows,
        "unallocated": [
            {"sub_account": sub, "service": service, "currency": currency, "amount": cents(v)}
            for (sub, service, currency), v in sorted(left.items(), key=lambda kv: -kv[1])[:top]
            if v != 0
        ],
        "reconciliation": showback_view(inputs, "owner", scope)["reconciliation"],
    }


# -- per group, per entity --------------------------------------------------------------------


def _subtree(snapshot: CatalogSnapshot, group_ref: str) -> set[str]:
    return {g for g in snapshot.group_parent() if group_ref in snapshot.ancestors(g)} | {group_ref}


def _breakdown(
    rows: Iterable[dict[str, Any]],
    key: Callable[[dict[str, Any]], str | None],
    periods: list[str],
    snapshot: CatalogSnapshot,
    limit: int = 12,
    missing: str = "(none)",
) -> list[dict[str, Any]]:
    """Rows summed per ``key`` and currency, biggest first, each with its monthly trend."""
    cells: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        k = key(row)
        cells[(k or missing, str(row["currency"]))][str(row["period"])] += row["effective"]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for (_, currency), values in cells.items():
        totals[currency] += sum(values.values(), Decimal(0))
    items: list[dict[str, Any]] = []
    for (k, currency), values in cells.items():
        total = sum(values.values(), Decimal(0))
        if not any(values.values()):
            continue  # a part whose lines all cost nothing (e.g. fully covered by credits)
        items.append(
            {
                "key": k,
                "label": label_of(k),
                "ref": _ref_or_none(k, snapshot),
                "currency": currency,
                "total": cents(total),
                "share": float(total / totals[currency]) if totals[currency] else None,
                "trend": trend(periods, values),
            }
        )
    items.sort(key=lambda i: (i["currency"], -i["total"], i["key"]))
    return items[:limit]


def _series(rows: Iterable[dict[str, Any]], periods: list[str]) -> list[dict[str, Any]]:
    per: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        per[str(row["currency"])][str(row["period"])] += row["effective"]
    return [
        {
            "currency": currency,
            "total": cents(sum(values.values(), Decimal(0))),
            "trend": trend(periods, values),
        }
        for currency, values in sorted(per.items())
    ]


def group_costs(session: Session, inputs: Inputs, group_ref: str, scope: Scope) -> dict[str, Any]:
    """A group's cost through its child groups: per month, per child, system, entity, service."""
    rows_all = _allocation_rows(inputs, ("ServiceName",), scope)
    periods = sorted({str(r["period"]) for r in rows_all})
    subtree = _subtree(inputs.snapshot, group_ref)
    rows = [r for r in rows_all if r["owner_ref"] in subtree]
    children = sorted(g for g, p in inputs.snapshot.group_parent().items() if p == group_ref)

    def child_of(row: dict[str, Any]) -> str:
        chain = inputs.snapshot.ancestors(str(row["owner_ref"]))
        index = chain.index(group_ref) if group_ref in chain else 0
        return chain[index - 1] if index > 0 else group_ref

    shared = [r for r in rows if str(r.get("rule") or "").startswith("shared:")]
    return {
        "ref": group_ref,
        "label": label_of(group_ref),
        "periods": periods,
        "available_periods": inputs.facts.available_periods(),
        "groups": sorted(subtree),
        "children": children,
        "totals": _series(rows, periods),
        "shared": _series(shared, periods),
        "by_group": _breakdown(rows, child_of, periods, inputs.snapshot, limit=50),
        "by_system": _breakdown(
            rows, lambda r: r.get("system_ref"), periods, inputs.snapshot, missing="(no system)"
        ),
        "by_entity": _breakdown(
            rows, lambda r: r.get("entity_ref"), periods, inputs.snapshot, missing="(no entity)"
        ),
        "by_service": _breakdown(rows, lambda r: r.get("ServiceName"), periods, inputs.snapshot),
        "budgets": [
            b
            for b in _current_budgets(session, inputs)
            if b["scope"] in subtree or _owner_of(inputs.snapshot, b["scope"]) in subtree
        ],
        "anomalies": [a for a in anomalies_view(session, limit=200) if a["owner"] in subtree][:20],
    }


def _current_budgets(session: Session, inputs: Inputs) -> list[dict[str, Any]]:
    """Budget status of the latest month, whatever periods the report was asked for."""
    if inputs.facts.periods == inputs.facts.available_periods():
        return budget_statuses(session, inputs)
    with open_inputs(session) as everything:
        return budget_statuses(session, everything)


def _owner_of(snapshot: CatalogSnapshot, ref: str) -> str | None:
    entity = snapshot.entities.get(ref)
    return entity.owner_ref if entity else None


def entity_costs(inputs: Inputs, ref: str, kind: str, scope: Scope) -> dict[str, Any]:
    """The direct cost of a system (through its parts) or of one entity, per month and service.

    Shared costs are split to owners, not to entities, so they are not in these figures.
    """
    rows_all = _allocation_rows(inputs, ("ServiceName",), scope)
    periods = sorted({str(r["period"]) for r in rows_all})
    column = "system_ref" if kind.lower() == "system" else "entity_ref"
    rows = [r for r in rows_all if r.get(column) == ref]
    return {
        "ref": ref,
        "label": label_of(ref),
        "kind": kind.lower(),
        "periods": periods,
        "available_periods": inputs.facts.available_periods(),
        "totals": _series(rows, periods),
        "by_service": _breakdown(rows, lambda r: r.get("ServiceName"), periods, inputs.snapshot),
        "by_entity": _breakdown(
            rows, lambda r: r.get("entity_ref"), periods, inputs.snapshot, missing="(no entity)"
        )
        if column == "system_ref"
        else [],
        "by_owner": _breakdown(rows, lambda r: r.get("owner_ref"), periods, inputs.snapshot),
    }


# -- steering: anomalies, forecasts, budgets --------------------------------------------------


def _daily(inputs: Inputs) -> Daily:
    from sentier.finops.timeseries import daily_costs

    return inputs.cached(
        ("daily",), lambda: daily_costs(inputs.facts, inputs.snapshot, inputs.rules)
    )


def forecast_view(
    inputs: Inputs,
    *,
    months: int = 3,
    level: float = 0.8,
    owner: str | None = None,
    group: str | None = None,
) -> dict[str, Any]:
    """Month-end and next months per owner (or one group with its children, or everything)."""
    from sentier.finops.forecast import forecast

    daily = _daily(inputs)
    key: Callable[[dict[str, Any]], Any] | None = None
    if group is not None:
        subtree = _subtree(inputs.snapshot, group)
        key = lambda r: group if r["owner_ref"] in subtree else None  # noqa: E731
    elif owner == "*":
        key = lambda r: "*"  # noqa: E731
    rows = inputs.cached(
        ("forecast", months, level, owner if owner == "*" else None, group),
        lambda: forecast(daily, key=key, months=months, level=level),
    )
    if owner not in (None, "*"):
        rows = [r for r in rows if r["owner"] == owner]
    return {
        "as_of": daily.last_day,
        "level": level,
        "months": months,
        "rows": [
            {
                "owner": r["owner"],
                "label": "everything" if r["owner"] == "*" else label_of(r["owner"]),
                "currency": r["currency"],
                "month": r["month"],
                "actual_to_date": cents(r["actual_to_date"])
                if r["actual_to_date"] is not None
                else None,
                "forecast": cents(r["forecast"]),
                "low": cents(r["low"]),
                "high": cents(r["high"]),
            }
            for r in rows
        ],
    }


def anomalies_view(
    session: Session,
    *,
    since: date | None = None,
    owner: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Stored anomalies, newest first, each with the resources that drove it."""
    from sentier.finops.anomalies import stored_anomalies

    items = stored_anomalies(session, since=since)
    if owner is not None:
        items = [a for a in items if a["owner"] == owner]
    return [
        {
            "owner": a["owner"],
            "owner_label": label_of(a["owner"]),
            "service": a["service"],
            "currency": a["currency"],
            "day": a["day"],
            "actual": cents(a["actual"]),
            "expected": cents(a["expected"]),
            "excess": cents(a["excess"]),
            "score": float(a["score"]),
            "drivers": [
                {
                    "resource_id": str(d.get("resource_id")),
                    "actual": cents(d.get("actual")),
                    "usual": cents(d.get("usual")),
                    "delta": cents(d.get("delta")),
                }
                for d in a["drivers"]
            ],
        }
        for a in items[:limit]
    ]


def detect_anomalies(session: Session, inputs: Inputs) -> dict[str, Any]:
    """Run detection now: new anomalies are stored and announced once (commit is the caller's)."""
    from sentier.finops.anomalies import detect_and_record

    with finops_errors():
        result = detect_and_record(session, inputs.facts, inputs.snapshot, inputs.rules)
    return {"new": len(result["new"]), "known": len(result["known"])}


def budget_state(item: dict[str, Any]) -> str:
    """``over`` (spent the budget), ``at-risk`` (forecast will), ``warning`` (a threshold
    crossed), ``ok``."""
    if item["used"] >= 100:
        return "over"
    if item["forecast_alert"] and item["forecast_used"] >= 100:
        return "at-risk"
    if item["crossed"]:
        return "warning"
    return "ok"


def budget_out(budget: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": budget["name"],
        "scope": budget["scope"],
        "scope_label": label_of(budget["scope"]),
        "amount": cents(budget["amount"]),
        "currency": budget["currency"],
        "thresholds": list(budget["thresholds"]),
        "forecast_alert": bool(budget["forecast_alert"]),
    }


def budget_statuses(
    session: Session, inputs: Inputs, month: str | None = None
) -> list[dict[str, Any]]:
    """Every budget with its spend and forecast month-end; reports, never records.

    Crossings are recorded (and announced) by ``check_budgets`` after each ingestion and by
    ``POST /api/v1/finops/budgets/check``, not by whoever happens to open a page.
    """
    from sentier.finops.budgets import check_budgets, list_budgets

    defined = list_budgets(session)
    if not defined:
        return []
    signature = tuple(
        (b["name"], b["scope"], str(b["amount"]), b["currency"], b["forecast_alert"])
        for b in defined
    ) + tuple(tuple(b["thresholds"]) for b in defined)
    statuses = inputs.cached(
        ("budgets", month, signature),
        lambda: check_budgets(
            session, inputs.facts, inputs.snapshot, inputs.rules, month=month, record=False
        ),
    )
    if not statuses:
        return [
            {**budget_out(b), "status": None, "state": "no-data", "crossed": []} for b in defined
        ]
    return [status_out(item) for item in statuses]


def status_out(item: dict[str, Any]) -> dict[str, Any]:
    return {
        **budget_out(item),
        "status": {
            "month": item["month"],
            "spent": cents(item["spent"]),
            "forecast": cents(item["forecast"]),
            "used": round(float(item["used"]), 1),
            "forecast_used": round(float(item["forecast_used"]), 1),
        },
        "state": budget_state(item),
        "crossed": [{"threshold": c["threshold"], "kind": c["kind"]} for c in item["crossed"]],
    }


def may_manage(session: Session, principal: Principal, scope_ref: str) -> bool:
    """Admins manage every budget; editors those of their groups (and child groups) and of the
    systems those own."""
    from sentier.store.models import Entity

    if principal.has_role("admin"):
        return True
    owner: str | None = scope_ref
    if scope_ref.startswith("system:"):
        owner = session.scalar(select(Entity.owner_ref).where(Entity.ref == scope_ref))
    return bool(owner) and principal.may_write_owned_by(session, owner)


def find_budget(session: Session, name: str) -> dict[str, Any] | None:
    from sentier.finops.budgets import list_budgets

    return next((b for b in list_budgets(session) if b["name"] == name), None)


def save_budget(
    request: Request,
    session: Session,
    principal: Principal,
    name: str,
    *,
    scope: str,
    amount: Decimal,
    currency: str,
    thresholds: list[int],
    forecast_alert: bool,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a budget for someone allowed to, audited, committed.

    Returns the budget and whether it was created. The scope must exist in the catalog, and
    the principal must manage both the new scope and, on a change, the budget's old one.
    """
    from sentier.api.deps import audit_write, deny
    from sentier.finops.budgets import add_budget, budget_scope
    from sentier.store.models import Entity

    try:
        scope_ref = budget_scope(scope)
    except FinOpsError as error:
        raise Problem(400, f"scope: {error.message}", slug="bad-scope") from error
    if session.scalar(select(Entity.ref).where(Entity.ref == scope_ref)) is None:
        raise Problem(400, f"scope: no {scope_ref} in the catalog", slug="bad-scope")
    existing = find_budget(session, name)
    for target in sorted({scope_ref, *([existing["scope"]] if existing else [])}):
        if not may_manage(session, principal, target):
            deny(request, principal, f"budgets of {target} are not yours to set", name)
    try:
        budget = add_budget(
            session,
            name,
            scope_ref,
            amount,
            currency,
            thresholds=thresholds,
            forecast_alert=forecast_alert,
        )
    except FinOpsError as error:
        raise Problem(400, str(error), slug="bad-budget") from error
    audit_write(
        request,
        session,
        principal,
        "finops.budget.create" if existing is None else "finops.budget.update",
        name,
        {"scope": scope_ref, "amount": str(amount), "currency": budget["currency"]},
    )
    session.commit()
    return budget, existing is None


def delete_budget(request: Request, session: Session, principal: Principal, name: str) -> None:
    """Remove a budget (and the record of its crossings) for someone allowed to; audited."""
    from sentier.api.deps import audit_write, deny
    from sentier.finops.budgets import remove_budget

    existing = find_budget(session, name)
    if existing is None:
        raise Problem(404, f"no budget {name}", slug="budget-not-found")
    if not may_manage(session, principal, existing["scope"]):
        deny(request, principal, f"budgets of {existing['scope']} are not yours to remove", name)
    remove_budget(session, name)
    audit_write(request, session, principal, "finops.budget.delete", name)
    session.commit()


# -- the overview -----------------------------------------------------------------------------


def overview(session: Session, inputs: Inputs) -> dict[str, Any]:
    """The FinOps front page: spend per month, who and what costs most, tags, anomalies,
    budgets and where the month is heading."""
    periods = inputs.facts.periods
    if not periods:
        return {
            "periods": [],
            "latest": None,
            "totals": [],
            "top_owners": [],
            "top_services": [],
            "coverage": None,
            "anomalies": anomalies_view(session, limit=10),
            "budgets": budget_statuses(session, inputs),
            "forecast": None,
            "reconciliation": [],
        }
    latest = periods[-1]
    owners = showback_view(inputs, "owner", Scope())
    services = showback_view(inputs, "service", Scope())

    def top(rows: list[dict[str, Any]], limit: int = 8) -> list[dict[str, Any]]:
        picked = []
        for row in rows:
            amount = next(t["amount"] for t in row["trend"] if t["period"] == latest)
            change = next(t["change"] for t in row["trend"] if t["period"] == latest)
            picked.append({**row, "latest": amount, "latest_change": change})
        picked.sort(key=lambda r: (r["currency"], -r["latest"], r["key"]))
        return picked[:limit]

    coverage = coverage_view(inputs, "sub-account", Scope(), worst=8)
    return {
        "periods": periods,
        "latest": latest,
        "totals": owners["totals"],
        "top_owners": top(owners["rows"]),
        "top_services": top(services["rows"]),
        "coverage": coverage,
        "anomalies": anomalies_view(session, limit=10),
        "budgets": budget_statuses(session, inputs),
        "forecast": forecast_view(inputs, months=3, owner="*"),
        "reconciliation": owners["reconciliation"],
    }


# -- economics, history -----------------------------------------------------------------------


def commitments_view(inputs: Inputs) -> dict[str, Any]:
    from sentier.finops.economics import commitments

    result = inputs.cached(("commitments",), lambda: commitments(inputs.facts))
    return {
        "periods": inputs.facts.periods,
        "commitments": [
            {
                "commitment": c["commitment"],
                "name": c["name"],
                "period": c["period"],
                "currency": c["currency"],
                "purchase": cents(c["purchase"]),
                "used": cents(c["used"]),
                "unused": cents(c["unused"]),
                "savings": cents(c["savings"]),
                "utilisation": c["utilisation"],
            }
            for c in result["commitments"]
        ],
        "totals": [
            {
                "currency": t["currency"],
                "billed": cents(t["billed"]),
                "usage_list_cost": cents(t["usage_list_cost"]),
                "usage_effective_cost": cents(t["usage_effective_cost"]),
                "savings": cents(t["savings"]),
                "savings_rate": t["savings_rate"],
            }
            for t in result["totals"]
        ],
    }


def kpi_file() -> Any:
    """Where the server reads business KPIs for unit economics: ``SENTIER_HOME/kpis.csv``."""
    from sentier.config import get_settings

    return get_settings().home / "kpis.csv"


def unit_costs_view(inputs: Inputs, scope: Scope) -> dict[str, Any]:
    from sentier.finops.economics import read_kpis, unit_costs

    path = kpi_file()
    if not path.is_file():
        return {"kpi_file": None, "rows": []}
    with finops_errors():
        kpis = read_kpis(path)
    stamp = path.stat().st_mtime_ns
    rows = inputs.cached(
        ("unit", stamp, *scope_key(scope)),
        lambda: unit_costs(inputs.facts, inputs.snapshot, inputs.rules, kpis, scope=scope),
    )
    return {
        "kpi_file": str(path),
        "rows": [
            {
                "product": r["product"],
                "label": label_of(r["product"]),
                "metric": r["metric"],
                "month": r["month"],
                "currency": r["currency"],
                "cost": cents(r["cost"]),
                "units": r["units"],
                "unit_cost": r["unit_cost"],
                "change": r["change"],
            }
            for r in rows
        ],
    }


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return None if value is None else str(value)


def ingestions_view(session: Session, limit: int = 20) -> dict[str, Any]:
    from sentier.finops import ingestion_history, stored_slices

    return {
        "runs": [
            {
                "id": run["id"],
                "started_at": _iso(run["started_at"]),
                "status": run["status"],
                "provider_format": run["provider_format"],
                "rows": int(run["rows"] or 0),
                "files": [
                    {
                        "path": f["path"],
                        "status": f["status"],
                        "focus_version": f["focus_version"],
                        "rows": int(f["rows"] or 0),
                        "periods": list(f["periods"] or []),
                        "problems": list(f["problems"] or []),
                    }
                    for f in run["files"]
                ],
            }
            for run in ingestion_history(session, limit=limit)
        ],
        "slices": [
            {
                "period": s["period"],
                "provider": s["provider"],
                "billing_account": s["billing_account"],
                "rows": int(s["rows"] or 0),
                "totals": {
                    currency: {k: cents(v) for k, v in values.items()}
                    for currency, values in (s["totals"] or {}).items()
                },
                "ingestion_id": s["ingestion_id"],
                "updated_at": _iso(s["updated_at"]),
            }
            for s in stored_slices(session)
        ],
    }
