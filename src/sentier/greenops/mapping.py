"""Carbon factors of every line description: what one unit of each line emits.

Like FinOps' allocation mapping, this works on the *distinct* descriptions of the facts (the
``keys`` table), not on the lines: each is classified (``classify``), joined to what users
said about its resource (instance type, measured CPU utilisation), and given per-unit factors
by the model (``model``), evaluated with numpy over all keys at once. The result, one row per
``line_key``, is cached as Parquet until the facts, the coefficients, the resource facts or
the method change; reports multiply it by the quantities of the lines in one Ibis expression.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

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
MAPPING_VERSION = "2"
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
    LINE_KEY,
    "status",
    "reason",
    "kind",
    "method",
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


def _labels(size: int, *choices: tuple[pd.Series, str]) -> list[str | None]:
    """Per row, the label of the last choice whose mask is true (None where none is)."""
    out: list[str | None] = [None] * size
    for mask, label in choices:
        for index in np.flatnonzero(mask.to_numpy()):
            out[index] = label
    return out


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


def _usage_frame(coefficients: Coefficients, signatures: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for record in signatures.to_dict("records"):
        usage: Usage = classify(coefficients, {str(k): v for k, v in record.items()})
        rows.append(
            {
                "sig": record["sig"],
                "u_status": usage.status,
                "u_reason": usage.reason,
                "kind": usage.kind,
                "provider": usage.provider,
                "region": usage.region,
                "per_unit": usage.per_unit,
                "use_pricing": usage.use_pricing,
                "inline_type": usage.instance_type,
                "medium": usage.medium,
                "replication": usage.replication,
            }
        )
    return pd.DataFrame(rows)


def _group_factors(
    coefficients: Coefficients, groups: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Linear factor columns per (kind, provider, region, type, medium, replication)."""
    out: list[dict[str, Any]] = []
    for record in groups.to_dict("records"):
        try:
            f = factors_for(
                coefficients,
                record["kind"],
                record["provider"],
                record["region"] or "",
                instance_type=record["instance_type"],
                medium=record["medium"],
                replication=record["replication"],
            )
        except GreenOpsError as error:
            out.append({"group": record["group"], "g_error": str(error)})
            continue
        row: dict[str, Any] = {"group": record["group"], "g_error": None}
        for component in COMPONENTS:
            value = f.components.get(component)
            row[f"c_{component}_a"] = value.a if value else 0.0
            row[f"c_{component}_b"] = value.b if value else 0.0
        row.update(
            {
                "it_lo_a": f.it_low.a,
                "it_lo_b": f.it_low.b,
                "it_hi_a": f.it_high.a,
                "it_hi_b": f.it_high.b,
                "pue": f.pue,
                "pue_lo": f.pue_low,
                "pue_hi": f.pue_high,
                "gl": f.grid_location,
                "gl_lo": f.grid_location_low,
                "gl_hi": f.grid_location_high,
                "gm": f.grid_market,
                "gm_lo": f.grid_market_low,
                "gm_hi": f.grid_market_high,
                "market_known": f.market_known,
                "s3": f.scope3,
                "s3_lo": f.scope3_low,
                "s3_hi": f.scope3_high,
            }
        )
        out.append(row)
    frame = pd.DataFrame(out)
    return frame, [c for c in frame.columns if c not in ("group", "g_error")]


