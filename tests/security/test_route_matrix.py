"""Who may call what, over every route: anonymous callers, viewers, and editors of another team.

The API's operations come from its OpenAPI document, the portal's from the app's routes (they
are not in the document). Every write is listed in ``WRITES`` with a request that succeeds for
the right caller, on a resource made fresh for it, so that each refusal is about who asks and
never about a malformed request; each row is also run by a caller who may, so a row that could
never fail fails here. A route added without its row fails ``test_the_matrix_knows_every_route``.

The anonymous part over every route with placeholder parameters is ``tests/api/
test_route_auth.py``; here the anonymous caller meets real identifiers too (a route that looked
its resource up before authenticating would answer 404 and tell what exists).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier import auth
from sentier.api import create_app
from sentier.catalog import ingest_source
from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import Entity as EntityRow
from tests.api.conftest import Tokens
from tests.api.test_route_auth import BEARER_ONLY, PUBLIC, all_routes
from tests.catalog.builders import component

Kind = Literal["admin", "owned", "editor", "read"]
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Reads only an admin may make.
ADMIN_READS = {
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/inbound-hooks"),
    ("GET", "/audit"),
}
# Routes outside the matrix on purpose: the login itself and the logout of one's own session.
OUTSIDE = {("POST", "/logout")}


# -- the world the matrix runs in ---------------------------------------------------------------


@dataclass
class World:
    """The small catalog of ``tests/api/conftest.py`` (team-a owns checkout and shop, team-b
    owns billing) plus one resource of each kind, and fresh ones on demand (owned by team-a)."""

    client: TestClient
    tokens: Tokens
    engine: Engine
    root: Path
    other_editor: str  # acts for team-b
    counter: Iterator[int] = field(default_factory=itertools.count)

    def admin(self, method: str, url: str, **kwargs: Any) -> Any:
        response = self.client.request(method, url, headers=self.tokens.header("admin"), **kwargs)
        assert response.status_code < 300, (method, url, response.status_code, response.text)
        return response.json() if response.content else None

    def n(self) -> int:
        return next(self.counter)

    # Fresh resources, one per request of the matrix.
    def budget(self) -> str:
        name = f"budget-{self.n()}"
        body = {"scope": "team-a", "amount": "100", "currency": "EUR"}
        self.admin("PUT", f"/api/v1/finops/budgets/{name}", json=body)
        return name

    def subscription(self) -> str:
        body = {"url": f"http://127.0.0.1:9/hook-{self.n()}", "group": "team-a"}
        return str(self.admin("POST", "/api/v1/webhooks", json=body)["id"])

    def delivery(self) -> str:
        subscription = self.subscription()
        self.admin("POST", f"/api/v1/webhooks/{subscription}/replay", json={"after": 0})
        detail = self.admin("GET", f"/api/v1/webhooks/{subscription}")
        return str(detail["recent_deliveries"][0]["id"])

    def incident(self) -> str:
        report = self.admin("POST", "/api/v1/alerts", json=alertmanager_payload(self.n()))
        return str(report["incidents_opened"][0])

    def hook(self, kind: str, name: str | None = None) -> str:
        name = name or f"{kind[:3]}-{self.n()}"
        body = {"name": name, "kind": kind}
        if kind == "git":
            body["source"] = "owned-by-a"  # what a push to it re-ingests
        self.admin("POST", "/api/v1/inbound-hooks", json=body)
        return name

    def folder(self, prefix: str = "fresh") -> Path:
        """A fresh folder holding one component of team-a, inside no registered source's paths
        (a path another source covers is refused with 409 source-overlap)."""
        name = f"{prefix}-{self.n()}"
        folder = self.root / name
        folder.mkdir()
        document = component(name, owner="team-a")
        (folder / "catalog-info.yaml").write_text(yaml.safe_dump(document))
        return folder

    def suppression(self) -> str:
        """A fresh suppression of one rule's detections on team-a's checkout."""
        body = suppression_body(self)
        return str(self.admin("POST", "/api/v1/detect/suppressions", json=body)["id"])

    def source(self) -> str:
        body = {"name": f"src-{self.n()}", "path": str(self.folder("src"))}
        return str(self.admin("POST", "/api/v1/sources", json=body)["source"]["id"])

    def entity(self) -> tuple[str, str]:
        """A fresh component of team-a, ingested as its own source: its (uid, name)."""
        folder = self.folder("doomed")
        with session_scope(self.engine) as session:
            assert ingest_source(session, [folder], name=folder.name).ok
            uid = session.scalar(
                select(EntityRow.id).where(EntityRow.ref == f"component:default/{folder.name}")
            )
        assert uid is not None
        return str(uid), folder.name

    def token(self) -> str:
        body = {"name": f"spare-{self.n()}", "role": "viewer"}
        return str(self.admin("POST", "/api/v1/tokens", json=body)["id"])

    @property
    def owned_by_a(self) -> Path:
        """A registered source holding one entity of team-a only: its location is team-a's."""
        return self.root / "owned-by-a"


