"""Attack cases on the inbound hooks (issue 12): a CloudEvents batch that stored the whole
request once per event and locked other writers out (H1), events without their identity or of
another spec version, hook names found by asking, lone surrogates answered by a 500."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, select

from sentier import auth, events
from sentier.config import get_settings
from sentier.events import payloads
from sentier.store import session_scope
from sentier.store.engine import create_sentier_engine
from sentier.store.models import AuditEvent, InboundMessage
from tests.api.conftest import Tokens, app_engine, client, tokens

__all__ = ["app_engine", "client", "tokens"]

BATCH = "application/cloudevents-batch+json"


@pytest.fixture(autouse=True)
def no_serve_dispatcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "0")
    get_settings.cache_clear()


def _event(i: int | str, **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(i),
        "source": "urn:monitoring",
        "type": "com.example.alert",
        **extra,
    }


def _hook(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        token = events.add_hook(session, "ce", "cloudevents")["token"]
    return {"authorization": f"Bearer {token}", "content-type": BATCH}


# -- H1: a batch stores each event's own bytes, bounded, in one short write -------------------


def test_each_event_of_a_batch_is_stored_with_its_own_text_not_the_whole_batch(
    engine: Engine,
) -> None:
    headers = _hook(engine)
    items = [_event(i, data={"n": i, "pad": "x" * 200}) for i in range(50)]
    body = ("[\n  " + ",\n  ".join(json.dumps(item) for item in items) + "\n]").encode()
    with session_scope(engine) as session:
        results = events.receive_cloudevents(session, headers, body, hook="ce")
    with session_scope(engine) as session:
        stored = session.execute(
            select(InboundMessage.sender_id, InboundMessage.body).order_by(InboundMessage.id)
        ).all()
    assert [r["duplicate"] for r in results] == [False] * 50
    assert [sender for sender, _ in stored] == [f"urn:monitoring#{i}" for i in range(50)]
    # Each message keeps its own element, byte for byte; together no more than the request.
    assert [text for _, text in stored] == [json.dumps(item) for item in items]
    assert sum(len(text) for _, text in stored) < len(body)


def test_a_batch_repeating_itself_and_one_already_stored_are_duplicates_of_the_first(
    engine: Engine,
) -> None:
    headers = _hook(engine)
    with session_scope(engine) as session:
        (first,) = events.receive_cloudevents(
            session, headers, json.dumps([_event(1)]).encode(), hook="ce"
        )
    body = json.dumps([_event(1), _event(2), _event(2), _event(3)]).encode()
    with session_scope(engine) as session:
        results = events.receive_cloudevents(session, headers, body, hook="ce")
        announced = events.list_events(session, type_prefix=events.HOOKS_CLOUDEVENT_RECEIVED)
    assert [r["duplicate"] for r in results] == [True, False, True, False]
    assert results[0]["id"] == first["id"] and results[1]["id"] == results[2]["id"]
    assert len(announced) == 3  # one event per stored message, none for a duplicate
    assert [e.data["message_id"] for e in announced] == sorted(
        e.data["message_id"] for e in announced
    )


def test_a_batch_longer_than_the_bound_is_refused_before_anything_is_stored(
    sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payloads, "MAX_BATCH_EVENTS", 5)
    headers = _hook(sqlite_engine)
    body = json.dumps([_event(i) for i in range(6)]).encode()
    with session_scope(sqlite_engine) as session, pytest.raises(events.EventsError) as refused:
        events.receive_cloudevents(session, headers, body, hook="ce")
    assert refused.value.code == "invalid" and "at most 5 events" in refused.value.message
    with session_scope(sqlite_engine) as session:
        assert events.list_inbound(session) == []


def test_a_concurrent_writer_is_not_locked_out_while_a_big_batch_is_stored(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    """SQLite has one writer: a batch that holds the write lock for seconds (the old per-event
    loop stored the whole request per event inside the request's transaction) made other
    writers fail with "database is locked". The writer here waits at most 1.5 s for the lock,
    many times what storing 2,000 events in one bulk write takes."""
    headers = _hook(sqlite_engine)
    body = json.dumps([_event(i, data={"n": i}) for i in range(2000)]).encode()
    writer_engine = create_sentier_engine(sqlite_url)

    @event.listens_for(writer_engine, "connect")
    def impatient(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=1500")

    done = threading.Event()
    failures: list[BaseException] = []
    writes = 0

    def write_meanwhile() -> None:
        nonlocal writes
        while not done.is_set():
            try:
                with session_scope(writer_engine) as session:
                    auth.audit(session, actor="budget-owner", action="budget.put", outcome="ok")
                writes += 1
            except Exception as error:  # noqa: BLE001 - what the other writer would see
                failures.append(error)
                return
            time.sleep(0.01)

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    try:
        time.sleep(0.05)
        with session_scope(sqlite_engine) as session:
            results = events.receive_cloudevents(session, headers, body, hook="ce")
        time.sleep(0.05)
    finally:
        done.set()
        writer.join()
        writer_engine.dispose()
    assert failures == [] and writes > 0
    assert len(results) == 2000 and not any(r["duplicate"] for r in results)
    with session_scope(sqlite_engine) as session:
        count = len(
            session.scalars(select(AuditEvent.id).where(AuditEvent.action == "budget.put")).all()
        )
    assert count == writes


# -- CloudEvents 1.0 identity, located ----------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        (
            {k: v for k, v in _event(1).items() if k != "id"},
            "1.id",
            "missing required attribute id",
        ),
        (_event(1, specversion="0.3"), "1.specversion", "only CloudEvents 1.0"),
        ({k: v for k, v in _event(1).items() if k != "specversion"}, "1.specversion", "missing"),
        (_event(1, id=""), "1.id", "non-empty string"),
        (_event(1, time="yesterday"), "1.time", "RFC 3339"),
        (_event(1, data={}, data_base64="AA=="), "1.data_base64", "both"),
        (_event(1, Bad_Name="x"), "1.(name)", "lower-case"),
    ],
)
def test_a_batch_event_without_its_identity_is_refused_naming_the_event_and_attribute(
    sqlite_engine: Engine, item: dict[str, Any], field: str, message: str
) -> None:
    headers = _hook(sqlite_engine)
    body = json.dumps([_event(0), item, _event(2)]).encode()
    with session_scope(sqlite_engine) as session, pytest.raises(events.EventsError) as refused:
        events.receive_cloudevents(session, headers, body, hook="ce")
    assert refused.value.code == "invalid" and refused.value.field == field
    assert message in refused.value.message and "event 1 of the batch" in refused.value.message
    with session_scope(sqlite_engine) as session:
        assert events.list_inbound(session) == []  # all or nothing


def test_structured_and_binary_events_without_id_or_of_spec_0_3_are_refused(
    sqlite_engine: Engine,
) -> None:
    auth_header = {"authorization": _hook(sqlite_engine)["authorization"]}
    structured = {**auth_header, "content-type": "application/cloudevents+json"}
    no_id = json.dumps({k: v for k, v in _event(1).items() if k != "id"}).encode()
    old = json.dumps(_event(1, specversion="0.3")).encode()
    binary = {
        **auth_header,
        "ce-specversion": "1.0",
        "ce-source": "urn:monitoring",
        "ce-type": "com.example.alert",
        "content-type": "application/json",
    }
    cases = [
        (structured, no_id, "id"),
        (structured, old, "specversion"),
        (binary, b"{}", "ce-id"),
        ({**binary, "ce-id": "7", "ce-specversion": "0.3"}, b"{}", "ce-specversion"),
    ]
    for headers, body, field in cases:
        with session_scope(sqlite_engine) as session, pytest.raises(events.EventsError) as refused:
            events.receive_cloudevents(session, headers, body, hook="ce")
        assert refused.value.field == field, refused.value
    with session_scope(sqlite_engine) as session:
        (ok,) = events.receive_cloudevents(session, {**binary, "ce-id": "7"}, b"{}", hook="ce")
        assert not ok["duplicate"] and ok["sender_id"] == "urn:monitoring#7"


def test_the_api_answers_a_located_problem_for_a_batch_event_without_id(
    client: TestClient, tokens: Tokens
) -> None:
    token = _create_hook(client, tokens, "mon")["token"]
    body = json.dumps([_event(0), {k: v for k, v in _event(1).items() if k != "id"}]).encode()
    response = client.post(
        "/api/v1/hooks/cloudevents/mon",
        content=body,
        headers={"authorization": f"Bearer {token}", "content-type": BATCH},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:sentier:problem:events-invalid" and problem["field"] == "1.id"


# -- hook names cannot be found by asking ------------------------------------------------------


def _create_hook(client: TestClient, tokens: Tokens, name: str, **body: str) -> dict[str, Any]:
    response = client.post(
        "/api/v1/inbound-hooks",
        json={"name": name, "kind": "cloudevents", **body},
        headers=tokens.header("admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_unknown_hook_answers_as_a_known_one_without_credentials(
    client: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENTIER_LOGIN_FAILURES_PER_MINUTE", "100")  # asking 12 times
    get_settings.cache_clear()
    _create_hook(client, tokens, "known")
    _create_hook(client, tokens, "signed", auth="hmac")
    body = json.dumps(_event(1)).encode()
    answers = {}
    for path in (
        "/api/v1/hooks/cloudevents/known",
        "/api/v1/hooks/cloudevents/signed",
        "/api/v1/hooks/cloudevents/unknown",
        "/api/v1/hooks/alertmanager/known",  # a known name, of another kind
    ):
        for headers in ({}, {"authorization": "Bearer nope"}, {"webhook-signature": "v1,AAAA"}):
            response = client.post(
                path, content=body, headers={"content-type": "application/json", **headers}
            )
            name = path.rsplit("/", 1)[1]
            detail = response.json()["detail"].replace(name, "NAME")
            answers[(path, tuple(headers))] = (response.status_code, detail)
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == 401


# -- lone surrogates: a problem document, never a 500 ----------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type", "body"),
    [
        (
            "cloudevents",
            "application/cloudevents+json",
            '{"specversion": "1.0", "id": "1", '
            '"source": "s", "type": "t", "data": {"a": "\\ud800"}}',
        ),
        (
            "cloudevents",
            BATCH,
            '[{"specversion": "1.0", "id": "\\udfff", "source": "s", "type": "t"}]',
        ),
        (
            "cloudevents",
            "application/cloudevents+json",
            '{"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {"\\ud83d": 1}}',
        ),
        ("alertmanager", "application/json", '{"version": "4", "groupKey": "\\ud800"}'),
        (
            "git",
            "application/json",
            '{"ref": "refs/heads/\\udc00", "after": "a", "repository": {}, "source": "base"}',
        ),
    ],
)
def test_a_lone_surrogate_in_a_hook_body_is_a_422_problem(
    client: TestClient, tokens: Tokens, kind: str, content_type: str, body: str
) -> None:
    response = client.post(
        "/api/v1/inbound-hooks",
        json={"name": "h", "kind": kind, **({"source": "base"} if kind == "git" else {})},
        headers=tokens.header("admin"),
    )
    token = response.json()["token"]
    answer = client.post(
        f"/api/v1/hooks/{kind}/h",
        content=body.encode(),
        headers={"authorization": f"Bearer {token}", "content-type": content_type},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "surrogate" in answer.json()["detail"] or "UTF-8" in answer.json()["detail"]
