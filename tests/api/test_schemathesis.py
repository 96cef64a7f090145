"""Property-based run of the OpenAPI schema: no 5xx, no response that breaks its own schema.

Bounded (a few examples per operation, no deadline) so that it fits in ``make test``; it runs as
an admin against a small real catalog, so every operation gets past authentication.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from sentier.api import create_app
from tests.api.conftest import asgi_schema, seeded_home

app = create_app()
schema = asgi_schema(app)
STATE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with seeded_home(tmp_path_factory.mktemp("schemathesis")) as (_, token):
        STATE["token"] = token
        yield


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
