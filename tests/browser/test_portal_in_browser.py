"""A user in Chromium: log in, search, open an entity, follow a relation, see the graph."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import ARTIFACTS, Server


def _shot(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_search_entity_relation_graph(server: Server, page: Any) -> None:
    page.goto(f"{server.base_url}/catalog")
    assert page.url.startswith(f"{server.base_url}/login")
    _shot(page, "01-login")
    page.fill("#token", server.admin_token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/catalog")

    page.goto(f"{server.base_url}/")
    assert page.locator("h1").inner_text() == "Your organisation at a glance"
    assert (
        "team-ghost"
        in page.locator("#attention-h + *, section[aria-labelledby=attention-h]").first.inner_text()
    )
    _shot(page, "02-home")

    page.fill("#global-search", "checkout")
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalog?q=checkout")
    first = page.locator("table.table tbody tr td a.strong").first
    assert first.inner_text() == "Checkout"
    _shot(page, "03-search")
    first.click()
    page.wait_for_url("**/catalog/component/default/checkout")
    assert page.locator("h1").inner_text().strip() == "Checkout"
    graph = page.locator("svg.graph")
    assert graph.is_visible()
    assert graph.locator("g.node").count() >= 3
    _shot(page, "04-entity")

    page.locator('dl.relations a.ref[href="/catalog/system/default/storefront"]').first.click()
    page.wait_for_url("**/catalog/system/default/storefront")
    assert "Parts of this system" in page.content()
    assert page.locator("svg.graph g.node.focus").count() == 1
    _shot(page, "05-system-graph")

    page.locator("svg.graph g.node a").first.click()
    assert "/catalog/" in page.url
    _shot(page, "06-followed-from-graph")


def test_keyboard_and_no_outside_requests(server: Server, page: Any) -> None:
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(server.base_url) else None
        ),
    )
    page.goto(f"{server.base_url}/login")
    assert page.evaluate("document.activeElement.id") == "token"  # autofocus: type and go
    page.keyboard.type(server.admin_token)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{server.base_url}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(f"{server.base_url}/catalog/group/default/team-payments")
    assert "Owned by team-payments" in page.content()
    _shot(page, "07-group")
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{server.base_url}/catalog?kind=Component")
    _shot(page, "08-catalog-laptop")
    assert outside == []
