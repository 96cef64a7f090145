"""What a FOCUS line is, for the carbon model: an instance hour, storage, network, or nothing.

Read from the line's description alone (provider, service, units, SKU, charge description),
by the ordered rules of ``data/usage.yaml``; instance types are looked for in the SKU price
details, the meter, the resource type and the charge description. Only *distinct*
descriptions are classified (thousands where lines are millions): reports join the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sentier.greenops.coefficients import Coefficients, provider_key
from sentier.greenops.instances import find_instance_type

# The FOCUS columns a classification reads (the "signature" of a line).
SIGNATURE = [
    "ProviderName",
    "ServiceName",
    "ServiceCategory",
    "ChargeCategory",
    "CommitmentDiscountStatus",
    "ConsumedUnit",
    "PricingUnit",
    "ChargeDescription",
    "ResourceType",
    "SkuMeter",
    "SkuPriceDetails",
    "RegionId",
]
DETAIL_KEYS = ("instancetype", "instance_type", "vmsize", "machinetype", "machine_type", "size")

ESTIMATED = "estimated"
NOT_ESTIMATED = "not-estimated"
NOT_USAGE = "not-usage"


@dataclass(frozen=True)
class Usage:
    """How the carbon model reads one line description."""

    status: str  # estimated | not-estimated | not-usage (before resource hints are applied)
    kind: str | None
    provider: str | None
    region: str
    unit: str | None
    per_unit: float  # base units per unit of the line's quantity
    use_pricing: bool  # the quantity is PricingQuantity (ConsumedUnit absent)
    instance_type: str | None = None
    medium: str | None = None
    replication: str | None = None
    reason: str | None = None


_COMPILED: dict[str, tuple[Any, ...]] = {}


def _compiled(coefficients: Coefficients) -> tuple[Any, ...]:
    """The usage rules with their patterns compiled, once per coefficient set."""
    found = _COMPILED.get(coefficients.fingerprint)
    if found is not None:
        return found
    usage = coefficients.usage
    units = {
        name: re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
        for name, patterns in usage["units"].items()
    }
    rules = []
    for rule in usage["rules"]:
        compiled: dict[str, Any] = dict(rule)
        for key in ("service", "category", "resource_type", "description"):
            if key in rule:
                text = str(rule[key])
                search = text.startswith("~")
                pattern = re.compile(text[1:] if search else text, re.IGNORECASE)
                compiled[key] = (pattern, search)
        rules.append(compiled)
    compiled_set = (units, tuple(rules), {k: float(v) for k, v in usage["per_unit"].items()})
    _COMPILED[coefficients.fingerprint] = compiled_set
    return compiled_set


def _unit_name(units: dict[str, re.Pattern[str]], unit: str) -> str | None:
    for name, pattern in units.items():
        if pattern.fullmatch(unit.strip()):
            return name
    return None


def _matches(condition: tuple[re.Pattern[str], bool], value: str) -> bool:
    pattern, search = condition
    return bool(pattern.search(value) if search else pattern.fullmatch(value))


def _detail_type(details: str) -> str | None:
    if not details:
        return None
    try:
        data = json.loads(details)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    for key, value in data.items():
        if str(key).replace("-", "").lower() in DETAIL_KEYS and isinstance(value, str):
            return value
    return None


def classify(coefficients: Coefficients, row: dict[str, Any]) -> Usage:
    """The usage of one line description (a dict of the ``SIGNATURE`` columns)."""

    def text(column: str) -> str:
        value = row.get(column)
        return "" if value is None else str(value)

    provider = provider_key(text("ProviderName"))
    region = text("RegionId")
    category = text("ChargeCategory")
    if category and category.lower() != "usage":
        return Usage(
            NOT_USAGE,
            None,
            provider,
            region,
            None,
            0.0,
            False,
            reason=f"{category} charge: no resource ran for it",
        )
    if text("CommitmentDiscountStatus").lower() == "unused":
        return Usage(
            NOT_USAGE,
            None,
            provider,
            region,
            None,
            0.0,
            False,
            reason="unused commitment: no resource ran for it",
        )
    consumed = text("ConsumedUnit")
    use_pricing = not consumed
    unit = consumed or text("PricingUnit")
    if provider is None:
        return Usage(
            NOT_ESTIMATED,
            None,
            None,
            region,
            unit or None,
            0.0,
            use_pricing,
            reason=f"provider {text('ProviderName') or '(none)'!r} has no coefficients",
        )
    units, rules, per_unit = _compiled(coefficients)
    unit_name = _unit_name(units, unit) if unit else None
    if not unit:
        return Usage(
            NOT_ESTIMATED,
            None,
            provider,
            region,
            None,
            0.0,
            use_pricing,
            reason="no usage unit: a fee (support, subscription) or a line missing its unit",
        )
    if unit_name is None:
        return Usage(
            NOT_ESTIMATED,
            None,
            provider,
            region,
            unit or None,
            0.0,
            use_pricing,
            reason=f"unit {unit or '(none)'!r} has no energy model",
        )
    values = {
        "service": text("ServiceName"),
        "category": text("ServiceCategory"),
        "resource_type": text("ResourceType"),
        "description": text("ChargeDescription"),
    }
    for rule in rules:
        if unit_name not in rule["units"]:
            continue
        if not all(_matches(rule[k], v) for k, v in values.items() if k in rule):
            continue
        kind = str(rule["kind"])
        factor = per_unit[unit_name]
        if kind == "none":
            return Usage(
                NOT_ESTIMATED,
                None,
                provider,
                region,
                unit,
                factor,
                use_pricing,
                reason=str(rule.get("reason") or "no energy model"),
            )
        instance_type = None
        if kind == "instance":
            detail = _detail_type(text("SkuPriceDetails"))
            instance_type = find_instance_type(
                coefficients,
                provider,
                detail,
                text("SkuMeter"),
                text("ResourceType"),
                values["description"],
            )
        return Usage(
            ESTIMATED,
            kind,
            provider,
            region,
            unit,
            factor,
            use_pricing,
            instance_type=instance_type,
            medium=rule.get("medium"),
            replication=rule.get("replication"),
        )
    return Usage(
        NOT_ESTIMATED,
        None,
        provider,
        region,
        unit,
        per_unit[unit_name],
        use_pricing,
        reason=f"no rule reads {unit!r} of {values['service'] or 'this service'}",
    )
