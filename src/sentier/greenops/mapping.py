"""Carbon factors of every line description: what one unit of each line emits.

Like FinOps' allocation mapping, this works on the *distinct* descriptions of the facts (the
``keys`` table, one row per ``line_key``), not on the lines: each distinct description is
classified (``classify``), joined to what users said about its resource (instance type,
measured CPU utilisation), and given per-unit factors by the model (``model``) for each
distinct kind of usage; joining and computing the factors of every key is one Ibis
expression. The result has two parts (``mapping_parts``): one row per ``line_key``, and one
per billing period and ``line_key`` only where a month's own utilisation was measured. Both
are persisted as Parquet, named by the fingerprint of their inputs (facts, coefficients,
resource facts, method), so a fresh process reuses them until one of those changes; reports
multiply them by the quantities of the lines in one Ibis expression.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from sentier.analytics import FactStore
from sentier.finops import (
    AllocationRules,
    CatalogSnapshot,
    Facts,
    inputs_fingerprint,
    mapping_for,
)
from sentier.greenops import boavizta
from sentier.greenops.classify import (
    ESTIMATED,
    NOT_ESTIMATED,
    NOT_USAGE,
    SIGNATURE,
    Usage,
    classify,
)
from sentier.greenops.coefficients import Coefficients
from sentier.greenops.errors import GreenOpsError
from sentier.greenops.model import (
    COMPONENTS,
    Factors,
    function_gb_second,
    instance_hour,
    memory_gb_hour,
    network_gb,
    storage_gb_hour,
    vcpu_hour,
)
from sentier.greenops.resources import ResourceFacts

LINE_KEY = "line_key"
PERIOD = "billing_period"
METHODS = ("ccf", "boavizta")
# Bumped when the way the mapping is computed changes, so cached mappings are recomputed.
MAPPING_VERSION = "5"
FACTOR_COLUMNS = [
    "f_kwh",
    *[f"f_{c}" for c in COMPONENTS],
    "f_s2l",
    "f_s2l_lo",
    "f_s2l_hi",
    "f_s2m",
    "f_s2m_lo",
    "f_s2m_hi",
    "f_s3",
    "f_s3_lo",
    "f_s3_hi",
]
MAPPING_COLUMNS = [
    PERIOD,
    LINE_KEY,
    "status",
    "reason",
    "kind",
    "method",
    "provider",
    "region",
    "instance_type",
    "type_source",
    "use_pricing",
    "per_unit",
    "utilization",
    "utilization_source",
    "market_known",
    *FACTOR_COLUMNS,
]
# The columns of the per-key part of the mapping (``mapping_parts``).
KEY_COLUMNS = [c for c in MAPPING_COLUMNS if c != PERIOD]
# FinOps' allocation of a key, which the per-key part carries when built with owners.
OWNER_COLUMNS = ["owner_ref", "entity_ref", "system_ref", "rule", "pool"]


def factors_for(
    coefficients: Coefficients,
    kind: str,
    provider: str,
    region: str,
    *,
    instance_type: str | None = None,
    medium: str | None = None,
    replication: str | None = None,
) -> Factors:
    """The model's per-unit factors of one kind of usage (shared with ``explain``)."""
    if kind == "instance":
        spec = coefficients.instance(provider, instance_type)
        if spec is None:
            raise GreenOpsError(f"unknown {provider} instance type {instance_type!r}")
        return instance_hour(coefficients, spec, region)
    if kind == "vcpu":
        return vcpu_hour(coefficients, provider, region)
    if kind == "function":
        return function_gb_second(coefficients, provider, region)
    if kind == "storage":
        return storage_gb_hour(
            coefficients, provider, region, medium or "ssd", replication or "DEFAULT"
        )
    if kind == "memory":
        return memory_gb_hour(coefficients, provider, region)
    if kind == "network":
        return network_gb(coefficients, provider, region)
    raise GreenOpsError(f"no energy model for {kind!r} usage")


NULL = "\x00"  # stands for a missing value in join keys (SQL joins never match NULLs)
BUSY_KINDS = ["instance", "vcpu", "function"]
GROUP_COLUMNS = ["kind", "provider", "region", "instance_type", "medium", "replication"]
UNTYPED = (
    "usage hours without an instance type: name it in the billing (SkuPriceDetails) or "
    "import it per resource (sentier carbon resources import)"
)