def alertmanager_payload(n: int) -> dict[str, Any]:
    alert = {
        "status": "firing",
        "fingerprint": f"matrix-{n}",
        # Days apart: each alert opens its own incident instead of joining the last one.
        "startsAt": (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=3 * n)).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "labels": {"alertname": f"Matrix{n}", "service": "checkout", "severity": "critical"},
        "annotations": {"summary": "matrix"},
    }
    return {
        "version": "4",
        "groupKey": f"{{}}:{{alertname=Matrix{n}}}",
        "truncatedAlerts": 0,
        "receiver": "sentier",
        "status": "firing",
        "groupLabels": {"alertname": f"Matrix{n}"},
        "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"],
        "externalURL": "http://alertmanager.example.internal",
        "alerts": [alert],
    }


def cloudevent(n: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"matrix-{n}",
        "source": "urn:matrix",
        "type": "com.example.matrix",
        "data": {"n": n},
    }


METRICS_CSV = "timestamp,value\n" + "".join(
    f"2026-01-01T00:{minute:02d}:00Z,{50 if minute == 30 else 1}\n" for minute in range(60)
)
GIT_PUSH = {"ref": "refs/heads/main", "after": "abc123", "repository": {}}


def pushed_files(n: int) -> dict[str, str]:
    return {"catalog-info.yaml": yaml.safe_dump(component(f"pushed-{n}", owner="team-a"))}


# -- every write, with a request that succeeds for a caller who may ----------------------------


@dataclass(frozen=True)
class Write:
    kind: Kind
    params: Callable[[World], dict[str, str]] = lambda w: {}
    body: Callable[[World], Any] | None = None
    form: bool = False  # a portal form (posted with the session's CSRF token)


def suppression_body(world: World) -> dict[str, Any]:
    expires = datetime.now(UTC) + timedelta(days=7)
    return {
        "rule_id": f"rule-{world.n()}",
        "reason": "known scanner in the test range",
        "expires_at": expires.isoformat(),
        "entity_ref": "component:default/checkout",
    }


