"""Detections in the store, on SQLite and PostgreSQL: attributed to catalog entities through
hosts and cloud accounts, stored once, raised as alerts that join incidents, suppressed with a
reason until an expiry — and the poll of what sentier receives carrying on across polls."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select

from sentier import events
from sentier.catalog import ingest_source
from sentier.detect import DetectError, StreamEngine, load_rules
from sentier.detect import store as detect_store
from sentier.detect.records import LineReader, Record, from_document
from sentier.detect.sources import poll
from sentier.store import session_scope
from sentier.store.models import Alert, DetectDetection, Incident, Suppression
from tests.catalog.builders import component, group, system

NOW = datetime.now(UTC).replace(microsecond=0)
ACCOUNT = "111122223333"


def _catalog(root: Path) -> Path:
    checkout = component("checkout", owner="team-a")
    checkout["metadata"]["annotations"] = {"sentier.io/hosts": "web-1, web-2"}
    payments = system("payments", owner="team-b")
    payments["metadata"]["annotations"] = {"sentier.io/cloud-accounts": ACCOUNT}
    docs = [group("team-a"), group("team-b"), checkout, payments]
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog-info.yaml").write_text(yaml.safe_dump_all(docs))
    return root


@pytest.fixture
def catalog_engine(engine: Engine, tmp_path: Path) -> Engine:
    with session_scope(engine) as session:
        assert ingest_source(session, [_catalog(tmp_path / "catalog")], name="t").ok
    return engine


def _syslog(host: str, message: str, at: datetime = NOW, line: int = 1) -> Record:
    reader = LineReader("auth.log", year=at.year, now=at + timedelta(days=1))
    text = f"{at:%b} {at.day:2d} {at:%H:%M:%S} {host} sshd[42]: {message}"
    return next(iter(reader.read(text, line)))


def _stop_logging(at: datetime = NOW, account: str = ACCOUNT) -> dict[str, object]:
    return {
        "eventVersion": "1.08",
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": "StopLogging",
        "awsRegion": "eu-west-1",
        "userIdentity": {"type": "IAMUser", "userName": "mallory", "accountId": account},
        "recipientAccountId": account,
    }


BREAK_IN = (
    "reverse mapping checking getaddrinfo for x.example [203.0.113.9] failed - "
    "POSSIBLE BREAK-IN ATTEMPT!"
)


def _detect(records: list[Record]) -> list:  # type: ignore[type-arg]
    for seq, record in enumerate(records):
        record.seq = seq
    return StreamEngine(load_rules([], shipped=True)).run(records)


def test_detections_are_attributed_by_host_and_account_and_stored_once(
    catalog_engine: Engine,
) -> None:
    records = [
        _syslog("web-2", BREAK_IN),
        from_document(_stop_logging(), "trail.json:1"),
        _syslog("nowhere", BREAK_IN, line=2),
    ]
    found = _detect(records)
    with session_scope(catalog_engine) as session:
        first = detect_store.record_detections(session, found)
    with session_scope(catalog_engine) as session:
        again = detect_store.record_detections(session, _detect(records))
        rows = session.scalars(select(DetectDetection).order_by(DetectDetection.id)).all()
        stored = [(r.rule_id[:8], r.entity_ref, r.owner_ref, r.hint, r.status) for r in rows]
    assert first["new"] == 3 and first["alerts"] == 3
    assert again["new"] == 0 and again["already_known"] == 3 and again["alerts"] == 0
    assert stored == [
        ("4a6b8c0d", "component:default/checkout", "group:default/team-a", None, "open"),
        ("1d3e5f7a", "system:default/payments", "group:default/team-b", None, "open"),
        ("4a6b8c0d", None, None, "host nowhere", "open"),
    ]


def test_a_detection_becomes_an_alert_that_joins_an_incident_of_the_entity(
    catalog_engine: Engine,
) -> None:
    with session_scope(catalog_engine) as session:
        report = detect_store.record_detections(
            session, _detect([from_document(_stop_logging(), "trail.json:1")])
        )
    assert len(report["incidents_opened"]) == 1
    with session_scope(catalog_engine) as session:
        alert = session.scalars(select(Alert)).one()
        incident = session.get(Incident, alert.incident_id)
        assert incident is not None
        assert (alert.source, alert.severity, alert.entity_ref) == (
            "sigma",
            "critical",
            "system:default/payments",
        )
        assert alert.labels["attack"] == "T1562.008"
        # DRL 1.1: the rule's author and id travel with what it detected.
        assert alert.annotations["rule_author"] == "sentier"
        assert alert.annotations["rule_reference"].startswith("1d3e5f7a")
        assert (incident.owner_ref, incident.severity) == ("group:default/team-b", "critical")
        assert incident.entities == ["system:default/payments"]


def test_suppression_needs_a_reason_a_bounded_expiry_and_a_known_entity(
    catalog_engine: Engine,
) -> None:
    later = NOW + timedelta(days=7)
    with session_scope(catalog_engine) as session:
        for kwargs, field in [
            ({"reason": "  ", "expires_at": later}, "reason"),
            ({"reason": "ok", "expires_at": NOW - timedelta(seconds=1)}, "expires_at"),
            ({"reason": "ok", "expires_at": NOW + timedelta(days=400)}, "expires_at"),
            ({"reason": "ok", "expires_at": later, "entity_ref": "component:x/nope"}, "entity_ref"),
        ]:
            with pytest.raises(DetectError) as refused:
                detect_store.add_suppression(session, rule_id="*", created_by="t", **kwargs)  # type: ignore[arg-type]
            assert refused.value.field == field
        created = detect_store.add_suppression(
            session,
            rule_id="*",
            reason="break-glass drill",
            expires_at=later,
            created_by="t",
            entity_ref="payments",  # a partial reference is resolved to the full one
        )
    assert created["entity_ref"] == "system:default/payments" and created["active"]


def test_suppressed_detections_are_kept_not_alerted_until_the_suppression_expires(
    catalog_engine: Engine,
) -> None:
    with session_scope(catalog_engine) as session:
        suppression = detect_store.add_suppression(
            session,
            rule_id="1d3e5f7a-9b0c-4d1e-8f2a-3b4c5d6e7f07",
            reason="trail migration, change 4411",
            expires_at=NOW + timedelta(hours=1),
            created_by="alice",
            entity_ref="system:default/payments",
        )
    trail = [from_document(_stop_logging(NOW), "trail.json:1")]
    other_account = [from_document(_stop_logging(NOW, "999988887777"), "trail.json:2")]
    with session_scope(catalog_engine) as session:
        judged = detect_store.record_detections(session, _detect(trail + other_account))
    assert (judged["new"], judged["suppressed"], judged["alerts"]) == (2, 1, 1)
    with session_scope(catalog_engine) as session:
        row = session.scalars(
            select(DetectDetection).where(DetectDetection.origin == "trail.json:1")
        ).one()
        assert (row.status, row.suppression_id) == ("suppressed", suppression["id"])
        assert session.scalars(select(Alert.entity_ref)).all() == [None]
        # Expired: the same kind of detection alerts again.
        stored = session.get(Suppression, suppression["id"])
        assert stored is not None
        stored.expires_at = NOW - timedelta(seconds=1)
    later = [from_document(_stop_logging(NOW + timedelta(minutes=5)), "trail.json:3")]
    with session_scope(catalog_engine) as session:
        after = detect_store.record_detections(session, _detect(later))
        listed = detect_store.list_suppressions(session)
    assert (after["suppressed"], after["alerts"]) == (0, 1)
    assert [s["active"] for s in listed] == [False]


def _cloudtrail_event(name: str, at: datetime, arn: str, **request: str) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"{name}-{at.timestamp()}",
        "source": "aws.cloudtrail",
        "type": "com.amazonaws.cloudtrail.event",
        "time": at.isoformat(),
        "data": {
            "eventVersion": "1.08",
            "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "userIdentity": {"type": "IAMUser", "arn": arn, "accountId": ACCOUNT},
            "requestParameters": dict(request),
            "recipientAccountId": ACCOUNT,
        },
    }


def _receive(engine: Engine, *payloads: dict[str, object]) -> None:
    with session_scope(engine) as session:
        events.receive_cloudevents(
            session,
            {"content-type": "application/cloudevents-batch+json"},
            json.dumps(list(payloads)).encode(),
            hook="cloudtrail",
            principal="test",
        )


def test_poll_carries_open_correlation_windows_over_polls_and_reads_each_message_once(
    catalog_engine: Engine,
) -> None:
    """A new access key in one poll, an admin policy attached in the next: the temporal
    correlation still fires, once; and polling again finds nothing new."""
    rules = load_rules([], shipped=True)
    with session_scope(catalog_engine) as session:
        events.add_hook(session, "cloudtrail", "cloudevents")
    window = 15 * 60
    start = datetime.fromtimestamp((int(NOW.timestamp()) // window) * window, UTC)
    arn = "arn:aws:iam::111122223333:user/mallory"
    _receive(catalog_engine, _cloudtrail_event("CreateAccessKey", start, arn))
    with session_scope(catalog_engine) as session:
        first = poll(session, rules, now=start + timedelta(seconds=30))
    _receive(
        catalog_engine,
        _cloudtrail_event(
            "AttachUserPolicy",
            start + timedelta(seconds=60),
            arn,
            policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        ),
    )
    with session_scope(catalog_engine) as session:
        second = poll(session, rules, now=start + timedelta(seconds=90))
    with session_scope(catalog_engine) as session:
        third = poll(session, rules, now=start + timedelta(hours=1))
        kinds = session.execute(
            select(DetectDetection.kind, DetectDetection.entity_ref).order_by(DetectDetection.id)
        ).all()
    assert (first["inbound"]["records"], second["inbound"]["records"]) == (1, 1)
    assert third["inbound"]["records"] == 0
    assert [k for k, _ in kinds] == ["match", "match", "correlation"]
    assert {e for _, e in kinds} == {"system:default/payments"}


def test_without_the_carried_windows_the_split_burst_would_be_missed(
    catalog_engine: Engine,
) -> None:
    """The same two events each run alone through a fresh engine: no correlation (what the
    carried state above is for)."""
    rules = load_rules([], shipped=True)
    at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    arn = "arn:aws:iam::111122223333:user/mallory"
    create = from_document(_cloudtrail_event("CreateAccessKey", at, arn)["data"], "a")  # type: ignore[arg-type]
    attach = from_document(
        _cloudtrail_event(  # type: ignore[arg-type]
            "AttachUserPolicy",
            at + timedelta(seconds=60),
            arn,
            policyArn="arn:aws:iam::aws:policy/AdministratorAccess",
        )["data"],
        "b",
    )
    apart = StreamEngine(rules).run([create]) + StreamEngine(rules).run([attach])
    carried = StreamEngine(rules)
    carried.process(create)
    resumed = StreamEngine(rules)
    resumed.restore(json.loads(json.dumps(carried.snapshot())))
    together = resumed.run([attach])
    assert [d.kind for d in apart] == ["match", "match"]
    assert [d.kind for d in together] == ["match", "correlation"]


def test_one_poll_at_a_time_on_postgresql(catalog_engine: Engine) -> None:
    """A second poll while the first holds the lock skips instead of reading the same batch."""
    if catalog_engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's; SQLite serialises writers itself")
    rules = load_rules([], shipped=True)
    with session_scope(catalog_engine) as holder:
        assert "skipped" not in poll(holder, rules)
        with session_scope(catalog_engine) as other:
            assert poll(other, rules) == {"skipped": "another poll is under way"}
    with session_scope(catalog_engine) as after:
        assert "skipped" not in poll(after, rules)


def test_sentier_serve_polls_through_the_registered_background_job(
    catalog_engine: Engine,
) -> None:
    import sentier.api.routers.detect  # noqa: F401 - registers the starter
    from sentier.api.background import STARTERS
    from sentier.api.detect_consumer import DetectConsumer, start_detect_consumer

    assert start_detect_consumer in STARTERS
    with session_scope(catalog_engine) as session:
        events.add_hook(session, "cloudtrail", "cloudevents")
    trail = {
        "specversion": "1.0",
        "id": "t-1",
        "source": "aws.cloudtrail",
        "type": "com.amazonaws.cloudtrail.event",
        "data": _stop_logging(),
    }
    _receive(catalog_engine, trail)
    consumer = DetectConsumer(engine=catalog_engine)
    consumer.poll()
    consumer.poll()  # nothing new: the cursor moved on
    with session_scope(catalog_engine) as session:
        rows = session.scalars(select(DetectDetection.source)).all()
    assert rows == ["inbound"]


def test_a_closing_condition_carried_over_polls_fires_when_its_window_expires(
    tmp_path: Path,
) -> None:
    """``lte`` is judged when the window closes: after a restore, at the expiry, with the
    window's last record."""
    (tmp_path / "r.yml").write_text(
        "title: login\nid: 11111111-1111-1111-1111-111111111111\nname: login\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        "detection: {selection: {eventName: ConsoleLogin}, condition: selection}\n"
        "---\n"
        "title: few logins\nid: 22222222-2222-2222-2222-222222222222\n"
        "correlation: {type: event_count, rules: [login], group-by: [recipientAccountId],"
        " timespan: 10m, condition: {lte: 2}}\n"
    )
    rules = load_rules([tmp_path])
    assert not rules.refused
    at = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    login = _stop_logging(at) | {"eventName": "ConsoleLogin"}
    first = StreamEngine(rules)
    assert [d.kind for d in first.process(from_document(login, "a"))] == ["match"]
    carried = json.loads(json.dumps(first.snapshot()))
    second = StreamEngine(rules)
    second.restore(carried)
    assert second.expire(at + timedelta(minutes=5)) == []  # the window is still open
    fired = second.expire(at + timedelta(minutes=10))
    assert [(d.kind, d.count, d.origin) for d in fired] == [("correlation", 1, "a")]
    assert second.snapshot() == {}
