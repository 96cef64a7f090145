"""A real Alertmanager posting to a running sentier: what it really sends becomes incidents.

Debian's ``prometheus-alertmanager`` is started with a webhook receiver pointing at sentier's
Alertmanager hook (served by uvicorn on 127.0.0.1, authenticated by the hook's bearer token);
alerts are pushed to Alertmanager's API v2 as Prometheus would, then resolved. The hook
stores the notifications Alertmanager chose to send, and consuming them gives one incident
with its root cause, resolved when the alerts are. Skipped when the binary is absent, failed
then under ``SENTIER_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
import yaml
from sqlalchemy import Engine, select

from sentier import events
from sentier.aiops.alerts import consume_all, incident_detail, list_incidents
from sentier.api.app import create_app
from sentier.store import session_scope
from sentier.store.models import InboundMessage
from tests.aiops.alerts.test_alert_consume import _catalog
from tests.conftest import _unavailable


def _binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: Any, what: str, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def sentier_server(sqlite_engine: Engine) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(background=False), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait(lambda: server.started, "sentier to listen")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def alertmanager(
    tmp_path: Path, sqlite_engine: Engine, request: pytest.FixtureRequest
) -> Iterator[str]:
    binary = _binary()
    if binary is None:
        _unavailable("the prometheus-alertmanager binary (apt-get install prometheus-alertmanager)")
        raise AssertionError("unreachable")
    sentier_server: str = request.getfixturevalue("sentier_server")
    with session_scope(sqlite_engine) as session:
        token = events.add_hook(session, "alertmanager", "alertmanager")["token"]
    config = {
        "route": {
            "receiver": "sentier",
            "group_by": ["alertname"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "sentier",
                "webhook_configs": [
                    {
                        "url": f"{sentier_server}/api/v1/hooks/alertmanager",
                        "send_resolved": True,
                        "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
                    }
                ],
            }
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    port = _free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port opened
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"alertmanager exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
            try:
                return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(ready, "alertmanager to be ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _push(url: str, alerts: list[dict[str, Any]]) -> None:
    response = httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5)
    assert response.status_code == 200, response.text


def _stored(engine: Engine) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        return [json.loads(row.body) for row in rows]


def test_what_a_real_alertmanager_sends_becomes_one_incident_with_its_cause(
    alertmanager: str, sqlite_engine: Engine, tmp_path: Path
) -> None:
    _catalog(sqlite_engine, tmp_path / "catalog")
    began = datetime.now(UTC) - timedelta(minutes=3)
    pushed = [
        ("payments-db", "DatabaseDown", "critical", 0),
        ("payments", "HighErrorRate", "warning", 40),
        ("checkout", "HighErrorRate", "warning", 95),
    ]

    def alert(service: str, name: str, severity: str, offset: int, **extra: str) -> dict:  # type: ignore[type-arg]
        return {
            "labels": {"alertname": name, "service": service, "severity": severity},
            "annotations": {"summary": f"{name} on {service}"},
            "startsAt": _iso(began + timedelta(seconds=offset)),
            **extra,
        }

    _push(alertmanager, [alert(*a) for a in pushed])
    firing = _wait(
        lambda: (
            sum(len(body["alerts"]) for body in _stored(sqlite_engine)) >= 3
            and _stored(sqlite_engine)
        ),
        "Alertmanager's firing notifications at sentier's hook",
    )
    # What Alertmanager really sends: version 4, its own fingerprints, Go's timestamps.
    sent = [a for body in firing for a in body["alerts"]]
    assert all(body["version"] == "4" and "groupKey" in body for body in firing)
    assert all(a["fingerprint"] and a["status"] == "firing" for a in sent)
    assert {a["labels"]["service"] for a in sent} == {"payments-db", "payments", "checkout"}

    report = consume_all(sqlite_engine)
    assert report.ingest.outcomes["new"] == 3 and not report.problems
    with session_scope(sqlite_engine) as session:
        (incident,) = list_incidents(session)
    assert incident["root_cause"] == "resource:default/payments-db"
    assert incident["alerts"] == 3 and incident["status"] == "open"

    ended = _iso(datetime.now(UTC) - timedelta(seconds=1))
    _push(alertmanager, [alert(*a, endsAt=ended) for a in pushed])
    _wait(
        lambda: (
            any(
                a["status"] == "resolved" for body in _stored(sqlite_engine) for a in body["alerts"]
            )
            and sum(
                a["status"] == "resolved" for body in _stored(sqlite_engine) for a in body["alerts"]
            )
            >= 3
        ),
        "Alertmanager's resolved notifications",
    )
    assert not consume_all(sqlite_engine).problems
    with session_scope(sqlite_engine) as session:
        detail = incident_detail(session, incident["key"])
    assert detail["status"] == "resolved"
    assert all(a["status"] == "resolved" for a in detail["alerts"])
