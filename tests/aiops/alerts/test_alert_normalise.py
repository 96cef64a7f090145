"""Alerts from three kinds of source into one model; bad ones reported, never fatal."""

from __future__ import annotations

import json

from sentier.aiops.alerts import RESOLVED, GenericMapping, normalise, normalise_text

ALERTMANAGER = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "status": "firing",
    "receiver": "sentier",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "namespace": "prod"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"service": "checkout", "severity": "critical"},
            "annotations": {"summary": "5% of requests fail"},
            "startsAt": "2026-11-02T10:00:00.123456789Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "c0ffee",
        },
        {
            "status": "resolved",
            "labels": {"backstage.io/kubernetes-id": "cart", "severity": "warn"},
            "annotations": {},
            "startsAt": "2026-11-02T09:00:00Z",
            "endsAt": "2026-11-02T09:30:00Z",
        },
        {"status": "firing", "labels": {"service": "x"}, "startsAt": "not a time"},
    ],
}


def test_alertmanager_webhook_v4() -> None:
    result = normalise(ALERTMANAGER, "hook.json")
    first, second = result.alerts
    assert first.name == "HighErrorRate"
    assert first.fingerprint == "c0ffee"
    assert first.severity == "critical"
    assert first.entity_hint == "checkout"
    assert first.starts_at.microsecond == 123456
    assert first.ends_at is None
    assert first.summary == "5% of requests fail"
    assert second.status == RESOLVED
    assert second.severity == "warning"
    assert second.entity_hint == "cart"
    assert second.ends_at is not None
    assert len(second.fingerprint) == 16  # computed from the labels when absent
    (problem,) = result.problems
    assert "hook.json" in str(problem) and "alerts[2].startsAt" in str(problem)


def test_cloudevent() -> None:
    event = {
        "specversion": "1.0",
        "id": "1",
        "source": "urn:monitor",
        "type": "com.example.alert.firing",
        "subject": "payments",
        "time": "2026-11-02T10:00:00Z",
        "data": {"alertname": "QueueBacklog", "severity": "high"},
    }
    (alert,) = normalise(event, "ce.json").alerts
    assert (alert.source, alert.name, alert.severity) == ("cloudevents", "QueueBacklog", "error")
    assert alert.entity_hint == "payments"
    missing = normalise({"specversion": "1.0", "id": "2", "type": "t"}, "ce.json")
    assert "source" in str(missing.problems[0])


def test_generic_json_with_a_mapping(tmp_path) -> None:  # type: ignore[no-untyped-def]
    mapping_file = tmp_path / "m.yaml"
    mapping_file.write_text(
        "name: check.title\nstatus: state\nseverity: prio\nstarts_at: at\nentity: tags.app\n"
        "source: uptime\n"
    )
    mapping = GenericMapping.load(mapping_file)
    doc = {
        "check": {"title": "Down"},
        "state": "triggered",
        "prio": "P1",
        "at": 1762077600,
        "tags": {"app": "storefront-web"},
    }
    (alert,) = normalise(doc, "g.json", mapping).alerts
    assert (alert.source, alert.name, alert.status, alert.severity) == (
        "uptime",
        "Down",
        "firing",
        "critical",
    )
    assert alert.entity_hint == "storefront-web"


def test_json_lines_report_bad_lines_by_number() -> None:
    text = "\n".join(
        [
            json.dumps(ALERTMANAGER),
            "{oops",
            json.dumps({"name": "Disk", "starts_at": "2026-11-02T10:00:00Z"}),
        ]
    )
    result = normalise_text(text, "stream.jsonl")
    assert [a.name for a in result.alerts] == ["HighErrorRate", "HighErrorRate", "Disk"]
    assert any("stream.jsonl:2" in str(p) for p in result.problems)
    assert any("stream.jsonl:1" in str(p) for p in result.problems)  # the bad third alert