def _usage_frame(
    coefficients: Coefficients, signatures: pd.DataFrame, names: list[str]
) -> pd.DataFrame:
    """Each distinct description classified (``classify``), keyed by its signature columns."""
    rows = []
    for record in signatures.to_dict("records"):
        values = {
            name: (None if record[f"s_{i}"] == NULL else record[f"s_{i}"])
            for i, name in enumerate(names)
        }
        usage: Usage = classify(coefficients, values)
        row = {f"s_{i}": record[f"s_{i}"] for i in range(len(names))}
        row.update(
            {
                "u_status": usage.status,
                "u_reason": usage.reason,
                "kind": usage.kind,
                "provider": usage.provider,
                "region": usage.region,
                "per_unit": float(usage.per_unit),
                "use_pricing": bool(usage.use_pricing),
                "inline_type": usage.instance_type,
                "medium": usage.medium,
                "replication": usage.replication,
            }
        )
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in (
        "u_reason",
        "kind",
        "provider",
        "region",
        "inline_type",
        "medium",
        "replication",
    ):
        frame[column] = frame[column].astype(object)
    return frame


def _group_factors(coefficients: Coefficients, groups: pd.DataFrame) -> pd.DataFrame:
    """Linear factor columns per (kind, provider, region, type, medium, replication)."""
    out: list[dict[str, Any]] = []
    for record in groups.to_dict("records"):
        key = {f"g_{c}": record[c] for c in GROUP_COLUMNS}
        values = {c: (None if record[c] == NULL else record[c]) for c in GROUP_COLUMNS}
        row: dict[str, Any] = {**key, "g_error": None}
        try:
            f = factors_for(
                coefficients,
                str(values["kind"]),
                str(values["provider"]),
                values["region"] or "",
                instance_type=values["instance_type"],
                medium=values["medium"],
                replication=values["replication"],
            )
        except GreenOpsError as error:
            row["g_error"] = str(error)
            f = None
        for component in COMPONENTS:
            value = f.components.get(component) if f else None
            row[f"c_{component}_a"] = value.a if value else 0.0
            row[f"c_{component}_b"] = value.b if value else 0.0
        row.update(
            {
                "it_lo_a": f.it_low.a if f else 0.0,
                "it_lo_b": f.it_low.b if f else 0.0,
                "it_hi_a": f.it_high.a if f else 0.0,
                "it_hi_b": f.it_high.b if f else 0.0,
                "pue": f.pue if f else 0.0,
                "pue_lo": f.pue_low if f else 0.0,
                "pue_hi": f.pue_high if f else 0.0,
                "gl": f.grid_location if f else 0.0,
                "gl_lo": f.grid_location_low if f else 0.0,
                "gl_hi": f.grid_location_high if f else 0.0,
                "gm": f.grid_market if f else 0.0,
                "gm_lo": f.grid_market_low if f else 0.0,
                "gm_hi": f.grid_market_high if f else 0.0,
                "market_known": bool(f.market_known) if f else False,
                "s3": f.scope3 if f else 0.0,
                "s3_lo": f.scope3_low if f else 0.0,
                "s3_hi": f.scope3_high if f else 0.0,
            }
        )
        out.append(row)
    frame = pd.DataFrame(out)
    frame["g_error"] = frame["g_error"].astype(object)
    return frame


def _schema_of(frame: pd.DataFrame) -> Any:
    """An explicit schema: object columns are strings even when every value is missing."""
    types: dict[str, str] = {}
    for name, dtype in frame.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            types[str(name)] = "boolean"
        elif name == "sig":
            types[str(name)] = "int64"
        elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            types[str(name)] = "float64"
        else:
            types[str(name)] = "string"
    return ibis.schema(types)


def _resource_tables(resources: ResourceFacts) -> tuple[Any, Any, Any]:
    """Instance types per resource, utilisation for every period, utilisation per period."""
    types = pd.DataFrame(
        {
            "h_resource": list(resources.instance_types),
            "h_type": list(resources.instance_types.values()),
        }
    )
    always = {r: v for (r, p), v in resources.utilization.items() if p == ""}
    specific = [(r, p, v) for (r, p), v in resources.utilization.items() if p != ""]
    return (
        ibis.memtable(types, schema=ibis.schema({"h_resource": "string", "h_type": "string"})),
        ibis.memtable(
            pd.DataFrame({"a_resource": list(always), "a_u": [float(v) for v in always.values()]}),
            schema=ibis.schema({"a_resource": "string", "a_u": "float64"}),
        ),
        ibis.memtable(
            pd.DataFrame(
                {
                    "m_resource": [r for r, _, _ in specific],
                    "m_period": [p for _, p, _ in specific],
                    "m_u": [float(v) for _, _, v in specific],
                }
            ),
            schema=ibis.schema({"m_resource": "string", "m_period": "string", "m_u": "float64"}),
        ),
    )