API_WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/api/v1/detect/suppressions"): Write("owned", body=suppression_body),
    ("DELETE", "/api/v1/detect/suppressions/{suppression_id}"): Write(
        "owned", params=lambda w: {"suppression_id": w.suppression()}
    ),
    ("POST", "/api/v1/sources"): Write(
        "admin", body=lambda w: {"name": f"src-{w.n()}", "path": str(w.folder("src"))}
    ),
    ("DELETE", "/api/v1/sources/{source_id}"): Write(
        "admin", params=lambda w: {"source_id": w.source()}
    ),
    ("POST", "/api/v1/sources/{source_id}/refresh"): Write(
        "admin", params=lambda w: {"source_id": w.source()}
    ),
    ("POST", "/api/v1/sources/push"): Write(
        "owned", body=lambda w: {"name": f"push-{w.n()}", "files": pushed_files(w.n())}
    ),
    ("POST", "/api/v1/tokens"): Write("admin", body=lambda w: {"name": "t", "role": "viewer"}),
    ("DELETE", "/api/v1/tokens/{token_id}"): Write(
        "admin", params=lambda w: {"token_id": w.token()}
    ),
    ("POST", "/api/v1/policy/scans"): Write(
        "owned", body=lambda w: {"paths": [str(w.owned_by_a)], "packs": ["security"]}
    ),
    ("POST", "/api/v1/incidents/{key}/ack"): Write(
        "owned", params=lambda w: {"key": w.incident()}, body=lambda w: {}
    ),
    ("POST", "/api/v1/alerts"): Write("editor", body=lambda w: alertmanager_payload(w.n())),
    ("POST", "/api/v1/metrics/detect"): Write(
        "read", body=lambda w: {"text": METRICS_CSV, "format": "csv"}
    ),
    ("POST", "/api/v1/webhooks"): Write(
        "owned", body=lambda w: {"url": f"http://127.0.0.1:9/n{w.n()}", "group": "team-a"}
    ),
    ("PATCH", "/api/v1/webhooks/{subscription_id}"): Write(
        "owned",
        params=lambda w: {"subscription_id": w.subscription()},
        body=lambda w: {"description": "changed"},
    ),
    ("DELETE", "/api/v1/webhooks/{subscription_id}"): Write(
        "owned", params=lambda w: {"subscription_id": w.subscription()}
    ),
    ("POST", "/api/v1/webhooks/{subscription_id}/secret"): Write(
        "owned", params=lambda w: {"subscription_id": w.subscription()}, body=lambda w: {}
    ),
    ("POST", "/api/v1/webhooks/{subscription_id}/replay"): Write(
        "owned",
        params=lambda w: {"subscription_id": w.subscription()},
        body=lambda w: {"after": 0},
    ),
    ("POST", "/api/v1/deliveries/{delivery_id}/redeliver"): Write(
        "owned", params=lambda w: {"delivery_id": w.delivery()}
    ),
    ("POST", "/api/v1/inbound-hooks"): Write(
        "admin", body=lambda w: {"name": f"new-{w.n()}", "kind": "alertmanager"}
    ),
    ("DELETE", "/api/v1/inbound-hooks/{name}"): Write(
        "admin", params=lambda w: {"name": w.hook("alertmanager")}
    ),
    ("POST", "/api/v1/hooks/alertmanager"): Write(
        "editor", body=lambda w: alertmanager_payload(w.n())
    ),
    ("POST", "/api/v1/hooks/alertmanager/{name}"): Write(
        "editor",
        params=lambda w: {"name": w.hook("alertmanager")},
        body=lambda w: alertmanager_payload(w.n()),
    ),
    ("POST", "/api/v1/hooks/cloudevents"): Write("editor", body=lambda w: cloudevent(w.n())),
    ("POST", "/api/v1/hooks/cloudevents/{name}"): Write(
        "editor",
        params=lambda w: {"name": w.hook("cloudevents")},
        body=lambda w: cloudevent(w.n()),
    ),
    ("POST", "/api/v1/hooks/git"): Write("admin", body=lambda w: GIT_PUSH),
    ("POST", "/api/v1/hooks/git/{name}"): Write(
        "admin", params=lambda w: {"name": w.hook("git")}, body=lambda w: GIT_PUSH
    ),
    ("POST", "/api/v1/finops/anomalies/detect"): Write("editor"),
    ("PUT", "/api/v1/finops/budgets/{name}"): Write(
        "owned",
        params=lambda w: {"name": f"new-budget-{w.n()}"},
        body=lambda w: {"scope": "team-a", "amount": "10", "currency": "EUR"},
    ),
    ("DELETE", "/api/v1/finops/budgets/{name}"): Write(
        "owned", params=lambda w: {"name": w.budget()}
    ),
    ("POST", "/api/v1/finops/budgets/check"): Write("editor"),
    ("POST", "/api/v1/finops/ingestions"): Write(
        "admin", body=lambda w: {"paths": [str(w.root / "no-billing-here.csv")]}
    ),
}

