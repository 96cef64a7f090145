"""Fixtures of FinOps tests: a small catalog, and facts read back after ingestion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.finops import Facts, load_rules, load_snapshot
from sentier.store import session_scope
from tests.finops.finops_helpers import ORG


@pytest.fixture
def catalog(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """A small organisation in the catalog: acme > product > team-a, team-b; acme > team-c."""
    from sentier.catalog import ingest_source

    path = tmp_path / "catalog" / "catalog-info.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump_all(ORG), encoding="utf-8")
    with session_scope(sqlite_engine) as session:
        report = ingest_source(session, [path], check_dangling=False)
    assert report.ok, report.problems
    return sqlite_engine


@pytest.fixture
def facts_of(catalog: Engine) -> Iterator[Callable[..., tuple[Facts, Any, Any]]]:
    """Facts, catalog snapshot and rules of what has been ingested so far."""
    con = duckdb_connection()

    def build(rules_path: Path | None = None) -> tuple[Facts, Any, Any]:
        with session_scope(catalog) as session:
            snapshot = load_snapshot(session)
        return Facts(con), snapshot, load_rules(rules_path)

    yield build
    con.disconnect()
