"""The FinOps pages as a browser gets them: charts and tables, JSON twins, budget forms."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier.store import session_scope
from sentier.store.models import AuditEvent, FinopsBudget
from tests.api.conftest import Tokens
from tests.api.finops_billing import ingest_known
from tests.web.test_portal import _login, _page_csrf


def _no_inline_style_or_script(html: str) -> None:
    """The CSP forbids them: the page would render unstyled or broken."""
    assert not re.search(r"\sstyle=", html)
    assert "<style" not in html and "<script" not in html


def test_pages_without_billing_say_how_to_get_some(client: TestClient, tokens: Tokens) -> None:
    _login(client, tokens.viewer)
    page = client.get("/finops")
    assert page.status_code == 200 and "sentier cost ingest" in page.text
    # No cost section on entity pages before any billing was ingested.
    assert 'id="cost"' not in client.get("/catalog/group/default/team-a").text


def test_overview_draws_charts_with_tables_beside_them(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    ingest_known(app_engine, tmp_path)
    _login(client, tokens.viewer)
    page = client.get("/finops")
    assert page.status_code == 200
    html = page.text
    _no_inline_style_or_script(html)
    assert 'href="/finops"' in html and ">FinOps<" in html  # in the sidebar
    assert 'href="/api/v1/finops/overview"' in html  # its JSON twin
    svgs = re.findall(r"<svg[^>]*role=\"img\"[^>]*>\s*<title id=\"([^\"]+)\">([^<]+)</title>", html)
    titles = {title for _, title in svgs}
    assert "Spend per month by owner (USD)" in titles
    assert "Top owners in 2024-09 (USD)" in titles
    # September's bar of team-a's own cost, with its amount, and the same figure in a table.
    assert "Sep 24: team-a: 145.00 USD" in html
    assert re.search(r">team-a</a></th><td class=\"num\">145.00 USD", html)
    assert "+45.0 %" in html  # team-a: 100 -> 145 month over month


def test_showback_page_follows_the_api_and_indents_child_groups(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    ingest_known(app_engine, tmp_path)
    _login(client, tokens.viewer)
    page = client.get("/finops/showback", params={"by": "group", "period": "2024-09"})
    assert page.status_code == 200
    _no_inline_style_or_script(page.text)
    assert 'href="/api/v1/finops/showback?by=group&amp;period=2024-09"' in page.text
    assert 'class="depth-1"><a href="/finops/groups/default/team-a1">team-a1</a>' in page.text
    assert "balanced" in page.text
    assert client.get("/finops/showback", params={"by": "nonsense"}).status_code == 422
    for path in ("/finops/tags", "/finops/allocation", "/finops/economics", "/finops/ingestions"):
        response = client.get(path)
        assert response.status_code == 200, path
        _no_inline_style_or_script(response.text)
    assert "i-stray" in client.get("/finops/tags").text
    assert "team-tag" in client.get("/finops/allocation").text


def test_group_cost_page_and_entity_sections(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    ingest_known(app_engine, tmp_path)
    _login(client, tokens.viewer)
    group = client.get("/finops/groups/default/team-a")
    assert group.status_code == 200
    _no_inline_style_or_script(group.text)
    assert "Cost of team-a" in group.text and 'href="/finops/groups/default/team-a1"' in group.text
    assert "355.00 USD" in group.text  # six months... here two, with the child group
    assert client.get("/finops/groups/default/ghost").status_code == 404
    entity = client.get("/catalog/group/default/team-a")
    assert (
        'id="cost"' in entity.text and 'href="/api/v1/finops/groups/default/team-a"' in entity.text
    )
    assert 'href="/finops/groups/default/team-a"' in entity.text
    component = client.get("/catalog/component/default/checkout").text
    assert 'href="/api/v1/finops/entities/component/default/checkout"' in component
    assert "145.00 USD" in component and "<svg" in component
    # An entity with no cost gets no section.
    assert 'id="cost"' not in client.get("/catalog/component/default/billing").text


def test_budget_forms_for_editors_of_their_groups_with_csrf(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    ingest_known(app_engine, tmp_path)
    _login(client, tokens.editor)
    page = client.get("/finops/budgets")
    csrf = _page_csrf(page.text)
    form = {
        "csrf": csrf,
        "name": "orders",
        "scope": "team-a1",
        "amount": "1,000",
        "currency": "USD",
        "thresholds": "50,80",
    }
    saved = client.post("/finops/budgets", data=form, follow_redirects=False)
    assert saved.status_code == 303
    listing = client.get("/finops/budgets").text
    assert "orders" in listing and "1,000.00 USD" in listing and "Remove" in listing
    _no_inline_style_or_script(listing)
    bad = client.post("/finops/budgets", data={**form, "amount": "lots"})
    assert bad.status_code == 400 and "amount" in bad.text and 'value="lots"' in bad.text
    theirs = client.post("/finops/budgets", data={**form, "name": "b", "scope": "team-b"})
    assert theirs.status_code == 403
    forged = client.post("/finops/budgets", data={**form, "csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    removed = client.post(
        "/finops/budgets/orders/delete", data={"csrf": csrf}, follow_redirects=False
    )
    assert removed.status_code == 303
    with session_scope(app_engine) as session:
        assert session.scalars(select(FinopsBudget)).all() == []
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("finops.budget.%"))
        ).all()
    assert actions == ["finops.budget.create", "finops.budget.delete"]


def test_viewers_see_budgets_without_forms(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    ingest_known(app_engine, tmp_path)
    _login(client, tokens.viewer)
    page = client.get("/finops/budgets").text
    assert "Set a budget" not in page
    csrf = _page_csrf(page)
    refused = client.post("/finops/budgets", data={"csrf": csrf, "name": "x", "scope": "team-a"})
    assert refused.status_code == 403


def test_broken_rules_on_the_server_are_reported_not_a_broken_page(
    client: TestClient, tokens: Tokens, app_engine: Engine, tmp_path: Path
) -> None:
    from sentier.config import get_settings

    ingest_known(app_engine, tmp_path)
    rules = get_settings().home / "allocation.yaml"
    rules.write_text("rules:\n  - tag: team\n    annotation: x\n", encoding="utf-8")
    _login(client, tokens.viewer)
    entity = client.get("/catalog/group/default/team-a")
    assert entity.status_code == 200
    assert "allocation.yaml: row 2" in entity.text and "exactly one of" in entity.text
    api = client.get("/api/v1/finops/showback", headers=tokens.header("viewer"))
    assert api.status_code == 409 and "allocation.yaml" in api.json()["detail"]