# Backstage's catalog API: its reads by POST (a body instead of query parameters) are for every
# viewer; removing or refreshing an entity for editors of its owner; locations (paths on the
# server) for admins, analysing one included, as for /api/v1/sources.
BACKSTAGE_WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/api/catalog/entities/by-query"): Write(
        "read", body=lambda w: {"query": {"kind": "component"}, "limit": 5}
    ),
    ("POST", "/api/catalog/entities/by-refs"): Write(
        "read", body=lambda w: {"entityRefs": ["component:default/checkout"]}
    ),
    ("POST", "/api/catalog/entity-facets"): Write("read", body=lambda w: {"facets": ["kind"]}),
    ("POST", "/api/catalog/locations/by-query"): Write("read", body=lambda w: {"limit": 5}),
    ("POST", "/api/catalog/validate-entity"): Write(
        "read",
        body=lambda w: {
            "entity": component(f"valid-{w.n()}", owner="team-a"),
            "location": f"file:{w.owned_by_a / 'catalog-info.yaml'}",
        },
    ),
    ("DELETE", "/api/catalog/entities/by-uid/{uid}"): Write(
        "owned", params=lambda w: {"uid": w.entity()[0]}
    ),
    ("DELETE", "/api/catalog/entities/by-name/{kind}/{namespace}/{name}"): Write(
        "owned", params=lambda w: {"name": w.entity()[1]}
    ),
    ("POST", "/api/catalog/refresh"): Write(
        "owned", body=lambda w: {"entityRef": "component:default/a-only"}
    ),
    ("POST", "/api/catalog/locations"): Write(
        "admin", body=lambda w: {"type": "file", "target": str(w.folder("loc"))}
    ),
    ("PUT", "/api/catalog/locations/{location_id}"): Write(
        "admin",
        params=lambda w: {"location_id": w.source()},
        body=lambda w: {"type": "file", "target": str(w.folder("moved"))},
    ),
    ("DELETE", "/api/catalog/locations/{location_id}"): Write(
        "admin", params=lambda w: {"location_id": w.source()}
    ),
    ("POST", "/api/catalog/analyze-location"): Write(
        "admin", body=lambda w: {"location": {"type": "file", "target": str(w.owned_by_a)}}
    ),
}

