"""Shared costs split between owners, exactly: the parts always add up to the whole.

Amounts are ``Decimal`` at the stored precision (1e-10); each split hands out the remainder
of the rounding to the largest fractional parts (largest-remainder method), so that the sum
of the parts equals the pool to the last digit, hence to the cent, per currency.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import ROUND_FLOOR, Decimal, localcontext
from pathlib import Path

from sentier.finops.columns import COST_SCALE
from sentier.finops.errors import FinOpsError
from sentier.finops.ownership import UNALLOCATED
from sentier.finops.rules import SharedPool

QUANTUM = Decimal(1).scaleb(-COST_SCALE)
CENT = Decimal("0.01")


def split_exact(
    amount: Decimal, weights: Mapping[str, Decimal], quantum: Decimal = QUANTUM
) -> dict[str, Decimal]:
    """``amount`` split in proportion to ``weights``; the parts add up to ``amount`` exactly.

    Owners with no weight get nothing; with no positive weight at all, nothing can be split and
    the caller decides (``{}`` is returned).
    """
    with localcontext() as context:
        context.prec = 60
        return _split(amount, weights, quantum)


def _split(amount: Decimal, weights: Mapping[str, Decimal], quantum: Decimal) -> dict[str, Decimal]:
    positive = {k: Decimal(w) for k, w in weights.items() if w > 0}
    total = sum(positive.values(), Decimal(0))
    if total <= 0:
        return {}
    units = (amount / quantum).to_integral_value(rounding=ROUND_FLOOR)
    # Work in integer units of the quantum; negative pools (credits) split the same way.
    sign = 1 if units >= 0 else -1
    units = abs(units)
    raw = {k: units * w / total for k, w in positive.items()}
    floors = {k: v.to_integral_value(rounding=ROUND_FLOOR) for k, v in raw.items()}
    left = units - sum(floors.values(), Decimal(0))
    order = sorted(raw, key=lambda k: (-(raw[k] - floors[k]), k))
    for k in order[: int(left)]:
        floors[k] += 1
    parts = {k: sign * v * quantum for k, v in floors.items()}
    # The quantum-aligned split may differ from a non-aligned amount by less than a quantum:
    # give that residue to the largest part, so the sum is exact whatever the input.
    residue = amount - sum(parts.values(), Decimal(0))
    if residue and parts:
        biggest = max(parts, key=lambda k: (abs(parts[k]), k))
        parts[biggest] += residue
    return parts


def round_cents(values: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Values rounded to cents so that the rounded parts add up to the rounded total."""
    total = sum(values.values(), Decimal(0)).quantize(CENT)
    floors = {
        k: (v / CENT).to_integral_value(rounding=ROUND_FLOOR) * CENT for k, v in values.items()
    }
    left = int(((total - sum(floors.values(), Decimal(0))) / CENT).to_integral_value())
    order = sorted(values, key=lambda k: (-(values[k] - floors[k]), k))
    for k in order[: max(left, 0)]:
        floors[k] += CENT
    return floors


def load_metric(path: str) -> dict[str, dict[str, Decimal]]:
    """A metric file for ``metric`` splits: CSV with ``period,owner,value`` per line."""
    out: dict[str, dict[str, Decimal]] = defaultdict(dict)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise FinOpsError(f"cannot read: {error.strerror}", file=path) from error
    reader = csv.DictReader(text.splitlines())
    for name in ("period", "owner", "value"):
        if name not in (reader.fieldnames or []):
            raise FinOpsError(f"missing column {name!r}", file=path, row=1, column=name)
    for row in reader:
        try:
            value = Decimal(row["value"])
        except ArithmeticError as error:
            raise FinOpsError(
                f"{row['value']!r} is not a number",
                file=path,
                row=reader.line_num,
                column="value",
            ) from error
        period = row["period"].strip()
        owner = _as_group_ref(row["owner"])
        out[period][owner] = out[period].get(owner, Decimal(0)) + value
    return out