def _materialise(facts: Facts, expr: Any, temporary: list[str] | None) -> Any:
    """``expr`` as a temporary DuckDB table (the caller drops it), when it is read twice."""
    if temporary is None or not _is_duckdb(facts.con):
        return expr
    name = f"greenops_keys_{uuid.uuid4().hex[:12]}"
    facts.con.create_table(name, expr, temp=True)
    temporary.append(name)
    return facts.con.table(name)


def _keyed(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    temporary: list[str] | None = None,
) -> Any | None:
    """Ibis: per ``line_key``, its usage, instance type, status and its group's factors.

    A key's description (so its classification, resource and instance type) is the same in
    every billing period it appears in (the key is a hash of the description, as FinOps'
    allocation mapping also relies on): this works on the distinct keys, not on each
    period's copy of them. Python classifies only the distinct descriptions and evaluates
    the model only for the distinct (kind, provider, region, type, storage class) groups.
    """
    keys = facts.keys()
    names = [c for c in SIGNATURE if c in keys.columns]
    # One number per distinct description: keys are grouped on it, not on a dozen strings.
    sig = ibis.struct({c: keys[c].cast("string") for c in names}).hash()
    signatures = (
        keys.group_by(sig=sig)
        .aggregate(
            **{
                f"s_{i}": keys[c].cast("string").fill_null(NULL).arbitrary()
                for i, c in enumerate(names)
            }
        )
        .to_pandas()
    )
    if signatures.empty:
        return None
    usage_frame = _usage_frame(coefficients, signatures, names)
    usage_frame.insert(0, "sig", signatures["sig"].astype("int64").to_numpy())
    usage_frame = usage_frame.drop(columns=[f"s_{i}" for i in range(len(names))])
    usage = ibis.memtable(usage_frame, schema=_schema_of(usage_frame))
    k = keys.group_by(keys[LINE_KEY]).aggregate(
        ResourceId=keys.ResourceId.arbitrary(), sig=sig.arbitrary()
    )
    # Read twice (the distinct groups, then the factors): the keys' only scan, done once.
    k = _materialise(facts, k, temporary)
    e = k.join(usage, "sig")
    types, always, _specific = _resource_tables(resources)
    e = e.left_join(types, e.ResourceId == types.h_resource)
    e = e.left_join(always, e.ResourceId == always.a_resource)
    is_instance = e.kind == "instance"
    instance_type = ibis.ifelse(is_instance, e.inline_type.coalesce(e.h_type), ibis.null("string"))
    untyped = is_instance & (e.u_status == ESTIMATED) & instance_type.isnull()
    e = e.mutate(
        instance_type=instance_type,
        type_source=ibis.cases(
            (is_instance & e.inline_type.notnull(), "billing line"),
            (is_instance & e.h_type.notnull(), "resource facts"),
            else_=ibis.null("string"),
        ),
        status=ibis.ifelse(untyped, NOT_ESTIMATED, e.u_status),
        reason=ibis.ifelse(untyped, UNTYPED, e.u_reason),
    )
    e = e.drop("sig", "h_resource", "h_type", "a_resource")
    estimated = e.filter(e.status == ESTIMATED)
    groups = (
        estimated.select(**{c: estimated[c].cast("string").fill_null(NULL) for c in GROUP_COLUMNS})
        .distinct()
        .to_pandas()
    )
    if not groups.empty:
        factor_frame = _group_factors(coefficients, groups)
        factors = ibis.memtable(factor_frame, schema=_schema_of(factor_frame))
        e = e.left_join(
            factors,
            [e[c].cast("string").fill_null(NULL) == factors[f"g_{c}"] for c in GROUP_COLUMNS],
        )
        failed = (e.status == ESTIMATED) & e.g_error.notnull()
        e = e.mutate(
            status=ibis.ifelse(failed, NOT_ESTIMATED, e.status),
            reason=ibis.ifelse(failed, e.g_error, e.reason),
        )
    else:
        zero = ibis.literal(0.0)
        e = e.mutate(
            **{f"c_{c}_{x}": zero for c in COMPONENTS for x in "ab"},
            **{n: zero for n in ZERO_WITHOUT_GROUPS},
            market_known=ibis.literal(False),
        )
    return e


