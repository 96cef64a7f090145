"""The MCP server driven by the MCP SDK's own client: over streamable HTTP against a running
``sentier serve`` (``/mcp``), and over stdio against ``sentier mcp``, on the demo organisation.
Same tokens, roles and audit trail as the API."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from sentier.mcp import READ_TOOLS, WRITE_TOOLS

ORDERS_DB_INCIDENT = "ReplicationLag on orders-db"


@dataclass
class Org:
    home: Path
    base_url: str
    tokens: dict[str, str]

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "SENTIER_HOME": str(self.home), **extra}
        env.pop("SENTIER_DATABASE_URL", None)
        return env

    def audit(self) -> list[dict[str, Any]]:
        from sentier.store.models import AuditEvent

        engine = create_engine(f"sqlite:///{self.home / 'sentier.db'}")
        try:
            with engine.connect() as connection:
                rows = connection.execute(select(AuditEvent).order_by(AuditEvent.id)).mappings()
                return [dict(row) for row in rows]
        finally:
            engine.dispose()


def _sentier(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sentier", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """The demo organisation served by a real ``sentier serve``, with tokens of each role."""
    home = tmp_path_factory.mktemp("mcp-home")
    org = Org(home, "", {})
    env = org.env()
    _sentier(env, "demo", "up", "--no-serve")
    for name, args in {
        "viewer": ["--role", "viewer"],
        "logistics": ["--role", "editor", "--group", "team-logistics"],
        "payments": ["--role", "editor", "--group", "team-payments"],
        "admin": ["--role", "admin"],
    }.items():
        out = _sentier(env, "token", "create", "--name", f"mcp-{name}", *args)
        org.tokens[name] = out.strip().splitlines()[-1]
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sentier", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    org.base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{org.base_url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(
            f"server did not start: {process.stdout.read() if process.stdout else ''}"
        )
    yield org
    process.terminate()
    process.wait(timeout=15)


async def _http(org: Org, token: str | None, calls: list[tuple[str, dict[str, Any]]]) -> Any:
    """List the tools and make ``calls`` with the SDK's client over streamable HTTP."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from mcp import Client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"{org.base_url}/mcp", http_client=http)) as client,
    ):
        listed = await client.list_tools()
        results = [await client.call_tool(name, args) for name, args in calls]
    return listed, results


