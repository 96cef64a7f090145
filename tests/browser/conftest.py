"""A real sentier server (uvicorn subprocess) on the demo organisation, and a real Chromium.

Playwright drives Debian's Chromium (its own browser download is not available offline).
Screenshots go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

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

from tests.conftest import REQUIRE_SERVICES

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("SENTIER_CHROMIUM", "/usr/bin/chromium")


@dataclass
class Server:
    base_url: str
    admin_token: str
    home: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sentier(home: Path, *args: str) -> str:
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "sentier", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("browser-home")
    _sentier(home, "demo", "up", "--no-serve")
    token = (
        _sentier(home, "token", "create", "--name", "browser", "--role", "admin")
        .strip()
        .splitlines()[-1]
    )
    port = _free_port()
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sentier", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(
            f"server did not start: {process.stdout.read() if process.stdout else ''}"
        )
    yield Server(base, token, home)
    process.terminate()
    process.wait(timeout=10)


# Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it is
# open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()