ZERO_WITHOUT_GROUPS = [
    "it_lo_a",
    "it_lo_b",
    "it_hi_a",
    "it_hi_b",
    "pue",
    "pue_lo",
    "pue_hi",
    "gl",
    "gl_lo",
    "gl_hi",
    "gm",
    "gm_lo",
    "gm_hi",
    "s3",
    "s3_lo",
    "s3_hi",
]


def _factors(e: Any, coefficients: Coefficients, u_measured: Any, first: list[Any]) -> Any:
    """Ibis: the mapping columns of ``e`` (``_keyed``) at CPU utilisation ``u_measured``.

    ``u_measured`` is the measured utilisation (NULL: the provider's default applies).
    """

    def col(name: str) -> Any:
        return e[name].fill_null(0.0)

    default_u = ibis.cases(
        *[
            (e.provider == name, p.default_utilization)
            for name, p in coefficients.providers.items()
        ],
        else_=0.5,
    )
    measured = u_measured.notnull()
    u = u_measured.coalesce(default_u)
    low_default, high_default = coefficients.uncertainty.utilization_default
    delta = coefficients.uncertainty.utilization_measured
    u_lo = ibis.ifelse(measured, ibis.greatest(u - delta, 0.0), low_default)
    u_hi = ibis.ifelse(measured, ibis.least(u + delta, 1.0), high_default)
    per = ibis.ifelse(e.status == ESTIMATED, e.per_unit, 0.0)
    parts = {c: col(f"c_{c}_a") + col(f"c_{c}_b") * u for c in COMPONENTS}
    it = parts["compute"] + parts["memory"] + parts["gpu"] + parts["storage"] + parts["network"]
    it_lo = col("it_lo_a") + col("it_lo_b") * u_lo
    it_hi = col("it_hi_a") + col("it_hi_b") * u_hi
    kwh, kwh_lo, kwh_hi = it * col("pue"), it_lo * col("pue_lo"), it_hi * col("pue_hi")
    busy = e.kind.isin(BUSY_KINDS)
    return e.select(
        *first,
        e.status,
        e.reason,
        e.kind,
        method=ibis.ifelse(e.status == ESTIMATED, "ccf", ibis.null("string")),
        provider=e.provider,
        region=e.region,
        instance_type=e.instance_type,
        type_source=e.type_source,
        use_pricing=e.use_pricing,
        per_unit=e.per_unit,
        utilization=ibis.ifelse(busy, u, ibis.null("float64")),
        utilization_source=ibis.cases(
            (busy & measured, "measured"), (busy, "default"), else_=ibis.null("string")
        ),
        market_known=e.market_known.fill_null(False),
        f_kwh=kwh * per,
        **{f"f_{c}": parts[c] * per for c in COMPONENTS},
        f_s2l=kwh * col("gl") * per,
        f_s2l_lo=kwh_lo * col("gl_lo") * per,
        f_s2l_hi=kwh_hi * col("gl_hi") * per,
        f_s2m=kwh * col("gm") * per,
        f_s2m_lo=kwh_lo * col("gm_lo") * per,
        f_s2m_hi=kwh_hi * col("gm_hi") * per,
        f_s3=col("s3") * per,
        f_s3_lo=col("s3_lo") * per,
        f_s3_hi=col("s3_hi") * per,
    )


