"""The incident pages as a browser sees them: list, incident with its graph, ack, sections."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.aiops.api.test_incidents_api import STORM, alert, webhook
from tests.api.conftest import Tokens


def _login(client: TestClient, token: str) -> None:
    form = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    done = client.post("/login", data={"token": token, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def _storm(client: TestClient, tokens: Tokens) -> str:
    assert client.post("/api/v1/alerts", json=STORM, headers=tokens.header("editor")).is_success
    billing = webhook(alert("billing", "HighLatency", "2026-11-02T15:00:00Z"))
    assert client.post("/api/v1/alerts", json=billing, headers=tokens.header("editor")).is_success
    items = client.get("/api/v1/incidents", headers=tokens.header("viewer")).json()["items"]
    return next(i["key"] for i in items if i["root_cause"] == "resource:default/orders-db")


def test_viewer_sees_the_list_the_incident_its_graph_and_entity_sections(
    client: TestClient, tokens: Tokens
) -> None:
    key = _storm(client, tokens)
    _login(client, tokens.viewer)
    home = client.get("/")
    assert 'href="/incidents"' in home.text  # the sidebar entry
    listing = client.get("/incidents?status=open")
    assert listing.status_code == 200
    assert (
        f'href="/incidents/{key}"' in listing.text and "DatabaseDown on orders-db" in listing.text
    )
    assert 'href="/api/v1/incidents?status=open"' in listing.text  # its JSON twin
    page = client.get(f"/incidents/{key}")
    assert page.status_code == 200
    assert (
        "Likely root cause" in page.text
        and "explains 1 of 1 other alerting entities (they depend on it)" in page.text
    )
    svg = page.text[page.text.index("<svg") : page.text.index("</svg>")]
    assert 'class="node k-resource focus"' in svg and "orders-db" in svg and "checkout" in svg
    assert "HighErrorRate" in page.text and "opened by DatabaseDown" in page.text
    assert "Acknowledge</button>" not in page.text  # a viewer may not
    assert client.get("/incidents/0123abcd").status_code == 404
    entity = client.get("/catalog/resource/default/orders-db")
    assert ">Incidents <a" in entity.text and f'href="/incidents/{key}"' in entity.text
    group = client.get("/catalog/group/default/team-a")
    assert "Incidents of what it owns" in group.text and f'href="/incidents/{key}"' in group.text
    other = client.get("/catalog/group/default/team-b")
    assert (
        "Incidents of what it owns" in other.text and f'href="/incidents/{key}"' not in other.text
    )


def test_owner_acknowledges_from_the_page_with_csrf(client: TestClient, tokens: Tokens) -> None:
    key = _storm(client, tokens)
    _login(client, tokens.editor)
    page = client.get(f"/incidents/{key}")
    assert "Acknowledge</button>" in page.text
    forged = client.post(f"/incidents/{key}/ack", data={}, follow_redirects=False)
    assert forged.status_code == 403
    done = client.post(
        f"/incidents/{key}/ack", data={"csrf": _csrf(page.text)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == f"/incidents/{key}?acked=true"
    after = client.get(done.headers["location"])
    assert "Acknowledged:" in after.text and "by team-a-ci" in after.text
    assert "Acknowledge</button>" not in after.text
    billing = client.get("/api/v1/incidents?status=open", headers=tokens.header("viewer"))
    (other,) = billing.json()["items"]
    assert "Acknowledge</button>" not in client.get(f"/incidents/{other['key']}").text
