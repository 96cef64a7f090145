"""The FinOps operations fuzzed with billing in the store (``test_schemathesis`` has none, so
the reports there run on empty facts): no 5xx, no response breaking its schema.

Ingestion is left out: its fuzzed paths would make the server walk its own disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from sentier import auth
from sentier.api import create_app
from sentier.catalog import ingest_source
from sentier.config import get_settings
from sentier.finops import ingest
from sentier.store import dispose_engines, get_engine, session_scope, upgrade
from tests.api.conftest import write_catalog
from tests.api.finops_billing import known_lines
from tests.finops.finops_helpers import write_focus

app = create_app(background=False)
schema = (
    schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    .include(path_regex="^/api/v1/finops/")
    .exclude(path_regex="^/api/v1/finops/ingestions$", method="POST")
)
STATE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("finops-fuzz")
    previous = {k: os.environ.get(k) for k in ("SENTIER_HOME", "SENTIER_DATABASE_URL")}
    os.environ["SENTIER_HOME"] = str(home)
    os.environ["SENTIER_DATABASE_URL"] = f"sqlite:///{home / 'sentier.db'}"
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        ingest_source(session, [write_catalog(Path(home) / "catalog")], name="base")
        STATE["token"] = auth.create_token(session, name="fuzz", role="admin").secret
    report = ingest(engine, [write_focus(Path(home) / "billing.csv", known_lines())])
    assert report.ok
    yield
    dispose_engines()
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def isolated_settings() -> None:
    """Override the suite-wide per-test home: this module shares one seeded store."""


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_finops_api_conforms_to_its_schema_with_data(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {STATE['token']}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