def build_mapping(
    keys: pd.DataFrame,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    boavizta_hours: Callable[..., Any] | None = None,
) -> pd.DataFrame:
    """Per-unit carbon factors of every key (see module doc); ``keys`` holds ``PERIOD``,
    ``LINE_KEY``, ``ResourceId`` and the ``SIGNATURE`` columns."""
    if method not in METHODS:
        raise GreenOpsError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    frame = keys.drop_duplicates(LINE_KEY).reset_index(drop=True)
    if frame.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in MAPPING_COLUMNS})
    for column in [*SIGNATURE, "ResourceId", PERIOD]:
        if column not in frame:
            frame[column] = None
        frame[column] = _text(frame[column])
    filled = frame[SIGNATURE].fillna("\x00")
    frame["sig"] = filled.groupby(SIGNATURE, sort=False).ngroup()
    signatures = frame.drop_duplicates("sig")[["sig", *SIGNATURE]]
    usage = _usage_frame(coefficients, signatures)
    frame = frame.merge(usage, on="sig", how="left")

    # The instance type: named on the line, else imported for its resource.
    hinted = frame["ResourceId"].map(lambda r: resources.instance_types.get(r) if r else None)
    frame["instance_type"] = frame["inline_type"].where(frame["inline_type"].notna(), hinted)
    frame["type_source"] = _labels(
        len(frame),
        (hinted.notna(), "resource facts"),
        (frame["inline_type"].notna(), "billing line"),
    )
    frame["status"] = frame["u_status"]
    frame["reason"] = frame["u_reason"]
    is_instance = (frame["kind"] == "instance") & (frame["status"] == ESTIMATED)
    untyped = is_instance & frame["instance_type"].isna()
    frame.loc[untyped, "status"] = NOT_ESTIMATED
    frame.loc[untyped, "reason"] = (
        "usage hours without an instance type: name it in the billing (SkuPriceDetails) or "
        "import it per resource (sentier carbon resources import)"
    )
    not_instance = frame["kind"] != "instance"
    frame.loc[not_instance, "instance_type"] = None
    frame.loc[not_instance, "type_source"] = None

    estimated = frame["status"] == ESTIMATED
    group_columns = ["kind", "provider", "region", "instance_type", "medium", "replication"]
    grouped = frame.loc[estimated, group_columns].fillna("\x00")
    frame["group"] = -1
    if estimated.any():
        frame.loc[estimated, "group"] = grouped.groupby(group_columns, sort=False).ngroup()
    groups = frame.loc[estimated].drop_duplicates("group")[["group", *group_columns]]
    factor_frame, factor_columns = _group_factors(coefficients, groups)
    if not factor_frame.empty:
        frame = frame.merge(factor_frame, on="group", how="left")
        failed = frame["g_error"].notna() & (frame["status"] == ESTIMATED)
        frame.loc[failed, "status"] = NOT_ESTIMATED
        frame.loc[failed, "reason"] = frame.loc[failed, "g_error"]
    for column in factor_columns or []:
        frame[column] = frame[column].fillna(0.0) if column != "market_known" else frame[column]
    estimated = frame["status"] == ESTIMATED

    # Utilisation: measured for the resource and month, else the provider's default.
    defaults = frame["provider"].map(
        lambda p: (
            coefficients.providers[p].default_utilization if p in coefficients.providers else 0.5
        )
    )
    measured = pd.Series(
        [
            resources.utilization_of(r, p)
            for r, p in zip(frame["ResourceId"], frame[PERIOD], strict=True)
        ],
        index=frame.index,
        dtype="float64",
    )
    has_measure = measured.notna()
    u = measured.where(has_measure, defaults).astype("float64").to_numpy()
    u_default_lo, u_default_hi = coefficients.uncertainty.utilization_default
    delta = coefficients.uncertainty.utilization_measured
    u_lo = np.where(has_measure, np.clip(u - delta, 0, 1), u_default_lo)
    u_hi = np.where(has_measure, np.clip(u + delta, 0, 1), u_default_hi)
    frame["utilization"] = np.where(frame["kind"].isin(["instance", "vcpu", "function"]), u, np.nan)
    busy = frame["kind"].isin(["instance", "vcpu", "function"])
    frame["utilization_source"] = _labels(
        len(frame), (busy, "default"), (busy & has_measure, "measured")
    )

    def col(name: str) -> np.ndarray:
        if name in frame:
            return frame[name].fillna(0.0).astype("float64").to_numpy()
        return np.zeros(len(frame))

    per = frame["per_unit"].fillna(0.0).astype("float64").to_numpy() * estimated.to_numpy()
    it = np.zeros(len(frame))
    for component in COMPONENTS:
        value = col(f"c_{component}_a") + col(f"c_{component}_b") * u
        frame[f"f_{component}"] = value * per
        it += value
    it_lo = col("it_lo_a") + col("it_lo_b") * u_lo
    it_hi = col("it_hi_a") + col("it_hi_b") * u_hi
    kwh = it * col("pue")
    kwh_lo, kwh_hi = it_lo * col("pue_lo"), it_hi * col("pue_hi")
    frame["f_kwh"] = kwh * per
    frame["f_s2l"] = kwh * col("gl") * per
    frame["f_s2l_lo"] = kwh_lo * col("gl_lo") * per
    frame["f_s2l_hi"] = kwh_hi * col("gl_hi") * per
    frame["f_s2m"] = kwh * col("gm") * per
    frame["f_s2m_lo"] = kwh_lo * col("gm_lo") * per
    frame["f_s2m_hi"] = kwh_hi * col("gm_hi") * per
    frame["f_s3"] = col("s3") * per
    frame["f_s3_lo"] = col("s3_lo") * per
    frame["f_s3_hi"] = col("s3_hi") * per
    frame["market_known"] = (
        frame["market_known"].fillna(False).astype(bool) if "market_known" in frame else False
    )
    frame["method"] = _labels(len(frame), (estimated, "ccf"))
    if method == "boavizta":
        _apply_boavizta(frame, u, boavizta_hours or boavizta.instance_hours)
    frame[LINE_KEY] = frame[LINE_KEY].astype("int64")
    frame["use_pricing"] = frame["use_pricing"].fillna(False).astype(bool)
    frame["per_unit"] = frame["per_unit"].fillna(0.0).astype("float64")
    return frame[MAPPING_COLUMNS].reset_index(drop=True)


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


def key_inputs(facts: Facts) -> pd.DataFrame:
    """The columns of the facts' keys the mapping reads."""
    keys = facts.keys()
    available = set(keys.columns)
    wanted = [PERIOD, LINE_KEY, "ResourceId", *[c for c in SIGNATURE if c in available]]
    frame: pd.DataFrame = keys.select(wanted).to_pandas()
    return frame


def carbon_mapping(
    facts: Facts,
    coefficients: Coefficients,
    resources: ResourceFacts,
    *,
    method: str = "ccf",
    store: FactStore | None = None,
) -> pd.DataFrame:
    """The carbon mapping of the facts, cached until any of its inputs changes."""
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
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError):
            path.unlink(missing_ok=True)
    mapping = build_mapping(key_inputs(facts), coefficients, resources, method=method)
    if facts.periods:
        cache.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(
            f".{hashlib.sha1(str(id(mapping)).encode()).hexdigest()[:6]}.tmp"
        )
        mapping.to_parquet(temporary, index=False)
        temporary.replace(path)
        for old in sorted(cache.glob("carbon-*.parquet"), key=lambda p: p.stat().st_mtime)[:-8]:
            old.unlink(missing_ok=True)
    return mapping


__all__ = [
    "FACTOR_COLUMNS",
    "MAPPING_COLUMNS",
    "NOT_ESTIMATED",
    "NOT_USAGE",
    "build_mapping",
    "carbon_mapping",
    "factors_for",
]