PORTAL_WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/deliveries/{delivery_id}/redeliver"): Write(
        "owned", params=lambda w: {"delivery_id": w.delivery()}, form=True
    ),
    ("POST", "/finops/anomalies/detect"): Write("editor", form=True),
    ("POST", "/finops/budgets"): Write(
        "owned",
        body=lambda w: {
            "name": f"form-{w.n()}",
            "scope": "team-a",
            "amount": "5",
            "currency": "EUR",
        },
        form=True,
    ),
    ("POST", "/finops/budgets/check"): Write("editor", form=True),
    ("POST", "/finops/budgets/{name}/delete"): Write(
        "owned", params=lambda w: {"name": w.budget()}, form=True
    ),
    ("POST", "/finops/ingestions"): Write(
        "admin", body=lambda w: {"path": str(w.root / "no-billing-here.csv")}, form=True
    ),
    ("POST", "/incidents/{key}/ack"): Write(
        "owned", params=lambda w: {"key": w.incident()}, form=True
    ),
    ("POST", "/sources/{source_id}/delete"): Write(
        "admin", params=lambda w: {"source_id": w.source()}, form=True
    ),
    ("POST", "/sources/{source_id}/refresh"): Write(
        "admin", params=lambda w: {"source_id": w.source()}, form=True
    ),
    ("POST", "/webhooks"): Write(
        "admin",
        body=lambda w: {"url": f"http://127.0.0.1:9/f{w.n()}", "group": "team-a"},
        form=True,
    ),
    ("POST", "/webhooks/{subscription_id}/delete"): Write(
        "owned", params=lambda w: {"subscription_id": w.subscription()}, form=True
    ),
    ("POST", "/webhooks/{subscription_id}/secret"): Write(
        "owned", params=lambda w: {"subscription_id": w.subscription()}, form=True
    ),
    ("POST", "/webhooks/{subscription_id}/status"): Write(
        "owned",
        params=lambda w: {"subscription_id": w.subscription()},
        body=lambda w: {"status": "disabled"},
        form=True,
    ),
}
# The MCP endpoint (POST only, outside the OpenAPI document): every viewer may call it; each
# tool then checks the caller's role and ownership, answered inside a 200 (tests/mcp).
MCP_WRITES: dict[tuple[str, str], Write] = {
    ("POST", "/mcp"): Write(
        "read",
        body=lambda w: {
            "jsonrpc": "2.0",
            "id": w.n(),
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "route-matrix", "version": "1"},
            },
        },
    ),
}
WRITES = {**API_WRITES, **BACKSTAGE_WRITES, **PORTAL_WRITES, **MCP_WRITES}


# -- fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture
def world(
    app_engine: Engine, tokens: Tokens, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    # Every caller of the matrix fails a few authentications on purpose; webhooks point at
    # loopback (nothing is delivered: no dispatcher runs in this app).
    monkeypatch.setenv("SENTIER_LOGIN_FAILURES_PER_MINUTE", "100000")
    monkeypatch.setenv("SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()
    owned = tmp_path / "owned-by-a"
    owned.mkdir()
    (owned / "catalog-info.yaml").write_text(yaml.safe_dump(component("a-only", owner="team-a")))
    with session_scope(app_engine) as session:
        assert ingest_source(session, [owned], name="owned-by-a").ok
        other = auth.create_token(session, name="team-b-ci", role="editor", groups=["team-b"])
    with TestClient(create_app(background=False), base_url="http://127.0.0.1") as client:
        world = World(client, tokens, app_engine, tmp_path, other.secret)
        for kind in ("alertmanager", "cloudevents", "git"):
            world.hook(kind, name=kind)  # the hooks the routes without a name post to
        yield world


def concrete(world: World, path: str, params: dict[str, str]) -> str:
    """``path`` with its parameters: those given, else the world's standing resources."""
    standing = {
        "kind": "component",
        "namespace": "default",
        "source_id": "1",
        "location_id": "1",
        "job_id": "no-such-job",
        "scan_id": "1",
        "line_id": "no-such-line",
        "rule_id": "no-such-rule",
        "uid": "no-such-uid",
        "code": "no-such-code",
        "token_id": "000000000000",
        "key": "no-such-incident",
        "subscription_id": "no-such-subscription",
        "delivery_id": "1",
        "suppression_id": "1",
    }
    if "/groups/" in path or "/systems/" in path:
        standing["name"] = "team-a" if "/groups/" in path else "shop"
    elif "/logs/miners/" in path:
        standing["name"] = "default"
    elif "/budgets/" in path:
        standing["name"] = "no-such-budget"
    else:
        standing["name"] = "checkout"
    values = {**standing, **params}
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)


def _csrf(client: TestClient, token: str) -> str:
    """Log ``client`` in with ``token`` and return the CSRF token of its session."""
    form = client.get("/login")
    login_csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"token": token, "csrf": login_csrf, "next": "/"}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    page = client.get("/")
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]


