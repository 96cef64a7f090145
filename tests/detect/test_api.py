"""Detection over HTTP, on both databases: viewers read rules and detections (per entity and
team), editors suppress only on what their groups own (refusals audited), the portal pages
show what their JSON twins hold, and CloudTrail posted to the CloudEvents hook then polled
meets the cloud rules — sentier's and SigmaHQ's."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from sentier.detect import StreamEngine, load_rules
from sentier.detect import store as detect_store
from sentier.detect.records import LineReader
from sentier.detect.sources import poll
from sentier.store import session_scope
from sentier.store.models import AuditEvent
from tests.api.conftest import Tokens
from tests.web.test_portal import _login

BREAK_IN = (
    "reverse mapping checking getaddrinfo for x.example [203.0.113.9] failed - "
    "POSSIBLE BREAK-IN ATTEMPT!"
)
BREAK_IN_ID = "4a6b8c0d-2e4f-4a6b-8c0d-2e4f6a8b0c05"
AT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _store_sshd(engine: Engine, hosts: list[str]) -> None:
    """One break-in attempt logged on each host; a host named like an entity is attributed
    to it (``checkout`` is team-a's component, ``billing`` team-b's)."""
    reader = LineReader("auth.log", year=AT.year, now=AT + timedelta(days=1))
    records = []
    for line, host in enumerate(hosts, start=1):
        text = f"{AT:%b} {AT.day:2d} {AT:%H:%M:%S} {host} sshd[7]: {BREAK_IN}"
        record = next(iter(reader.read(text, line)))
        record.seq = line
        records.append(record)
    found = StreamEngine(load_rules([], shipped=True)).run(records)
    with session_scope(engine) as session:
        assert detect_store.record_detections(session, found)["new"] == len(hosts)


def test_viewer_reads_rules_and_detections_per_entity_and_team(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    _store_sshd(app_engine, ["checkout", "billing", "nowhere"])
    viewer = tokens.header("viewer")
    rules = client.get("/api/v1/detect/rules", params={"q": "break-in"}, headers=viewer).json()
    assert [r["id"] for r in rules["rules"]] == [BREAK_IN_ID] and rules["refused"] == []
    rule = client.get(f"/api/v1/detect/rules/{BREAK_IN_ID}", headers=viewer).json()
    assert rule["level"] == "low" and "SELECT" in rule["sql"]
    assert client.get("/api/v1/detect/rules/nope", headers=viewer).status_code == 404
    every = client.get("/api/v1/detect/detections", headers=viewer).json()
    assert every["total"] == 3
    team_a = client.get(
        "/api/v1/detect/detections", params={"team": "group:default/team-a"}, headers=viewer
    ).json()
    assert [d["entity_ref"] for d in team_a["items"]] == ["component:default/checkout"]
    entity = client.get(
        "/api/v1/entities/component/default/billing/detections", headers=viewer
    ).json()
    assert (entity["open"], entity["by_severity"]) == (1, {"info": 1})
    assert entity["detections"][0]["owner_ref"] == "group:default/team-b"
    group = client.get("/api/v1/entities/group/default/team-a/detections", headers=viewer).json()
    assert group["total"] == 1
    assert client.get("/api/v1/detect/detections").status_code == 401


def _suppress(client: TestClient, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    payload = {
        "rule_id": BREAK_IN_ID,
        "reason": "scanner of the pentest, ticket SEC-12",
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        **body,
    }
    return client.post("/api/v1/detect/suppressions", json=payload, headers=headers)


def test_editors_suppress_only_what_their_groups_own_and_refusals_are_audited(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    editor = tokens.header("editor")  # team-a
    own = _suppress(client, editor, entity_ref="component:default/checkout")
    assert own.status_code == 201, own.text
    assert own.json()["entity_ref"] == "component:default/checkout" and own.json()["active"]
    child = _suppress(client, editor, entity_ref="resource:default/orders-db")  # team-a1's
    assert child.status_code == 201
    other = _suppress(client, editor, entity_ref="component:default/billing")
    assert other.status_code == 403 and "owned by group:default/team-b" in other.text
    everywhere = _suppress(client, editor)
    assert everywhere.status_code == 403
    assert _suppress(client, tokens.header("viewer"), entity_ref="checkout").status_code == 403
    assert _suppress(client, tokens.header("admin")).status_code == 201
    unknown = _suppress(client, editor, entity_ref="component:default/ghost")
    assert unknown.status_code == 400 and "no catalog entity" in unknown.text
    no_reason = _suppress(client, editor, entity_ref="checkout", reason="")
    assert no_reason.status_code == 422
    # Lifting one follows the same rule.
    admin_made = _suppress(client, tokens.header("admin"), entity_ref="billing").json()["id"]
    lift = client.delete(f"/api/v1/detect/suppressions/{admin_made}", headers=editor)
    assert lift.status_code == 403
    mine = own.json()["id"]
    assert client.delete(f"/api/v1/detect/suppressions/{mine}", headers=editor).status_code == 204
    listed = client.get("/api/v1/detect/suppressions", headers=tokens.header("viewer")).json()
    assert mine not in [s["id"] for s in listed] and len(listed) == 3
    with session_scope(app_engine) as session:
        audit = session.execute(
            select(AuditEvent.action, AuditEvent.outcome, AuditEvent.actor).order_by(AuditEvent.id)
        ).all()
    written = [(a, o) for a, o, _ in audit if a.startswith("detect.")]
    assert written == [("detect.suppress", "ok")] * 4 + [("detect.unsuppress", "ok")]
    denied = [a for a, o, _ in audit if o == "denied"]
    assert len(denied) == 4  # billing, everywhere, viewer's, the lift of admin's


def test_a_suppression_made_over_the_api_stops_the_alert_but_keeps_the_detection(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    assert _suppress(client, tokens.header("editor"), entity_ref="checkout").status_code == 201
    _store_sshd(app_engine, ["checkout"])
    page = client.get(
        "/api/v1/detect/detections",
        params={"status": "suppressed"},
        headers=tokens.header("viewer"),
    ).json()
    assert page["total"] == 1 and page["items"][0]["entity_ref"] == "component:default/checkout"
    alerts = client.get("/api/v1/alerts", headers=tokens.header("viewer")).json()
    assert alerts["items"] == []


def test_portal_pages_show_what_their_json_twins_hold(
    client: TestClient, tokens: Tokens, app_engine: Engine
) -> None:
    _store_sshd(app_engine, ["checkout", "nowhere"])
    twin = client.get("/api/v1/detect/detections", headers=tokens.header("viewer")).json()
    rule = client.get(f"/api/v1/detect/rules/{BREAK_IN_ID}", headers=tokens.header("viewer")).json()
    _login(client, tokens.viewer)
    listing = client.get("/detect")
    assert listing.status_code == 200
    text = html.unescape(listing.text)
    assert f"{twin['total']} detections" in text
    for item in twin["items"]:
        assert item["title"] in text and item["status"] in text
    assert 'href="/catalog/component/default/checkout"' in listing.text
    assert "unattributed: host nowhere" in text
    assert 'href="/api/v1/detect/detections"' in listing.text
    page = client.get(f"/detect/rules/{BREAK_IN_ID}")
    assert page.status_code == 200
    shown = html.unescape(page.text)
    for value in (rule["title"], rule["author"], rule["description"], *rule["attack"]):
        assert value in shown
    assert rule["sql"] in shown and rule["logsource"]["service"] in shown
    assert f'href="/api/v1/detect/rules/{BREAK_IN_ID}"' in page.text
    entity = client.get("/catalog/component/default/checkout")
    section = client.get(
        "/api/v1/entities/component/default/checkout/detections",
        headers=tokens.header("viewer"),
    ).json()
    assert f"Detections ({section['open']} open)" in entity.text
    assert 'href="/api/v1/entities/component/default/checkout/detections"' in entity.text
    assert client.get("/detect/rules/no-such-rule").status_code == 404


def _trail(name: str, account: str, **extra: object) -> dict[str, object]:
    return {
        "eventVersion": "1.08",
        "eventTime": "2026-03-02T08:00:00Z",
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": account},
        "recipientAccountId": account,
        **extra,
    }


def test_cloudtrail_posted_to_the_cloudevents_hook_then_polled_meets_the_cloud_rules(
    client: TestClient, tokens: Tokens, app_engine: Engine, corpora: Path
) -> None:
    created = client.post(
        "/api/v1/inbound-hooks",
        json={"name": "cloudtrail", "kind": "cloudevents"},
        headers=tokens.header("admin"),
    )
    assert created.status_code == 201
    hook_token = created.json()["token"]
    batch = [
        {  # as CloudTrail sent it
            "specversion": "1.0",
            "id": "evt-1",
            "source": "aws.cloudtrail",
            "type": "com.amazonaws.cloudtrail.event",
            "data": _trail("StopLogging", "111122223333"),
        },
        {  # inside an EventBridge envelope
            "specversion": "1.0",
            "id": "evt-2",
            "source": "aws.events",
            "type": "com.amazonaws.events.event",
            "data": {
                "detail-type": "AWS API Call via CloudTrail",
                "detail": _trail("DeleteTrail", "111122223333"),
            },
        },
        {  # denied
            "specversion": "1.0",
            "id": "evt-3",
            "source": "aws.cloudtrail",
            "type": "com.amazonaws.cloudtrail.event",
            "data": _trail("StopLogging", "111122223333", errorCode="AccessDenied"),
        },
    ]
    posted = client.post(
        "/api/v1/hooks/cloudevents/cloudtrail",
        content=json.dumps(batch).encode(),
        headers={
            "Authorization": f"Bearer {hook_token}",
            "Content-Type": "application/cloudevents-batch+json",
        },
    )
    assert posted.status_code == 202, posted.text
    rules = load_rules([corpora / "sigma" / "rules" / "cloud" / "aws"], shipped=True)
    with session_scope(app_engine) as session:
        report = poll(session, rules)
    assert report["inbound"]["records"] == 3
    found = client.get(
        "/api/v1/detect/detections", params={"limit": 50}, headers=tokens.header("viewer")
    ).json()["items"]
    by_origin: dict[str, set[str]] = {}
    for item in found:
        by_origin.setdefault(item["origin"], set()).add(item["title"])
    ours, sigmahq = "AWS CloudTrail Logging Stopped Or Deleted", "AWS CloudTrail Important Change"
    assert by_origin == {
        "inbound:1": {ours, sigmahq},
        "inbound:2": {ours, sigmahq},  # unwrapped from EventBridge
        "inbound:3": {sigmahq},  # denied: sentier's rule leaves failed calls out, SigmaHQ's not
    }
    # SigmaHQ's rule keeps its author and id, as its licence (DRL 1.1) asks.
    alerts = client.get("/api/v1/alerts", headers=tokens.header("viewer")).json()["items"]
    sigma_alert = next(a for a in alerts if a["name"] == sigmahq)
    assert sigma_alert["labels"]["rule_id"] == "4db60cc0-36fb-42b7-9b58-a5b53019fb74"
    assert sigma_alert["labels"]["attack"] == "T1685.002"  # its own ATT&CK tag


@pytest.fixture(autouse=True)
def _no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    from sentier.config import get_settings

    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    get_settings.cache_clear()
