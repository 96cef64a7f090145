"""An app on a real database (SQLite and PostgreSQL), a small catalog, and a token per role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from sentier import auth
from sentier.api import create_app
from sentier.catalog import ingest_source
from sentier.store import session_scope
from tests.catalog.builders import api, component, group, resource, system


def asgi_schema(app: Any) -> Any:
    """The app's OpenAPI description for schemathesis, calling the app in-process.

    Read from the app itself: serving ``/api/v1/openapi.json`` needs a token, and the module
    builds its schema at import, before its fixtures create one.
    """
    import schemathesis

    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    return schema


@contextmanager
def seeded_home(home: Path) -> Iterator[tuple[Engine, str]]:
    """A whole module's store: ``home`` as SENTIER_HOME holding the small catalog and an admin
    token (yielded with the engine); the environment as it was afterwards.

    For fuzzing modules that share one seeded store across many generated cases.
    """
    import os

    from sentier.config import get_settings
    from sentier.store import dispose_engines, get_engine, upgrade

    previous = {k: os.environ.get(k) for k in ("SENTIER_HOME", "SENTIER_DATABASE_URL")}
    os.environ["SENTIER_HOME"] = str(home)
    os.environ["SENTIER_DATABASE_URL"] = f"sqlite:///{home / 'sentier.db'}"
    get_settings.cache_clear()
    try:
        engine = get_engine()
        upgrade(engine)
        with session_scope(engine) as session:
            ingest_source(session, [write_catalog(home / "catalog")], name="base")
            token = auth.create_token(session, name="fuzz", role="admin").secret
        yield engine, token
    finally:
        dispose_engines()
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        get_settings.cache_clear()


@dataclass
class Tokens:
    admin: str
    editor: str  # acts for team-a (and its child team-a1)
    viewer: str

    def header(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}


def write_catalog(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    docs = [
        group("team-a"),
        group("team-a1", parent="team-a"),
        group("team-b"),
        system("shop", owner="team-a"),
        component(
            "checkout",
            owner="team-a",
            system="shop",
            providesApis=["checkout-api"],
            dependsOn=["resource:orders-db"],
        ),
        api("checkout-api", owner="team-a", system="shop"),
        resource("orders-db", owner="team-a1", system="shop"),
        component("billing", owner="team-b"),
    ]
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return root


@pytest.fixture
def app_engine(engine: Engine, tmp_path: Path) -> Engine:
    with session_scope(engine) as session:
        report = ingest_source(session, [write_catalog(tmp_path / "catalog")], name="base")
    assert report.ok
    return engine


@pytest.fixture
def tokens(app_engine: Engine) -> Tokens:
    with session_scope(app_engine) as session:
        admin = auth.create_token(session, name="admin", role="admin")
        editor = auth.create_token(session, name="team-a-ci", role="editor", groups=["team-a"])
        viewer = auth.create_token(session, name="reader", role="viewer")
    return Tokens(admin.secret, editor.secret, viewer.secret)


@pytest.fixture
def client(app_engine: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(), base_url="http://127.0.0.1") as test_client:
        yield test_client


def wait_for_job(
    client: TestClient, job_id: str, headers: dict[str, str], timeout: float = 20
) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed"):
            return job  # type: ignore[no-any-return]
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