def mapping_parts(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    temporary: list[str] | None = None,
    allocation: Any | None = None,
) -> tuple[Any, Any | None] | None:
    """Ibis: the CCF carbon mapping in two parts; None when there are no keys.

    - per ``line_key`` (``KEY_COLUMNS``, then FinOps' ``OWNER_COLUMNS`` when ``allocation``,
      its mapping table, is given): every key's factors, at the utilisation measured for
      its resource over all periods (or the provider's default);
    - per billing period and ``line_key`` (``MAPPING_COLUMNS``), only where a utilisation
      was measured for that resource and month: those keys' factors for that month (None
      when no resource fact names a month).

    A (period, key)'s mapping is its row of the second part, else its key's row.
    """
    e = _keyed(facts, coefficients, resources, temporary)
    if e is None:
        return None
    keyed = _factors(e, coefficients, e.a_u, [e[LINE_KEY]])
    if allocation is not None:
        keyed = keyed.join(allocation.select(LINE_KEY, *OWNER_COLUMNS), LINE_KEY)
    if not any(p for _, p in resources.utilization):
        return keyed, None
    _, _, specific = _resource_tables(resources)
    keys = facts.keys()
    pk = keys.select(keys[PERIOD], keys[LINE_KEY], keys.ResourceId)
    monthly = pk.join(
        specific, (pk.ResourceId == specific.m_resource) & (pk[PERIOD] == specific.m_period)
    ).select(PERIOD, LINE_KEY, "m_u")
    o = monthly.join(e, LINE_KEY)
    return keyed, _factors(o, coefficients, o.m_u, [o[PERIOD], o[LINE_KEY]])


def _empty(columns: list[str]) -> pd.DataFrame:
    frame: pd.DataFrame = mapping_schema(owners=True).empty_table().select(columns).to_pandas()
    return frame


