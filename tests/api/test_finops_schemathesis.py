"""The FinOps operations fuzzed with billing in the store (``test_schemathesis`` has none, so
the reports there run on empty facts): no 5xx, no response breaking its schema.

Ingestion is left out: its fuzzed paths would make the server walk its own disk.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from sentier.api import create_app
from sentier.finops import ingest
from tests.api.conftest import asgi_schema, seeded_home
from tests.api.finops_billing import known_lines
from tests.finops.finops_helpers import write_focus

app = create_app(background=False)
schema = (
    asgi_schema(app)
    .include(path_regex="^/api/v1/finops/")
    .exclude(path_regex="^/api/v1/finops/ingestions$", method="POST")
)
STATE: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    home = tmp_path_factory.mktemp("finops-fuzz")
    with seeded_home(home) as (engine, token):
        STATE["token"] = token
        assert ingest(engine, [write_focus(home / "billing.csv", known_lines())]).ok
        yield


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
