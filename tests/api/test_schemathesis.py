"""Property-based run of the OpenAPI schema: no 5xx, no response that breaks its own schema.

Bounded (a few examples per operation, no deadline) so that it fits in ``make test``; it runs as
an admin against a small real catalog, so every operation gets past authentication.
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
from sentier.store import dispose_engines, get_engine, session_scope, upgrade
from tests.api.conftest import write_catalog

app = create_app()
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
STATE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("schemathesis")
    previous = {k: os.environ.get(k) for k in ("SENTIER_HOME", "SENTIER_DATABASE_URL")}
    os.environ["SENTIER_HOME"] = str(home)
    os.environ["SENTIER_DATABASE_URL"] = f"sqlite:///{home / 'sentier.db'}"
    get_settings.cache_clear()
    engine = get_engine()
    upgrade(engine)
    with session_scope(engine) as session:
        ingest_source(session, [write_catalog(Path(home) / "catalog")], name="base")
        STATE["token"] = auth.create_token(session, name="fuzz", role="admin").secret
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
    """Override the suite-wide per-test home: this module shares one seeded database."""


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {STATE['token']}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