def build_parts(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    boavizta_hours: Callable[..., Any] | None = None,
    allocation: Any | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both parts of the mapping (``mapping_parts``) as frames, Boavizta's figures applied."""
    if method not in METHODS:
        raise GreenOpsError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    columns = KEY_COLUMNS + (OWNER_COLUMNS if allocation is not None else [])
    parts = mapping_parts(facts, coefficients, resources, allocation=allocation)
    if parts is None:
        return _empty(columns), _empty(MAPPING_COLUMNS)
    keyed = parts[0].to_pandas().reset_index(drop=True)[columns]
    monthly = (
        parts[1].to_pandas().reset_index(drop=True)[MAPPING_COLUMNS]
        if parts[1] is not None
        else _empty(MAPPING_COLUMNS)
    )
    if method == "boavizta":
        for frame in (keyed, monthly):
            u = frame["utilization"].fillna(0.5).astype("float64").to_numpy()
            _apply_boavizta(frame, u, boavizta_hours or boavizta.instance_hours)
    return keyed, monthly


def expand(keys: Any, keyed: Any, monthly: Any | None) -> Any:
    """Ibis: one mapping row per billing period and ``line_key`` of ``keys`` (both parts)."""
    pk = keys.select(PERIOD, LINE_KEY)
    rows = pk.join(keyed, LINE_KEY).select(MAPPING_COLUMNS)
    if monthly is None:
        return rows
    return rows.anti_join(monthly, [PERIOD, LINE_KEY]).union(monthly.select(MAPPING_COLUMNS))


def _expand_frames(facts: Facts, keyed: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    pk = facts.keys().select(PERIOD, LINE_KEY).to_pandas()
    rows = pk.merge(keyed, on=LINE_KEY)
    if not monthly.empty:
        index = pd.MultiIndex.from_frame(monthly[[PERIOD, LINE_KEY]])
        mine = pd.MultiIndex.from_frame(rows[[PERIOD, LINE_KEY]])
        rows = pd.concat([rows[~mine.isin(index)], monthly], ignore_index=True)
    frame: pd.DataFrame = rows[MAPPING_COLUMNS].reset_index(drop=True)
    return frame


def build_mapping(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    boavizta_hours: Callable[..., Any] | None = None,
) -> pd.DataFrame:
    """The carbon mapping as a frame, one row per billing period and ``line_key``."""
    keyed, monthly = build_parts(
        facts, coefficients, resources, method=method, boavizta_hours=boavizta_hours
    )
    return _expand_frames(facts, keyed, monthly)


def _apply_boavizta(frame: pd.DataFrame, u: np.ndarray, hours_of: Callable[..., Any]) -> None:
    """Replace the instance-hour factors by Boavizta's where Boavizta knows the instance."""
    if hours_of is boavizta.instance_hours:
        boavizta.require()
    rows = frame.index[(frame["status"] == ESTIMATED) & (frame["kind"] == "instance")]
    cache: dict[tuple[str, str, str, float], Any] = {}
    for index in rows:
        record = frame.loc[index]
        key = (
            record["provider"],
            record["instance_type"],
            record["region"] or "",
            round(float(u[index]), 2),
        )
        if key not in cache:
            try:
                cache[key] = hours_of(*key)
            except GreenOpsError as error:
                cache[key] = str(error)
        figure = cache[key]
        if isinstance(figure, str):
            frame.at[index, "method"] = f"ccf (boavizta: {figure})"
            continue
        per = float(record["per_unit"])
        energy = (figure.avg_power_watts or 0.0) / 1000
        frame.at[index, "method"] = "boavizta"
        frame.at[index, "f_kwh"] = energy * per
        frame.at[index, "f_compute"] = energy * per
        frame.at[index, "f_memory"] = 0.0
        frame.at[index, "f_gpu"] = 0.0
        frame.at[index, "f_s2l"] = figure.use * per
        frame.at[index, "f_s2l_lo"] = figure.use_range[0] * per
        frame.at[index, "f_s2l_hi"] = figure.use_range[1] * per
        frame.at[index, "f_s2m"] = figure.use * per
        frame.at[index, "f_s2m_lo"] = 0.0
        frame.at[index, "f_s2m_hi"] = figure.use_range[1] * per
        frame.at[index, "market_known"] = False
        frame.at[index, "f_s3"] = figure.embedded * per
        frame.at[index, "f_s3_lo"] = figure.embedded_range[0] * per
        frame.at[index, "f_s3_hi"] = figure.embedded_range[1] * per


@dataclass(frozen=True)
class MappingFiles:
    """The persisted mapping: its per-key part and its per-month part (maybe no rows)."""

    keyed: Path
    monthly: Path
    monthly_rows: int
    owners: bool


Owners = tuple[CatalogSnapshot, AllocationRules]


def _facts_fingerprint(facts: Facts) -> str:
    """The facts read: their store, slices (files, rows, totals) and periods.

    A manifest version alone repeats when a fact store is recreated.
    """
    slices = json.dumps(
        [(p, s, item.as_dict()) for p, s, item in facts.manifest.slices(facts.periods)],
        sort_keys=True,
    )
    return "|".join(
        [str(facts.dataset.root), str(facts.manifest.version), slices, ",".join(facts.periods)]
    )


def mapping_fingerprint(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    method: str,
    owners: Owners | None = None,
) -> str:
    """Everything the mapping depends on: facts, coefficients, resource facts, method, this
    code's version and, with owners, the catalog, allocation rules and tagging plan."""
    return hashlib.sha1(
        "|".join(
            [
                MAPPING_VERSION,
                inputs_fingerprint(facts, *owners) if owners else _facts_fingerprint(facts),
                "owners" if owners else "",
                coefficients.fingerprint,
                resources.fingerprint,
                method,
                (boavizta.version() or "-") if method == "boavizta" else "",
            ]
        ).encode("utf-8")
    ).hexdigest()[:20]


def mapping_file(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    store: FactStore | None = None,
    owners: Owners | None = None,
) -> MappingFiles | None:
    """The persisted carbon mapping (built when missing); None without facts.

    Persisted as Parquet under ``SENTIER_HOME/facts/greenops/_cache``, named by the
    fingerprint of everything it depends on (``mapping_fingerprint``): a fresh process
    reuses it while none of those changed, and never reads one computed from other inputs.
    With ``owners`` (catalog snapshot, allocation rules), each key also carries FinOps'
    owner, entity, system, rule and pool, so that reports join one table, not two.
    """
    if not facts.periods:
        return None
    if method not in METHODS:
        raise GreenOpsError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    fingerprint = mapping_fingerprint(facts, coefficients, resources, method, owners)
    cache = (store or facts.store).dataset("greenops").root / "_cache"
    keyed_path = cache / f"carbon-{fingerprint}.parquet"
    monthly_path = cache / f"carbon-{fingerprint}.monthly.parquet"
    if keyed_path.is_file() and monthly_path.is_file():
        return MappingFiles(keyed_path, monthly_path, _rows(monthly_path), owners is not None)
    allocation = _owners_table(mapping_for(facts, *owners)) if owners else None
    cache.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    keyed_tmp = keyed_path.with_name(f"{keyed_path.stem}.{tag}.tmp")
    monthly_tmp = monthly_path.with_name(f"{monthly_path.stem}.{tag}.tmp")
    tables: list[str] = []
    try:
        if method == "ccf" and _is_duckdb(facts.con):
            # Written by DuckDB straight from the expressions: no pandas round trip.
            parts = mapping_parts(facts, coefficients, resources, tables, allocation)
            if parts is not None:
                facts.con.to_parquet(parts[0], str(keyed_tmp))
                if parts[1] is not None:
                    facts.con.to_parquet(parts[1], str(monthly_tmp))
    finally:
        for name in tables:
            facts.con.con.execute(f"DROP TABLE IF EXISTS {name}")
    if not keyed_tmp.exists():
        keyed, monthly = build_parts(
            facts, coefficients, resources, method=method, allocation=allocation
        )
        keyed.to_parquet(keyed_tmp, index=False)
        monthly.to_parquet(monthly_tmp, index=False)
    if not monthly_tmp.exists():
        _empty(MAPPING_COLUMNS).to_parquet(monthly_tmp, index=False)
    # The per-month part first: a per-key file is only ever seen with its month file.
    monthly_tmp.replace(monthly_path)
    keyed_tmp.replace(keyed_path)
    _keep_recent(cache, 8)
    return MappingFiles(keyed_path, monthly_path, _rows(monthly_path), owners is not None)


def _owners_table(mapping: pd.DataFrame) -> Any:
    """FinOps' allocation mapping as an Arrow-backed table (missing values as NULLs)."""
    import pyarrow as pa

    schema = pa.schema(
        [pa.field(LINE_KEY, pa.int64()), *(pa.field(c, pa.string()) for c in OWNER_COLUMNS)]
    )
    table = pa.Table.from_pandas(
        mapping[[LINE_KEY, *OWNER_COLUMNS]], schema=schema, preserve_index=False
    )
    return ibis.memtable(table)


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return int(pq.read_metadata(path).num_rows)


def _keep_recent(cache: Path, keep: int) -> None:
    """Drop all but the ``keep`` most recent mappings (another process may do the same)."""
    dated = []
    for candidate in cache.glob("carbon-*.parquet"):
        if candidate.name.endswith(".monthly.parquet"):
            continue
        try:
            dated.append((candidate.stat().st_mtime, candidate))
        except FileNotFoundError:
            continue
    for _, old in sorted(dated)[:-keep]:
        old.unlink(missing_ok=True)
        old.with_name(f"{old.stem}.monthly.parquet").unlink(missing_ok=True)
    for retired in cache.glob("owned-*.parquet"):  # before mapping version 5
        retired.unlink(missing_ok=True)


def mapping_schema(*, owners: bool = False) -> Any:
    """The Arrow schema of the mapping's columns (explicit: a column may hold only NULLs)."""
    import pyarrow as pa

    strings = {
        "provider",
        "region",
        "status",
        "reason",
        "kind",
        "method",
        "instance_type",
        "type_source",
        "utilization_source",
        PERIOD,
        *OWNER_COLUMNS,
    }
    fields = []
    for name in MAPPING_COLUMNS + (OWNER_COLUMNS if owners else []):
        if name == LINE_KEY:
            kind: Any = pa.int64()
        elif name in strings:
            kind = pa.string()
        elif name in ("use_pricing", "market_known"):
            kind = pa.bool_()
        else:
            kind = pa.float64()
        fields.append(pa.field(name, kind))
    return pa.schema(fields)


def _is_duckdb(con: Any) -> bool:
    return "duckdb" in type(con).__module__


def carbon_mapping(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    store: FactStore | None = None,
) -> pd.DataFrame:
    """The carbon mapping as a frame, one row per billing period and ``line_key``.

    For small lookups and exports; reports read the persisted parts in place instead.
    """
    files = mapping_file(facts, coefficients, resources, method=method, store=store)
    if files is None:
        return _empty(MAPPING_COLUMNS)
    return _expand_frames(facts, pd.read_parquet(files.keyed), pd.read_parquet(files.monthly))


__all__ = [
    "FACTOR_COLUMNS",
    "KEY_COLUMNS",
    "MAPPING_COLUMNS",
    "NOT_ESTIMATED",
    "NOT_USAGE",
    "OWNER_COLUMNS",
    "MappingFiles",
    "Owners",
    "build_mapping",
    "build_parts",
    "carbon_mapping",
    "expand",
    "factors_for",
    "mapping_file",
    "mapping_fingerprint",
    "mapping_parts",
    "mapping_schema",
]
