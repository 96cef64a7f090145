"""Without the optional boaviztapi package: a message saying how to install it, no traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from sentier.cli import app
from sentier.greenops import (
    BoaviztaUnavailable,
    GreenOpsError,
    boavizta_available,
    boavizta_instance_hours,
)
from tests.api.conftest import app_engine, client, tokens
from tests.finops.finops_helpers import line, write_focus
from tests.greenops.conftest import FOCUS_COLUMNS

__all__ = ["app_engine", "client", "tokens"]
runner = CliRunner()
HINT = "pip install --no-deps boaviztapi==2.5.0 rapidfuzz toml"
M5 = "$0.112 per On Demand Linux m5.large Instance Hour"
ESTIMATE = ["carbon", "estimate", "--provider", "aws", "--instance-type", "m5.large"]


def _forget_boavizta(monkeypatch: pytest.MonkeyPatch) -> None:
    """As a fresh process has it: nothing of boaviztapi imported yet, no figure cached."""
    for name in [n for n in sys.modules if n == "boaviztapi" or n.startswith("boaviztapi.")]:
        monkeypatch.delitem(sys.modules, name)
    boavizta_instance_hours.cache_clear()


@pytest.fixture(params=["boaviztapi", "rapidfuzz"])
def without_boavizta(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """boaviztapi absent, or installed without its rapidfuzz dependency (``--no-deps``)."""
    _forget_boavizta(monkeypatch)
    monkeypatch.setitem(sys.modules, str(request.param), None)
    yield str(request.param)
    _forget_boavizta(monkeypatch)


def test_the_library_says_how_to_install_it(without_boavizta: str) -> None:
    assert boavizta_available() is False
    with pytest.raises(BoaviztaUnavailable) as error:
        boavizta_instance_hours("aws", "m5.large", "eu-west-3", 0.5, 1.0)
    assert isinstance(error.value, GreenOpsError)
    assert HINT in str(error.value) and without_boavizta in str(error.value)


def test_the_cli_says_how_to_install_it(
    without_boavizta: str, catalog: Engine, tmp_path: Path
) -> None:
    result = runner.invoke(app, [*ESTIMATE, "--region", "eu-west-3", "--method", "boavizta"])
    assert result.exit_code == 1
    assert HINT in result.output.replace("\n", "") and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    # CCF alone still works.
    assert runner.invoke(app, [*ESTIMATE, "--region", "eu-west-3"]).exit_code == 0
    bill = write_focus(
        tmp_path / "bill.csv", [line(ChargeDescription=M5, cost="0.112")], FOCUS_COLUMNS
    )
    assert runner.invoke(app, ["cost", "ingest", str(bill)]).exit_code == 0
    result = runner.invoke(app, ["carbon", "report", "--method", "boavizta"])
    assert result.exit_code == 1 and HINT in result.output.replace("\n", "")
    assert runner.invoke(app, ["carbon", "report"]).exit_code == 0


def test_the_api_and_portal_say_how_to_install_it(
    without_boavizta: str, app_engine: Engine, client: TestClient, tokens: Any, tmp_path: Path
) -> None:
    headers = tokens.header("viewer")
    query = "provider=aws&instance_type=m5.large&region=eu-west-3&method=boavizta"
    response = client.get(f"/api/v1/greenops/estimate?{query}", headers=headers)
    assert response.status_code == 501
    problem = response.json()
    assert problem["type"].endswith("greenops-boavizta-unavailable")
    assert HINT in problem["detail"]
    # The portal's estimate page says so, and still shows CCF's figure.
    page = client.get(f"/greenops/estimate?{query}", headers=headers)
    assert page.status_code == 200
    assert HINT in page.text and "Cloud Carbon Footprint" in page.text
    path = write_focus(tmp_path / "bill.csv", [line(ChargeDescription=M5)], FOCUS_COLUMNS)
    from sentier.finops import ingest

    assert ingest(app_engine, [path]).ok
    report = client.get("/api/v1/greenops/report?method=boavizta", headers=headers)
    assert report.status_code == 501 and HINT in report.json()["detail"]
    assert client.get("/api/v1/greenops/report", headers=headers).status_code == 200
