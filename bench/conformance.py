"""Conformance table: each standard interface of sentier checked by its real client or
validator, on the demo organisation.

    python bench/conformance.py [--corpora DIR] [--no-write]

Prints, and writes into docs/benchmarks.md, one row per client/validator: its version, what
was checked, and checks passed / total. The validators come from the packages that ship them
(see tests/_conformance/tools.py); the same checks run in the test suite.

To add a row (e.g. the Backstage catalog client): write a function ``(ctx: Demo) -> list[Row]``
and append it to ``CHECKS``; it may use ``ctx`` (demo home, a running server, tokens).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # the repository: tests._conformance

from _report import table, write_section
from tests._conformance import focus_checks, tools
from tests._conformance.sarif_checks import github_checks, schema_errors


@dataclass
class Row:
    client: str
    version: str
    what: str
    passed: int
    total: int
    note: str = ""


@dataclass
class Demo:
    home: Path
    corpora: Path | None
    base_url: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "SENTIER_HOME": str(self.home), **extra}
        env.pop("SENTIER_DATABASE_URL", None)
        return env

    def sentier(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sentier", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout


def _scan(ctx: Demo) -> Any:
    from sentier.policy import scan_paths

    return scan_paths([str(ctx.home / "demo" / "terraform")])


def sarif(ctx: Demo) -> list[Row]:
    from sentier.policy import render

    result = _scan(ctx)
    document = json.loads(render(result, "sarif"))
    schema, origin = tools.sarif_schema()
    errors = schema_errors(document, schema)
    checks = github_checks(document)
    results = len(document["runs"][0]["results"])
    return [
        Row(
            "OASIS SARIF 2.1.0 schema",
            f"{origin}, jsonschema {metadata.version('jsonschema')}",
            f"demo Terraform scan, {results} results",
            int(not errors),
            1,
            f"{len(errors)} errors",
        ),
        Row(
            "GitHub code scanning requirements",
            "sentier checks (tests/_conformance/sarif_checks.py)",
            "ruleIndex, helpUri, security-severity, partialFingerprints, %SRCROOT% locations",
            sum(1 for _, problems in checks if not problems),
            len(checks),
        ),
    ]


def junit(ctx: Demo) -> list[Row]:
    from sentier.policy import render

    document = render(_scan(ctx), "junit")
    rows = []
    for name, getter in (
        ("Jenkins xunit junit-10.xsd", tools.jenkins_junit_xsd),
        ("Apache Ant JUnit.xsd", tools.ant_junit_xsd),
    ):
        try:
            schema = getter()
        except tools.Unavailable as error:
            rows.append(Row(name, "unavailable", str(error), 0, 0))
            continue
        errors = tools.xsd_errors(document, schema)
        rows.append(
            Row(
                name,
                f"{schema.origin}; " + ", ".join(errors),
                "demo Terraform scan, one case per finding",
                sum(1 for found in errors.values() if not found),
                len(errors),
                f"{sum(len(found) for found in errors.values())} errors",
            )
        )
    return rows


def focus(ctx: Demo) -> list[Row]:
    from sentier.analytics import duckdb_connection
    from sentier.finops import Facts, load_rules, load_snapshot
    from sentier.finops.export import export_focus
    from sentier.store import get_engine, session_scope

    with session_scope(get_engine()) as session:
        snapshot = load_snapshot(session)
    con = duckdb_connection()
    target = ctx.home / "conformance" / "focus-export.csv"
    try:
        rules = load_rules(ctx.home / "demo" / "finops" / "allocation.yaml")
        summary = export_focus(Facts(con), snapshot, rules, target)
    finally:
        con.disconnect()
    if ctx.corpora is None:
        return [Row("focus-validator", "-", "needs the FOCUS column catalogue", 0, 0, "")]
    catalogued = focus_checks.catalogue(ctx.corpora)
    rows = []
    try:
        result = tools.run_focus_validator(target)
        ours = [c for c in result["checks"] if focus_checks.stale_rule(c, catalogued) is None]
        stale = [c for c in result["checks"] if c not in ours and c["outcome"] != "passed"]
        rows.append(
            Row(
                "FinOps Foundation focus-validator",
                result["validator"],
                f"FOCUS 1.0 rules, demo export ({summary['rows']:,} rows)",
                sum(1 for c in ours if c["outcome"] == "passed"),
                len(ours),
                f"{len(stale)} rules on pre-1.0 column names fail on any 1.0 dataset "
                "(docs/finops.md)",
            )
        )
    except tools.Unavailable as error:
        rows.append(Row("FinOps Foundation focus-validator", "unavailable", str(error), 0, 0))
    checks = focus_checks.check_export(target, catalogued)
    rows.append(
        Row(
            "FOCUS column catalogue (1.1-1.3 columns)",
            "sentier checks (tests/_conformance/focus_checks.py)",
            "type, format, nullability per column; x_ prefix of custom columns",
            sum(1 for _, problems in checks if not problems),
            len(checks),
        )
    )
    return rows


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(ctx: Demo) -> Iterator[None]:
    import httpx

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sentier", "serve", "--port", str(port)],
        env=ctx.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ctx.base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{ctx.base_url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


MCP_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("search_catalog", {"query": "payments"}),
    ("get_entity", {"ref": "component:default/payments"}),
    ("who_owns", {"ref": "orders-db"}),
    ("findings", {"ref": "group:team-payments"}),
    ("cost", {"ref": "team-payments", "periods": ["2026-10"]}),
    ("carbon", {"ref": "group:team-payments"}),
    ("open_incidents", {}),
]


async def _mcp_http(ctx: Demo) -> tuple[int, int, list[str]]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    from mcp import Client

    headers = {"Authorization": f"Bearer {ctx.tokens['admin']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120) as http,
        Client(streamable_http_client(f"{ctx.base_url}/mcp", http_client=http)) as client,
    ):
        listed = [t.name for t in (await client.list_tools()).tools]
        results = [await client.call_tool(name, args) for name, args in MCP_CALLS]
        items = (results[-1].structured_content or {}).get("items") or [{}]
        key = items[0].get("key", "none")
        results.append(await client.call_tool("incident", {"key": key}))
        results.append(await client.call_tool("acknowledge_incident", {"key": key}))
        terraform = str(ctx.home / "demo" / "terraform")
        results.append(await client.call_tool("scan_path", {"paths": [terraform]}))
    return sum(1 for r in results if not r.is_error), len(results), listed


async def _mcp_stdio(ctx: Demo) -> tuple[int, int, list[str]]:
    from mcp import Client, StdioServerParameters

    server = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sentier", "mcp"],
        env=ctx.env(SENTIER_TOKEN=ctx.tokens["viewer"]),
    )
    async with Client(server, read_timeout_seconds=120) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        results = [await client.call_tool(name, args) for name, args in MCP_CALLS]
    return sum(1 for r in results if not r.is_error), len(results), listed


def mcp(ctx: Demo) -> list[Row]:
    from sentier.mcp import READ_TOOLS, WRITE_TOOLS

    version = f"mcp {metadata.version('mcp')} (the SDK's Client)"
    with served(ctx):
        ok, total, listed = asyncio.run(_mcp_http(ctx))
    rows = [
        Row(
            "MCP client, streamable HTTP /mcp",
            version,
            f"admin token: {len(listed)} tools listed, {total} calls (every tool)",
            ok,
            total,
            "" if set(listed) == set(READ_TOOLS) | set(WRITE_TOOLS) else "tool list differs",
        )
    ]
    ok, total, listed = asyncio.run(_mcp_stdio(ctx))
    rows.append(
        Row(
            "MCP client, stdio `sentier mcp`",
            version,
            f"viewer token: {len(listed)} read tools listed, {total} calls",
            ok,
            total,
            "" if set(listed) == set(READ_TOOLS) else "tool list differs",
        )
    )
    return rows


# Each returns its rows of the table; another interface's check is appended here.
CHECKS: list[Callable[[Demo], list[Row]]] = [sarif, junit, focus, mcp]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", default=os.environ.get("SENTIER_CORPORA"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    corpora = Path(args.corpora) if args.corpora and os.path.isdir(args.corpora) else None
    with tempfile.TemporaryDirectory(prefix="sentier-conformance-") as tmp:
        ctx = Demo(Path(tmp), corpora)
        os.environ["SENTIER_HOME"] = tmp
        os.environ.pop("SENTIER_DATABASE_URL", None)
        ctx.sentier("demo", "up", "--no-serve")
        for role in ("viewer", "admin"):
            out = ctx.sentier("token", "create", "--name", f"bench-{role}", "--role", role)
            ctx.tokens[role] = out.strip().splitlines()[-1]
        rows: list[Row] = []
        for check in CHECKS:
            rows.extend(check(ctx))
    body = table(
        ["client / validator", "version", "checked", "passed / total", "note"],
        [(r.client, r.version, r.what, f"{r.passed} / {r.total}", r.note) for r in rows],
    )
    body += (
        "\n\nValidators come from the packages that ship them (tests/_conformance/tools.py); "
        "the test suite runs the same checks (tests/policy, tests/finops, tests/mcp)."
    )
    if args.no_write:
        print(body)
    else:
        write_section(
            "conformance", "Conformance of standard interfaces (bench/conformance.py)", body
        )
    return 0 if all(r.passed == r.total and r.total for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