def _as_group_ref(value: str) -> str:
    from sentier.catalog import RefError, parse_ref

    try:
        return parse_ref(value.strip(), default_kind="group").key
    except RefError:
        return value.strip().lower()


def pool_weights(
    pool: SharedPool | None,
    period: str,
    direct: Mapping[str, Decimal],
    metrics: Mapping[str, Mapping[str, Mapping[str, Decimal]]],
    commitment_usage: Mapping[str, Decimal] | None = None,
) -> dict[str, Decimal]:
    """How a pool's cost of ``period`` is split: owner -> weight.

    ``direct`` is each owner's directly allocated cost in the period and currency (the
    ``unallocated`` bucket excluded); ``pool is None`` means unused commitments, split by
    ``commitment_usage`` (each owner's use of the commitments), else like ``proportional``.
    """
    if pool is None:
        usage = {k: v for k, v in (commitment_usage or {}).items() if v > 0}
        return dict(usage) if usage else dict(direct)
    targets = [_as_group_ref(t) for t in pool.targets] if pool.targets else None
    if pool.split == "fixed":
        return {_as_group_ref(k): Decimal(str(v)) for k, v in (pool.weights or {}).items()}
    if pool.split == "metric":
        values = metrics.get(pool.metric_file or "", {}).get(period, {})
        if not values:
            raise FinOpsError(
                f"no values for period {period} (pool {pool.name!r})", file=pool.metric_file
            )
        return {k: v for k, v in values.items() if targets is None or k in targets}
    candidates = targets if targets is not None else sorted(direct)
    if pool.split == "even":
        return {k: Decimal(1) for k in candidates}
    return {k: direct.get(k, Decimal(0)) for k in candidates}


def split_pools(
    rows: Sequence[dict[str, object]],
    pools: Mapping[str, SharedPool | None],
    *,
    dims: Sequence[str],
) -> list[dict[str, object]]:
    """Rows of direct allocation plus pool rows split between owners.

    ``rows`` carry ``period``, ``currency``, ``owner_ref``, ``pool``, ``effective``, ``billed``
    and the report ``dims``; the result has no pool row left: each is replaced by one row per
    receiving owner (``rule`` = ``shared:<pool>``). A pool nobody can receive (no owner had
    direct cost) goes to ``unallocated``.
    """
    metrics = {
        p.metric_file: load_metric(p.metric_file)
        for p in pools.values()
        if p is not None and p.split == "metric" and p.metric_file
    }
    direct: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    usage: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    out: list[dict[str, object]] = []
    pending: list[dict[str, object]] = []
    for row in rows:
        if row.get("pool"):
            pending.append(row)
            continue
        out.append(row)
        owner = str(row["owner_ref"])
        if owner != UNALLOCATED:
            key = (str(row["period"]), str(row["currency"]))
            direct[key][owner] += Decimal(str(row["effective"]))
            if row.get("commitment_used"):
                usage[key][owner] += Decimal(str(row["commitment_used"]))
    for row in pending:
        name = str(row["pool"])
        key = (str(row["period"]), str(row["currency"]))
        weights = pool_weights(
            pools.get(name), key[0], direct.get(key, {}), metrics, usage.get(key)
        )
        effective = split_exact(Decimal(str(row["effective"])), weights)
        billed = split_exact(Decimal(str(row["billed"])), weights)
        if not effective:
            out.append({**row, "owner_ref": UNALLOCATED, "pool": None, "rule": f"shared:{name}"})
            continue
        for owner, amount in effective.items():
            part = {**row, "owner_ref": owner, "pool": None, "rule": f"shared:{name}"}
            part["effective"] = amount
            part["billed"] = billed.get(owner, Decimal(0))
            part["list_cost"] = None
            part["entity_ref"] = None
            part["system_ref"] = None
            out.append(part)
    return out
