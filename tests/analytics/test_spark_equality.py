"""The same Ibis allocation runs on PySpark and gives the same answer as on DuckDB.

That is the scale-out path: an organisation with billions of lines points the same
expressions at a Spark cluster. Runs Spark in local mode (Java is on the machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pytest
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.finops import (
    CatalogSnapshot,
    EntityInfo,
    Facts,
    Scope,
    allocate,
    allocated,
    evaluate,
    ingest,
    load_rules,
    mapping_table,
)
from sentier.finops.allocation import allocation_inputs
from tests.finops.finops_helpers import line, write_focus


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("sentier-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


SNAPSHOT = CatalogSnapshot.from_entities(
    [
        EntityInfo("group:default/org", "group", "org", None, None),
        EntityInfo("group:default/team-a", "group", "team-a", None, None, {}, "group:default/org"),
        EntityInfo("group:default/team-b", "group", "team-b", None, None, {}, "group:default/org"),
        EntityInfo("component:default/api", "component", "api", "group:default/team-b",
                   "system:default/shop"),
    ]
)  # fmt: skip


def _rows(rows: list[dict[str, Any]], keys: list[str]) -> list[tuple[Any, ...]]:
    def norm(value: Any) -> Any:
        if isinstance(value, Decimal):
            return value.normalize()
        if hasattr(value, "isoformat"):
            return str(value)[:10]
        return value

    return sorted(
        (tuple(norm(r.get(k)) for k in keys) for r in rows), key=lambda t: tuple(map(str, t))
    )


def test_allocation_on_pyspark_equals_duckdb(
    spark: Any, sqlite_engine: Engine, tmp_path: Path
) -> None:
    rows = []
    for day in range(1, 29):
        stamp = f"2024-09-{day:02d}"
        rows += [
            line(day=stamp, cost=f"{day}.0000000001", ResourceId="i-a", tags={"team": "team-a"}),
            line(day=stamp, cost="2.5", ResourceId="i-b", tags={"app": "api", "env": "prod"}),
            line(day=stamp, cost="0.3333333333", ResourceId="i-c"),
            line(day=stamp, cost="7", ResourceId="support", ServiceName="Support"),
        ]
    rows.append(line(day="2024-10-02", cost="-1.25", ResourceId="i-a", tags={"team": "team-a"}))
    ingest(sqlite_engine, [write_focus(tmp_path / "bill.csv", rows)])
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(
        "rules:\n  - tag: team\n  - tag: service\nshared:\n  - name: support\n"
        "    match: {service_name: [Support]}\n    split: proportional\n"
    )
    rules = load_rules(rules_path)

    duck = Facts(duckdb_connection())
    spark_facts = Facts(ibis.pyspark.connect(spark))
    mapping = evaluate(allocation_inputs(duck), SNAPSHOT, rules, duck.plan)
    spark_mapping = evaluate(allocation_inputs(spark_facts), SNAPSHOT, rules, duck.plan)
    assert _rows(mapping.to_dict("records"), list(mapping.columns)) == _rows(
        spark_mapping.to_dict("records"), list(mapping.columns)
    )

    keys = ["billing_period", "BillingCurrency", "owner_ref", "entity_ref", "system_ref",
            "rule", "pool", "ServiceName", "effective", "billed", "lines"]  # fmt: skip
    for daily in (False, True):
        on_duck = allocated(duck, mapping_table(mapping), key_dims=["ServiceName"], daily=daily)
        on_spark = allocated(
            spark_facts, mapping_table(mapping), key_dims=["ServiceName"], daily=daily
        )
        wanted = [*keys, "day"] if daily else keys
        duck_rows = on_duck.to_pandas().to_dict("records")
        spark_rows = on_spark.to_pandas().to_dict("records")
        assert len(duck_rows) == len(spark_rows) > 0
        assert _rows(duck_rows, wanted) == _rows(spark_rows, wanted)

    # The whole report, shared split included, is the same to the last digit.
    scope = Scope(periods=["2024-09", "2024-10"])
    report_keys = ["period", "currency", "owner_ref", "rule", "effective", "billed"]
    assert _rows(allocate(duck, SNAPSHOT, rules, scope=scope).rows, report_keys) == _rows(
        allocate(spark_facts, SNAPSHOT, rules, scope=scope).rows, report_keys
    )
