"""Carbon factors of every line description: what one unit of each line emits.

Like FinOps' allocation mapping, this works on the *distinct* descriptions of the facts (the
``keys`` table), not on the lines: each distinct description is classified (``classify``),
joined to what users said about its resource (instance type, measured CPU utilisation), and
given per-unit factors by the model (``model``) for each distinct kind of usage; joining and
computing the factors of every key is one Ibis expression. The result, one row per billing
period and ``line_key``, is cached as Parquet until the facts, the coefficients, the resource
facts or the method change; reports multiply it by the quantities of the lines in one Ibis
expression.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd

from sentier.analytics import FactStore
from sentier.finops import Facts
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
MAPPING_VERSION = "4"
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
        elif pd.api.types.is_float_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
            types[str(name)] = "float64"
        else:
            types[str(name)] = "string"
    return ibis.schema(types)


def _resource_tables(resources: ResourceFacts) -> tuple[Any, Any]:
    types = pd.DataFrame(
        {
            "h_resource": list(resources.instance_types),
            "h_type": list(resources.instance_types.values()),
        }
    )
    util = pd.DataFrame(
        {
            "m_resource": [r for r, _ in resources.utilization],
            "m_period": [p for _, p in resources.utilization],
            "m_u": [float(v) for v in resources.utilization.values()],
        }
    )
    return (
        ibis.memtable(types, schema=ibis.schema({"h_resource": "string", "h_type": "string"})),
        ibis.memtable(
            util,
            schema=ibis.schema({"m_resource": "string", "m_period": "string", "m_u": "float64"}),
        ),
    )


def mapping_expr(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    temporary: list[str] | None = None,
) -> Any:
    """Ibis: the CCF carbon mapping of every key of ``facts`` (see module doc).

    Python only classifies the distinct descriptions and evaluates the model for the distinct
    (kind, provider, region, instance type, storage class) groups; joining them to the keys and
    computing every factor is one expression on the facts' backend.
    """
    keys = facts.keys()
    names = [c for c in SIGNATURE if c in keys.columns]
    k = keys.select(
        keys[PERIOD],
        keys[LINE_KEY],
        keys.ResourceId,
        **{f"s_{i}": keys[c].cast("string").fill_null(NULL) for i, c in enumerate(names)},
    )
    signatures = k.select([f"s_{i}" for i in range(len(names))]).distinct().to_pandas()
    if signatures.empty:
        return None
    usage_frame = _usage_frame(coefficients, signatures, names)
    usage = ibis.memtable(usage_frame, schema=_schema_of(usage_frame))
    e = k.join(usage, [f"s_{i}" for i in range(len(names))])
    types, util = _resource_tables(resources)
    e = e.left_join(types, e.ResourceId == types.h_resource)
    e = e.left_join(util, (e.ResourceId == util.m_resource) & (e[PERIOD] == util.m_period))
    always = util.filter(util.m_period == "").rename(a_resource="m_resource", a_u="m_u")
    e = e.left_join(always.select("a_resource", "a_u"), e.ResourceId == always.a_resource)
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
        u_measured=e.m_u.coalesce(e.a_u),
    )
    e = e.drop(*[f"s_{i}" for i in range(len(names))])
    if temporary is not None and _is_duckdb(facts.con):
        # Materialised once (the caller drops it): the distinct groups and the final factors
        # both read it.
        name = f"greenops_keys_{uuid.uuid4().hex[:12]}"
        facts.con.create_table(name, e, temp=True)
        temporary.append(name)
        e = facts.con.table(name)
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
            **{
                n: zero
                for n in (
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
                )
            },
            market_known=ibis.literal(False),
        )

    def col(name: str) -> Any:
        return e[name].fill_null(0.0)

    default_u = ibis.cases(
        *[
            (e.provider == name, p.default_utilization)
            for name, p in coefficients.providers.items()
        ],
        else_=0.5,
    )
    measured = e.u_measured.notnull()
    u = e.u_measured.coalesce(default_u)
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
        e[PERIOD],
        e[LINE_KEY],
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


def build_mapping(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    boavizta_hours: Callable[..., Any] | None = None,
) -> pd.DataFrame:
    """The carbon mapping as a frame (one row per ``line_key``), Boavizta's figures applied."""
    if method not in METHODS:
        raise GreenOpsError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    expr = mapping_expr(facts, coefficients, resources)
    if expr is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MAPPING_COLUMNS})
    frame: pd.DataFrame = expr.to_pandas().reset_index(drop=True)
    if method == "boavizta":
        u = frame["utilization"].fillna(0.5).astype("float64").to_numpy()
        _apply_boavizta(frame, u, boavizta_hours or boavizta.instance_hours)
    return frame[MAPPING_COLUMNS]


def _apply_boavizta(frame: pd.DataFrame, u: np.ndarray, hours_of: Callable[..., Any]) -> None:
    """Replace the instance-hour factors by Boavizta's where Boavizta knows the instance."""
    if not boavizta.available() and hours_of is boavizta.instance_hours:
        raise GreenOpsError(f"the Boavizta method needs boaviztapi: {boavizta.INSTALL_HINT}")
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


def mapping_file(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    store: FactStore | None = None,
) -> Path | None:
    """The cached Parquet file of the carbon mapping (built when missing); None without facts.

    Cached under ``SENTIER_HOME/facts/greenops/_cache`` until the facts, the coefficients,
    the resource facts, the method or this code's mapping version change.
    """
    if not facts.periods:
        return None
    if method not in METHODS:
        raise GreenOpsError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    fingerprint = hashlib.sha1(
        "|".join(
            [
                MAPPING_VERSION,
                str(facts.manifest.version),
                ",".join(facts.periods),
                coefficients.fingerprint,
                resources.fingerprint,
                method,
                (boavizta.version() or "-") if method == "boavizta" else "",
            ]
        ).encode("utf-8")
    ).hexdigest()[:20]
    cache = (store or facts.store).dataset("greenops").root / "_cache"
    path = cache / f"carbon-{fingerprint}.parquet"
    if path.is_file():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{uuid.uuid4().hex[:8]}.tmp")
    tables: list[str] = []
    try:
        expr = mapping_expr(facts, coefficients, resources, tables) if method == "ccf" else None
        if expr is not None and _is_duckdb(facts.con):
            facts.con.to_parquet(expr, str(temporary))
    finally:
        for name in tables:
            facts.con.con.execute(f"DROP TABLE IF EXISTS {name}")
    if not temporary.exists():
        build_mapping(facts, coefficients, resources, method=method).to_parquet(
            temporary, index=False
        )
    temporary.replace(path)
    for old in sorted(cache.glob("carbon-*.parquet"), key=lambda p: p.stat().st_mtime)[:-8]:
        old.unlink(missing_ok=True)
    return path


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
    """The carbon mapping as a frame (for explanations and small lookups)."""
    path = mapping_file(facts, coefficients, resources, method=method, store=store)
    if path is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MAPPING_COLUMNS})
    frame: pd.DataFrame = pd.read_parquet(path)
    return frame


__all__ = [
    "FACTOR_COLUMNS",
    "MAPPING_COLUMNS",
    "NOT_ESTIMATED",
    "NOT_USAGE",
    "build_mapping",
    "carbon_mapping",
    "factors_for",
    "mapping_expr",
    "mapping_file",
]
