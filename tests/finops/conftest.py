"""Fixtures of FinOps tests: a small catalog, and facts read back after ingestion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sentier.analytics import duckdb_connection
from sentier.finops import Facts, load_rules, load_snapshot
from sentier.store import session_scope
from tests.finops.finops_helpers import ingest_org


@pytest.fixture
def catalog(sqlite_engine: Engine, tmp_path: Path) -> Engine:
    """A small organisation in the catalog: acme > product > team-a, team-b; acme > team-c."""
    return ingest_org(sqlite_engine, tmp_path)


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
