"""GreenOps in the API and the portal: JSON twins, the overview, a line, the entity section."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sentier.finops import ingest
from sentier.greenops import estimate_instance, load_coefficients
from tests.api.conftest import app_engine, client, tokens
from tests.finops.finops_helpers import line, write_focus
from tests.greenops.conftest import FOCUS_COLUMNS

__all__ = ["app_engine", "client", "tokens"]
M5 = "$0.112 per On Demand Linux m5.large Instance Hour"


@pytest.fixture
def billed(app_engine: Engine, tmp_path: Path) -> Engine:
    rows = [
        line(
            ChargeDescription=M5,
            cost="0.112",
            ResourceId="i-1",
            tags={"team": "team-a", "service": "checkout"},
        ),
        line(ChargeDescription="mystery", cost="4", ResourceId="i-2"),
    ]
    path = write_focus(tmp_path / "bill.csv", rows, FOCUS_COLUMNS)
    assert ingest(app_engine, [path]).ok
    return app_engine


def test_api_without_billing_says_so(client: TestClient, tokens: Any) -> None:
    response = client.get("/api/v1/greenops/report", headers=tokens.header("viewer"))
    assert response.status_code == 200
    assert response.json()["available"] is False
    assert "sentier cost ingest" in response.json()["message"]
    response = client.get(
        "/api/v1/greenops/lines/0123456789abcdef", headers=tokens.header("viewer")
    )
    assert response.status_code == 404


def test_api_report_lines_explain_estimate(billed: Engine, client: TestClient, tokens: Any) -> None:
    headers = tokens.header("viewer")
    per_hour = estimate_instance(load_coefficients(), "aws", "m5.large", "eu-west-3").total
    report = client.get("/api/v1/greenops/report?by=group", headers=headers).json()
    rows = {r["key"]: r for r in report["rows"]}
    assert rows["group:default/team-a"]["total_kg"] == pytest.approx(per_hour)
    assert report["coverage"]["lines"]["not_estimated"] == 1
    lines = client.get("/api/v1/greenops/lines?top=5", headers=headers).json()["lines"]
    estimated = next(entry for entry in lines if entry["status"] == "estimated")
    explained = client.get(f"/api/v1/greenops/lines/{estimated['line_id']}", headers=headers)
    assert explained.status_code == 200
    assert explained.json()["estimate"]["total_kg"] == pytest.approx(per_hour, rel=1e-6)
    estimate = client.get(
        "/api/v1/greenops/estimate?provider=aws&instance_type=m5.large&region=eu-west-3&hours=1",
        headers=headers,
    ).json()
    assert round(estimate["ccf"]["total_kg"], 5) == 0.00139
    bad = client.get(
        "/api/v1/greenops/estimate?provider=aws&instance_type=zz.top&region=eu-west-3",
        headers=headers,
    )
    assert bad.status_code == 400 and "zz.top" in bad.json()["detail"]
    entity = client.get(
        "/api/v1/greenops/entities/component/default/checkout", headers=headers
    ).json()
    assert entity["available"] and entity["total_kg"] == pytest.approx(per_hour, rel=1e-6)
    summary = client.get("/api/v1/greenops/summary?year=2024", headers=headers).json()
    assert summary["scopes"]["scope3_embodied"]["kgCO2e"] == pytest.approx(
        estimate_instance(load_coefficients(), "aws", "m5.large", "eu-west-3").scope3, rel=1e-6
    )
    assert client.get("/api/v1/greenops/report").status_code == 401


def test_portal_pages_show_what_the_api_returns(
    billed: Engine, client: TestClient, tokens: Any
) -> None:
    headers = tokens.header("viewer")
    page = client.get("/greenops", headers=headers)
    assert page.status_code == 200
    assert "GreenOps" in page.text and "team-a" in page.text
    assert "Why not estimated" in page.text and "without an instance type" in page.text
    assert 'href="/api/v1/greenops/overview?method=ccf"' in page.text
    line_id = client.get("/api/v1/greenops/lines", headers=headers).json()["lines"][0]["line_id"]
    assert f"/greenops/lines/{line_id}" in page.text
    detail = client.get(f"/greenops/lines/{line_id}", headers=headers)
    assert detail.status_code == 200 and "Formula" in detail.text
    missing = client.get("/greenops/lines/not-a-line", headers=headers)
    assert missing.status_code == 400
    estimate = client.get("/greenops/estimate?method=ccf", headers=headers)
    assert estimate.status_code == 200 and "0.00139 kg" in estimate.text
    assert "eu-north-1" in estimate.text
    summary = client.get("/greenops/summary", headers=headers)
    assert summary.status_code == 200 and "Scope 2, market-based" in summary.text
    entity = client.get("/catalog/component/default/checkout", headers=headers)
    assert "Carbon footprint" in entity.text
    assert "/api/v1/greenops/entities/component/default/checkout" in entity.text
    group = client.get("/catalog/group/default/team-a", headers=headers)
    assert "Carbon footprint" in group.text
    nav = client.get("/", headers=headers)
    assert 'href="/greenops"' in nav.text
