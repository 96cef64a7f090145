"""Backstage's own catalog client, unchanged, against a real ``sentier serve``.

``@backstage/catalog-client`` (npm) is installed once into a cache outside the repository
(``~/.cache/sentier-test-npm``, or ``SENTIER_TEST_NPM_CACHE``), then
``backstage_client/conformance.cjs`` calls every method of its ``CatalogClient`` on a server
started here with a small seeded catalog and a token per role, asserting what each answers and
the error class of each refusal. The table it produces is printed and must pass whole.

Without node and npm (or without the registry) the test is skipped, saying why; with
``SENTIER_REQUIRE_SERVICES=1`` (``.ci/run``) it fails instead.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import REQUIRE_SERVICES

CLIENT_DIR = Path(__file__).resolve().parent / "backstage_client"
CACHE = Path(
    os.environ.get("SENTIER_TEST_NPM_CACHE", str(Path.home() / ".cache" / "sentier-test-npm"))
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "conformance"


def _unavailable(message: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (required in CI: SENTIER_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def client_modules() -> Path:
    """``node_modules`` holding the client, installed by npm on first use (keyed by the
    manifest, so changing ``package.json`` installs anew); a lock keeps parallel runs apart."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        _unavailable("node and npm are needed to run @backstage/catalog-client")
    manifest = (CLIENT_DIR / "package.json").read_bytes()
    target = CACHE / f"catalog-client-{hashlib.sha256(manifest).hexdigest()[:12]}"
    installed = target / "node_modules" / "@backstage" / "catalog-client" / "package.json"
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            (target / "package.json").write_bytes(manifest)
            result = subprocess.run(
                [
                    npm or "npm",
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--no-package-lock",
                    "--omit=dev",
                    "--loglevel=error",
                ],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                _unavailable(
                    f"npm install of @backstage/catalog-client failed: {result.stderr[-800:]}"
                )
    return target / "node_modules"


def _doc(kind: str, name: str, spec: dict[str, object] | None = None, **meta: object) -> dict:  # type: ignore[type-arg]
    api_version = "backstage.io/v1alpha1"
    out: dict[str, object] = {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, **meta},
    }
    if spec is not None:
        out["spec"] = spec
    return out


def write_seed(root: Path) -> Path:
    """Ten entities: three groups, a system and its parts, a component of another team, and a
    Location leading to one more file (for ancestry)."""
    (root / "more").mkdir(parents=True)
    docs = [
        _doc("Group", "team-a", {"type": "team", "children": ["team-a1"]}),
        _doc("Group", "team-a1", {"type": "team", "parent": "team-a", "children": []}),
        _doc("Group", "team-b", {"type": "team", "children": []}),
        _doc("System", "shop", {"owner": "team-a"}),
        _doc(
            "Component",
            "checkout",
            {
                "type": "service",
                "lifecycle": "production",
                "owner": "team-a",
                "system": "shop",
                "providesApis": ["checkout-api"],
                "dependsOn": ["resource:orders-db"],
            },
        ),
        _doc(
            "API",
            "checkout-api",
            {
                "type": "openapi",
                "lifecycle": "production",
                "owner": "team-a",
                "system": "shop",
                "definition": "openapi: 3.0.0",
            },
        ),
        _doc("Resource", "orders-db", {"type": "database", "owner": "team-a1", "system": "shop"}),
        _doc(
            "Component",
            "billing",
            {"type": "service", "lifecycle": "production", "owner": "team-b"},
        ),
        _doc("Location", "more", {"type": "file", "target": "./more/catalog-info.yaml"}),
    ]
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    search = _doc(
        "Component", "search", {"type": "service", "lifecycle": "beta", "owner": "team-a"}
    )
    (root / "more" / "catalog-info.yaml").write_text(yaml.safe_dump(search, sort_keys=False))
    return root


@dataclass
class Served:
    url: str
    tokens: dict[str, str]
    work: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from sentier import auth
    from sentier.catalog import ingest_source
    from sentier.store import session_scope, upgrade
    from sentier.store.engine import create_sentier_engine

    home = tmp_path_factory.mktemp("backstage-home")
    url = f"sqlite:///{home / 'sentier.db'}"
    engine = create_sentier_engine(url)
    upgrade(engine)
    with session_scope(engine) as session:
        report = ingest_source(session, [write_seed(home / "catalog").resolve()], name="base")
        assert report.ok, [str(p) for p in report.problems]
        tokens = {
            "admin": auth.create_token(session, name="admin", role="admin").secret,
            "editor": auth.create_token(
                session, name="team-a-ci", role="editor", groups=["team-a"]
            ).secret,
            "viewer": auth.create_token(session, name="reader", role="viewer").secret,
        }
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "SENTIER_HOME": str(home), "SENTIER_DATABASE_URL": url}
    log = (home / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "sentier", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"server did not start: {(home / 'server.log').read_text()}")
            time.sleep(0.2)
        work = home / "work"
        work.mkdir()
        yield Served(base, tokens, work)
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def conformance_table(result: dict) -> str:  # type: ignore[type-arg]
    """The table the issue asks for: client, version, calls passed / total; then each call."""
    checks = result["checks"]
    passed = sum(1 for c in checks if c["passed"])
    lines = [
        f"{'client/validator':<28} {'version':<9} calls passed / total",
        f"{result['client']:<28} {result['version']:<9} {passed} / {len(checks)}",
        "",
    ]
    for check in checks:
        mark = "ok  " if check["passed"] else "FAIL"
        lines.append(f"  {mark} {check['method']:<20} {check['name']}")
        if not check["passed"]:
            lines.append(f"         {check['detail']}")
    if result["uncovered"]:
        lines.append(f"  methods never called: {', '.join(result['uncovered'])}")
    return "\n".join(lines)


def test_backstage_catalog_client_every_method(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    modules = client_modules()
    env = {
        **os.environ,
        "NODE_PATH": str(modules),
        "SENTIER_URL": served.url,
        "SENTIER_ADMIN_TOKEN": served.tokens["admin"],
        "SENTIER_EDITOR_TOKEN": served.tokens["editor"],
        "SENTIER_VIEWER_TOKEN": served.tokens["viewer"],
        "SENTIER_WORK": str(served.work),
    }
    run = subprocess.run(
        [shutil.which("node") or "node", str(CLIENT_DIR / "conformance.cjs")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    table = conformance_table(result)
    with capsys.disabled():  # shown in every run, not only when it fails
        print("\n" + table.split("\n\n")[0])
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "backstage-catalog-client.txt").write_text(table + "\n")
    assert result["version"].startswith("1."), result["version"]
    failed = [c for c in result["checks"] if not c["passed"]]
    assert not failed, table
    assert not result["uncovered"], table
    # Every public method of the client has at least one passing call of its own.
    public = set(result["methods"]) - {"queryEntitiesByPredicate", "getEntityFacetsByPredicate"}
    assert public <= {c["method"] for c in result["checks"]}, table
    assert len(result["checks"]) >= 45
