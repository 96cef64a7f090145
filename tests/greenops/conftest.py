"""Fixtures of GreenOps tests: a small catalog, hand-made FOCUS lines ingested, a context."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.finops import Facts, ingest, load_rules, load_snapshot
from sentier.greenops import CarbonContext, load_coefficients, load_resource_facts
from sentier.store import session_scope
from tests.finops.finops_helpers import COLUMNS, ingest_org, write_focus

FOCUS_COLUMNS = [*COLUMNS, "SkuPriceDetails", "ResourceType"]


@pytest.fixture
def catalog(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """acme > product > team-a, team-b; acme > team-c; shop (team-b), checkout, orders-db."""
    return ingest_org(sqlite_engine, tmp_path)


@pytest.fixture
def bill(catalog: Engine, tmp_path: Path) -> Callable[[list[dict[str, Any]]], None]:
    """Ingest FOCUS rows (``tests.finops.finops_helpers.line``) as one billing file."""

    def write(rows: list[dict[str, Any]], name: str = "bill.csv") -> None:
        path = write_focus(tmp_path / "billing" / name, rows, FOCUS_COLUMNS)
        report = ingest(catalog, [path])
        assert report.ok, [str(p) for f in report.files for p in f.problems]

    return write


@pytest.fixture
def context(catalog: Engine) -> Iterator[Callable[..., CarbonContext]]:
    """A carbon context over what has been ingested so far (fresh resource facts each call)."""
    con = duckdb_connection()

    def build(method: str = "ccf", rules: Path | None = None) -> CarbonContext:
        with session_scope(catalog) as session:
            snapshot = load_snapshot(session)
            resources = load_resource_facts(session)
        return CarbonContext(
            Facts(con), snapshot, load_rules(rules), load_coefficients(), resources, method
        )

    yield build
    con.disconnect()