def _json(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return dict(result.structured_content)


def _error(result: Any) -> str:
    assert result.is_error
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_read_tools_over_http_answer_from_the_catalog_findings_cost_and_incidents(
    org: Org,
) -> None:
    listed, results = asyncio.run(
        _http(
            org,
            org.tokens["viewer"],
            [
                ("search_catalog", {"query": "payments"}),
                ("get_entity", {"ref": "component:default/payments"}),
                ("who_owns", {"ref": "payments"}),
                ("findings", {"ref": "group:team-payments", "limit": 3}),
                ("cost", {"ref": "team-payments", "periods": ["2026-10"]}),
                ("carbon", {"ref": "group:team-payments"}),
                ("open_incidents", {"owner": "team-logistics"}),
                ("get_entity", {"ref": "component:default/no-such-thing"}),
            ],
        )
    )
    tools = {t.name: t for t in listed.tools}
    assert set(tools) == set(READ_TOOLS)
    assert all(t.annotations and t.annotations.read_only_hint for t in tools.values())
    search, entity, owner, findings, cost, carbon, incidents, missing = results
    assert "component:default/payments" in [i["ref"] for i in _json(search)["items"]]
    assert _json(entity)["entity"]["metadata"]["name"] == "payments"
    owned = _json(owner)
    assert owned["owner"] == "group:default/team-payments" and owned["members"]
    found = _json(findings)
    assert found["open"] > 0 and len(found["findings"]) == 3
    assert found["through"] == "owned entities"
    spent = _json(cost)
    assert spent["periods"] == ["2026-10"]
    assert [t["currency"] for t in spent["totals"]] == ["EUR"]
    assert float(spent["totals"][0]["total"]) > 0
    assert _json(carbon)["available"] is True
    open_ = _json(incidents)["items"]
    assert any(ORDERS_DB_INCIDENT in i["title"] for i in open_)
    assert {i["status"] for i in open_} <= {"open", "acknowledged"}
    assert "no entity component:default/no-such-thing" in _error(missing)


def test_an_incident_with_its_root_causes(org: Org) -> None:
    _, (incidents,) = asyncio.run(
        _http(org, org.tokens["viewer"], [("open_incidents", {"entity": "orders-db"})])
    )
    key = next(i["key"] for i in _json(incidents)["items"] if ORDERS_DB_INCIDENT in i["title"])
    _, (detail,) = asyncio.run(_http(org, org.tokens["viewer"], [("incident", {"key": key})]))
    shown = _json(detail)
    assert shown["root_causes"][0]["ref"] == "resource:default/orders-db"
    assert shown["alert_count"] == len(shown["alerts"]) > 1


def test_http_needs_a_bearer_token_and_records_failures(org: Org) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    anonymous = httpx.post(f"{org.base_url}/mcp", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.post(
        f"{org.base_url}/mcp", json=body, headers={"Authorization": "Bearer snt_nope_nope"}
    )
    assert wrong.status_code == 401
    # The portal's cookie is not a credential here, even a valid one.
    with httpx.Client(base_url=org.base_url) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        login = browser.post("/login", data={"token": org.tokens["admin"], "csrf": csrf[1]})
        assert login.status_code in (200, 303) and browser.get("/api/v1/me").status_code == 200
        with_cookie = browser.post("/mcp", json=body)
        assert with_cookie.status_code == 401
    failed = [e for e in org.audit() if e["action"] == "auth.failed" and e["target"] == "/mcp"]
    assert len(failed) >= 3


def test_only_post_is_served_so_no_request_stays_open(org: Org) -> None:
    """Stateless, the endpoint never sends a message unasked: a GET's event stream stayed open
    and idle for as long as the caller liked (one server task each), and DELETE had no session
    to end. Both are 405 now, which the protocol allows."""
    headers = {"Authorization": f"Bearer {org.tokens['viewer']}", "Accept": "text/event-stream"}
    for method in ("GET", "DELETE"):
        response = httpx.request(method, f"{org.base_url}/mcp", headers=headers, timeout=5)
        assert response.status_code == 405, method
        assert response.headers["allow"] == "POST"


def test_write_tools_only_for_roles_that_allow_them_with_ownership_and_audit(org: Org) -> None:
    _, (incidents,) = asyncio.run(_http(org, org.tokens["viewer"], [("open_incidents", {})]))
    key = next(i["key"] for i in _json(incidents)["items"] if ORDERS_DB_INCIDENT in i["title"])
    ack = ("acknowledge_incident", {"key": key, "note": "on it"})
    viewer_tools, (viewer_ack,) = asyncio.run(_http(org, org.tokens["viewer"], [ack]))
    assert not {t.name for t in viewer_tools.tools} & set(WRITE_TOOLS)
    assert viewer_ack.is_error
    # An editor of another team sees the write tools but may not acknowledge this incident.
    payments_tools, (refused,) = asyncio.run(_http(org, org.tokens["payments"], [ack]))
    assert set(WRITE_TOOLS) <= {t.name for t in payments_tools.tools}
    assert "forbidden: incident owned by group:default/team-logistics" in _error(refused)
    _, (done,) = asyncio.run(_http(org, org.tokens["logistics"], [ack]))
    assert _json(done)["status"] == "acknowledged"
    audit = org.audit()
    denied = [
        e for e in audit if e["outcome"] == "denied" and e["action"] == "mcp acknowledge_incident"
    ]
    assert denied and "mcp-payments" in denied[-1]["actor"]
    acked = [e for e in audit if e["action"] == "incident.ack" and e["outcome"] == "ok"]
    assert acked[-1]["target"] == f"incident:{key}" and "mcp-logistics" in acked[-1]["actor"]
    assert acked[-1]["details"] == {"note": "on it", "via": "mcp/http"}


def test_scan_path_follows_the_apis_rules(org: Org) -> None:
    # An editor scans inside the location of an entity their groups own (card-vault is
    # team-payments'), never elsewhere on the server.
    owned = org.home / "demo" / "catalog" / "services" / "card-vault"
    (owned / "infra.tf").write_text(
        'resource "aws_s3_bucket" "b" {\n  acl = "public-read"\n}\n', encoding="utf-8"
    )
    outside = str(org.home / "demo" / "terraform")
    _, (refused, scanned) = asyncio.run(
        _http(
            org,
            org.tokens["payments"],
            [
                ("scan_path", {"paths": [outside]}),
                ("scan_path", {"paths": [str(owned)], "packs": ["security"]}),
            ],
        )
    )
    assert "forbidden: may not scan" in _error(refused)
    result = _json(scanned)
    assert result["scan"]["id"] >= 1 and result["open"] > 0
    assert all(f["rule_id"] for f in result["findings"])
    actions = [(e["action"], e["outcome"]) for e in org.audit() if "mcp-payments" in e["actor"]]
    assert ("policy.scan", "ok") in actions and ("mcp scan_path", "denied") in actions


def _stdio(org: Org, token: str, calls: list[tuple[str, dict[str, Any]]], *args: str) -> Any:
    from mcp import Client, StdioServerParameters

    async def run() -> Any:
        server = StdioServerParameters(
            command=sys.executable,
            args=["-m", "sentier", "mcp", *args],
            env=org.env(SENTIER_TOKEN=token),
        )
        async with Client(server, read_timeout_seconds=120) as client:
            listed = await client.list_tools()
            return listed, [await client.call_tool(name, a) for name, a in calls]

    return asyncio.run(run())


def test_stdio_serves_the_same_tools_for_the_token_in_the_environment(org: Org) -> None:
    listed, (owner, findings) = _stdio(
        org,
        org.tokens["logistics"],
        [("who_owns", {"ref": "orders-db"}), ("findings", {"ref": "team-logistics"})],
    )
    assert {t.name for t in listed.tools} == set(READ_TOOLS) | set(WRITE_TOOLS)
    assert _json(owner)["owner"] == "group:default/team-logistics"
    assert "open" in _json(findings)
    read_only, _ = _stdio(org, org.tokens["admin"], [], "--read-only")
    assert {t.name for t in read_only.tools} == set(READ_TOOLS)


def test_stdio_token_is_checked_at_start_and_on_every_call(org: Org, tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "sentier", "mcp"],
        env=org.env(SENTIER_TOKEN="snt_bad_token"),
        capture_output=True,
        text=True,
        input="",
        timeout=60,
    )
    assert bad.returncode == 2 and "error: unauthenticated" in bad.stderr and bad.stdout == ""
    none = subprocess.run(
        [sys.executable, "-m", "sentier", "mcp"],
        env={k: v for k, v in org.env().items() if k != "SENTIER_TOKEN"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert none.returncode == 2 and "SENTIER_TOKEN" in none.stderr
    # A token revoked while the server runs stops working at its next call.
    out = _sentier(org.env(), "token", "create", "--name", "mcp-short", "--role", "viewer")
    token = out.strip().splitlines()[-1]
    token_id = token.split("_")[1]

    from mcp import Client, StdioServerParameters

    async def run() -> tuple[Any, Any]:
        server = StdioServerParameters(
            command=sys.executable,
            args=["-m", "sentier", "mcp"],
            env=org.env(SENTIER_TOKEN=token),
        )
        async with Client(server, read_timeout_seconds=120) as client:
            before = await client.call_tool("search_catalog", {"query": "orders"})
            await asyncio.to_thread(_sentier, org.env(), "token", "revoke", token_id)
            after = await client.call_tool("search_catalog", {"query": "orders"})
            return before, after

    before, after = asyncio.run(run())
    assert _json(before)["items"]
    assert "unauthenticated: token revoked" in _error(after)