def call(world: World, method: str, path: str, write: Write | None, token: str | None) -> int:
    """The status of one request of the matrix, by ``token`` (None: anonymous)."""
    write = write or Write("read")
    url = concrete(world, path, write.params(world))
    body = write.body(world) if write.body else None
    if write.form:
        # A browser of its own on the running app, closed without running the app's shutdown
        # (as leaving a ``with TestClient`` block would: /mcp would then answer 503).
        with closing(TestClient(world.client.app, base_url="http://127.0.0.1")) as browser:
            data = dict(body or {})
            if token is not None:
                data["csrf"] = _csrf(browser, token)
            response = browser.request(method, url, data=data, follow_redirects=False)
            if token is None:
                assert response.status_code == 303
                assert response.headers["location"].startswith("/login"), url
                return 401
            return response.status_code
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    world.client.cookies.clear()
    if body is None:
        response = world.client.request(method, url, headers=headers, follow_redirects=False)
    else:
        response = world.client.request(
            method, url, json=body, headers=headers, follow_redirects=False
        )
    if token is None and not path.startswith(BEARER_ONLY):
        assert response.status_code == 303, (url, response.status_code)
        assert response.headers["location"].startswith("/login"), url
        return 401
    return response.status_code


def api_operations(world: World) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document but the public probes."""
    document = world.client.get("/api/v1/openapi.json", headers=world.tokens.header("viewer"))
    assert document.status_code == 200
    return sorted(
        (method.upper(), path)
        for path, operations in document.json()["paths"].items()
        for method in operations
        if (method.upper(), path) not in PUBLIC
    )


def portal_routes(world: World) -> list[tuple[str, str]]:
    return [
        (method, path)
        for method, path in all_routes(world.client.app)  # type: ignore[arg-type]
        if not path.startswith("/api/")
        and (method, path) not in PUBLIC | OUTSIDE
        and method != "HEAD"
    ]


def everything(world: World) -> list[tuple[str, str]]:
    return api_operations(world) + portal_routes(world)


def _refused(status: int) -> bool:
    return status in (401, 403)


# -- the matrix ---------------------------------------------------------------------------------


def test_the_matrix_knows_every_route(world: World) -> None:
    """Every operation of the document is served, and every write has its row here."""
    served = set(all_routes(world.client.app))  # type: ignore[arg-type]
    operations = api_operations(world)
    assert len(operations) > 80
    assert [op for op in operations if op not in served] == []
    api_served = {
        (m, p)
        for m, p in served
        if p.startswith("/api/") and (m, p) != ("GET", "/api/v1/openapi.json")
    }
    assert sorted(api_served - set(operations)) == []  # nothing served outside the document
    writes = [op for op in everything(world) if op[0] in WRITE_METHODS]
    assert sorted(set(writes) - set(WRITES)) == []
    assert sorted(set(WRITES) - set(writes)) == []


def test_anonymous_callers_are_refused_everywhere(world: World) -> None:
    leaks = []
    for method, path in everything(world):
        status = call(world, method, path, WRITES.get((method, path)), None)
        if status != 401:
            leaks.append((method, path, status))
    assert leaks == [], "\n".join(map(str, leaks))


def test_viewers_read_and_are_refused_every_write(world: World) -> None:
    viewer = world.tokens.viewer
    wrong = []
    for method, path in everything(world):
        write = WRITES.get((method, path))
        status = call(world, method, path, write, viewer)
        if (method, path) in ADMIN_READS or (write is not None and write.kind != "read"):
            expected_refusal = True
        else:
            expected_refusal = False
        if expected_refusal and status != 403:
            wrong.append((method, path, status, "should be 403"))
        if not expected_refusal and (_refused(status) or status >= 500):
            wrong.append((method, path, status, "should be served"))
    assert wrong == [], "\n".join(map(str, wrong))


def test_editors_are_refused_what_only_admins_do(world: World) -> None:
    wrong = []
    for (method, path), write in WRITES.items():
        if write.kind == "admin":
            status = call(world, method, path, write, world.tokens.editor)
            if status != 403:
                wrong.append((method, path, status))
    for method, path in sorted(ADMIN_READS):
        status = call(world, method, path, None, world.tokens.editor)
        if status != 403:
            wrong.append((method, path, status))
    assert wrong == [], "\n".join(map(str, wrong))


def test_editors_of_another_team_are_refused_what_the_team_owns(world: World) -> None:
    wrong = []
    for (method, path), write in WRITES.items():
        if write.kind != "owned":
            continue
        status = call(world, method, path, write, world.other_editor)
        if status != 403:
            wrong.append((method, path, status))
    assert wrong == [], "\n".join(map(str, wrong))


def test_each_write_of_the_matrix_succeeds_for_a_caller_who_may(world: World) -> None:
    """The positive control: every row's request is one its rightful caller gets through, so
    the refusals above are about who asks."""
    wrong = []
    for (method, path), write in WRITES.items():
        callers = {
            "admin": world.tokens.admin,
            "owned": world.tokens.editor,
            "editor": world.tokens.editor,
            "read": world.tokens.viewer,
        }
        status = call(world, method, path, write, callers[write.kind])
        if _refused(status) or status >= 500 or status in (404, 422):
            wrong.append((method, path, write.kind, status))
    assert wrong == [], "\n".join(map(str, wrong))


# -- malformed parameters on every operation ----------------------------------------------------


def _parameters(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    document = world.client.get("/api/v1/openapi.json", headers=world.tokens.header("viewer"))
    return [
        (method.upper(), path, parameter)
        for path, operations in document.json()["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["in"] in ("query", "path") and (method.upper(), path) not in PUBLIC
    ]


def _types(schema: dict[str, Any]) -> set[str]:
    return {schema.get("type", "")} | {a.get("type", "") for a in schema.get("anyOf", [])}


def _request(world: World, method: str, path: str, name: str, where: str, value: str) -> Any:
    write = WRITES.get((method, path))
    params = write.params(world) if write else {}
    if where == "path":
        params = {**params, name: value}
        url, query = concrete(world, path, params), {}
    else:
        url, query = concrete(world, path, params), {name: value}
    body = write.body(world) if write and write.body else None
    return world.client.request(
        method, url, params=query, json=body, headers=world.tokens.header("admin")
    )


def test_a_nul_in_any_path_or_query_parameter_is_a_400_problem(world: World) -> None:
    """On PostgreSQL a NUL in 23 query parameters was a 500."""
    wrong = []
    for method, path, parameter in _parameters(world):
        value = "%00" if parameter["in"] == "path" else "a\x00b"
        response = _request(world, method, path, parameter["name"], parameter["in"], value)
        problem = response.headers.get("content-type") == "application/problem+json"
        if response.status_code != 400 or not problem:
            wrong.append((method, path, parameter["name"], response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))
    assert len(_parameters(world)) > 100
    portal = world.client.get(
        "/catalog", params={"q": "\x00"}, headers=world.tokens.header("viewer")
    )
    assert portal.status_code == 400


def test_huge_integers_in_any_parameter_are_refused_as_4xx(world: World) -> None:
    """``/jobs/99999999999999999999`` and kin: a 4xx problem, never a 500."""
    wrong = []
    checked = 0
    for method, path, parameter in _parameters(world):
        if "integer" not in _types(parameter.get("schema", {})):
            continue
        for value in ("99999999999999999999", "-99999999999999999999", str(2**63)):
            checked += 1
            response = _request(world, method, path, parameter["name"], parameter["in"], value)
            if not 400 <= response.status_code < 500:
                wrong.append((method, path, parameter["name"], value, response.status_code))
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked > 30
    for path in ("/api/v1/jobs/99999999999999999999", "/api/v1/sources/99999999999999999999"):
        assert world.client.get(path, headers=world.tokens.header("admin")).status_code in (
            404,
            422,
        )
