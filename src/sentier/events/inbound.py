"""Inbound hooks: Alertmanager, CloudEvents and git push notifications.

Each function takes the raw request — headers, body bytes, and, when the API already
authenticated the caller, its ``principal`` — and returns plain data or raises
:class:`EventsError` (``unauthorized``, ``invalid``, ``not_found``). A hook is a named endpoint
with its own credential: a bearer token (stored as a digest) or an HMAC secret (Standard
Webhooks headers, or GitHub/Gitea ``X-Hub-Signature-256``). Payloads are schema-validated,
stored raw in ``inbound_messages`` for the AIOps domain to consume, and idempotent on the
sender's id: a retried delivery returns the first one's result and stores nothing new.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError

from sentier.events import cloudevents_in, credentials
from sentier.events import types as event_types
from sentier.events.errors import EventsError
from sentier.events.inbound_store import insert_messages, known_messages
from sentier.events.outbox import PendingEvent, record_many
from sentier.events.payloads import check_storable, parse_json
from sentier.store.models import InboundHook, InboundMessage

HOOK_KINDS = ("alertmanager", "cloudevents", "git")
# Column sizes: a sender's long header or subject is cut, never a database error.
_CONTENT_TYPE_CHARS = 255
_SUBJECT_CHARS = 512
_SECRET_HEADERS = {"authorization", "cookie", "x-gitlab-token", "x-sentier-token"}
_DELIVERY_HEADERS = (
    "x-github-delivery",
    "x-gitea-delivery",
    "x-gogs-delivery",
    "x-gitlab-event-uuid",
    "webhook-id",
)


def _now() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=1)
def _schemas() -> dict[str, Draft202012Validator]:
    text = resources.files("sentier.events").joinpath("inbound_schemas.yaml").read_text("utf-8")
    return {
        name: Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        for name, schema in yaml.safe_load(text).items()
    }


def payload_schema(kind: str) -> dict[str, Any] | None:
    """The JSON Schema a hook kind's payload is checked against, references inlined (so an
    OpenAPI document can embed it); None for CloudEvents, which the SDK checks."""
    text = resources.files("sentier.events").joinpath("inbound_schemas.yaml").read_text("utf-8")
    schema = yaml.safe_load(text).get(kind)
    if schema is None:
        return None
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.split("/")[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


# -- hooks ------------------------------------------------------------------------------------


def hook_record(hook: InboundHook) -> dict[str, Any]:
    return {
        "name": hook.name,
        "kind": hook.kind,
        "auth": "token" if hook.token_sha256 else "hmac",
        "source": hook.source_name,
        "created_at": hook.created_at,
    }


def add_hook(
    session: Session,
    name: str,
    kind: str,
    *,
    auth: str = "token",
    source: str | None = None,
    credential: str | None = None,
) -> dict[str, Any]:
    """Create an inbound hook; the result carries its ``token`` or ``secret`` (shown once)."""
    if kind not in HOOK_KINDS:
        raise EventsError(f"kind must be one of {', '.join(HOOK_KINDS)}", field="kind")
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise EventsError("name must be 1..64 letters, digits, - or _", field="name")
    if source is not None and not 0 < len(source) <= 255:
        raise EventsError("source must be 1..255 characters", field="source")
    if credential is not None and credential.startswith("snt_"):
        # A bearer token starting with snt_ is read as a sentier API token, never a hook's.
        raise EventsError("a hook token may not start with snt_", field="credential")
    if session.get(InboundHook, name) is not None:
        raise EventsError(f"hook {name} already exists", code="conflict", field="name")
    hook = InboundHook(name=name, kind=kind, source_name=source, created_at=_now())
    shown: dict[str, str]
    if auth == "token":
        token = credential or credentials.new_token()
        hook.token_sha256 = credentials.token_digest(token)
        shown = {"token": token}
    elif auth == "hmac":
        secret = credentials.check_webhook_secret(credential) if credential else None
        secret = secret or credentials.new_webhook_secret()
        hook.secret_encrypted = credentials.encrypt(secret)
        shown = {"secret": secret}
    else:
        raise EventsError("auth must be token or hmac", field="auth")
    session.add(hook)
    session.flush()
    return {**hook_record(hook), **shown}


def list_hooks(session: Session) -> list[dict[str, Any]]:
    return [hook_record(h) for h in session.scalars(select(InboundHook).order_by(InboundHook.name))]


def remove_hook(session: Session, name: str) -> None:
    hook = session.get(InboundHook, name)
    if hook is None:
        raise EventsError(f"no hook {name}", code="not_found")
    session.delete(hook)


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _denied(name: str) -> EventsError:
    """The one answer to a sender who may not post to ``name``: the same whether the hook
    exists or not, whichever credential it takes and whatever was wrong with the one given,
    so that hook names cannot be found by asking."""
    return EventsError(f"hook {name}: missing or wrong token or signature", code="unauthorized")


def authenticate(hook: InboundHook, headers: Mapping[str, str], body: bytes) -> None:
    """Check the sender's credential for ``hook``; :class:`EventsError` ``unauthorized`` if not
    (always the same message: see :func:`_denied`)."""
    if hook.token_sha256:
        token = None
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        token = token or headers.get("x-gitlab-token") or headers.get("x-sentier-token")
        if token and credentials.token_matches(token, hook.token_sha256):
            return
        raise _denied(hook.name)
    if hook.secret_encrypted:
        secret = credentials.decrypt(hook.secret_encrypted)
        if "webhook-signature" in headers:
            try:
                Webhook(secret).verify(body, dict(headers), json_parse=False)
            except (WebhookVerificationError, ValueError) as error:
                # ValueError: the library splits and base64-decodes the header and decodes the
                # body as UTF-8 without guarding; a malformed one is a wrong signature.
                raise _denied(hook.name) from error
            return
        hub = headers.get("x-hub-signature-256") or headers.get("x-gitea-signature")
        if hub:
            raw = (
                secret[len(credentials.SECRET_PREFIX) :]
                if secret.startswith(credentials.SECRET_PREFIX)
                else secret
            )
            key = base64.b64decode(raw + "==")
            expected = hmac.new(key, body, hashlib.sha256).hexdigest()
            given = hub.split("=", 1)[1] if hub.startswith("sha256=") else hub
            # As bytes: compare_digest raises TypeError on str holding non-ASCII characters.
            candidate = given.strip().lower().encode("utf-8", "replace")
            if hmac.compare_digest(expected.encode("ascii"), candidate):
                return
    raise _denied(hook.name)


def _hook(
    session: Session,
    name: str,
    kind: str,
    headers: Mapping[str, str],
    body: bytes,
    principal: str | None,
) -> InboundHook:
    """The hook ``name`` of ``kind``, its sender authenticated unless the API already did.

    An unknown name is ``not_found`` only for an authenticated API caller; an anonymous one
    gets what a known hook answers a wrong credential.
    """
    hook = session.get(InboundHook, name)
    if hook is None or hook.kind != kind:
        if principal is None:
            raise _denied(name)
        raise EventsError(f"no {kind} hook {name}", code="not_found")
    if principal is None:
        authenticate(hook, headers, body)
    return hook


def _validate(kind: str, payload: Any) -> None:
    check_storable(payload)  # also bounds the depth the validator recurses into
    errors = sorted(_schemas()[kind].iter_errors(payload), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise EventsError(f"{first.message}{more}", field=where)


def _sender_key(value: str) -> str:
    return value if len(value) <= 512 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    """One message to store: the sender's id, its own text, its payload, its event."""

    sender_id: str
    text: str
    payload: dict[str, Any]
    event_type: str
    subject: str
    data: dict[str, Any]


def _store_many(
    session: Session, hook: InboundHook, headers: Mapping[str, str], entries: Sequence[_Entry]
) -> list[dict[str, Any]]:
    """Store the messages whose sender id is new, each with its own text, and announce each;
    one result per entry, in order (``duplicate`` for a sender id already stored, earlier in
    the request included).

    The known ids are read first; the writes are two bulk inserts (messages, events), so the
    write transaction — which on SQLite holds the database's one write lock — stays short
    whatever the batch.
    """
    now = _now()
    keys = [_sender_key(entry.sender_id) for entry in entries]
    known = known_messages(session, hook.name, keys)
    content_type = (headers.get("content-type") or "")[:_CONTENT_TYPE_CHARS] or None
    kept_headers = {k: v for k, v in headers.items() if k not in _SECRET_HEADERS}
    new: dict[str, _Entry] = {}
    for key, entry in zip(keys, entries, strict=True):
        if key not in known and key not in new:
            new[key] = entry
    ids: dict[str, int] = {}
    if new:
        ids = insert_messages(
            session,
            hook=hook.name,
            kind=hook.kind,
            received_at=now,
            content_type=content_type,
            headers=kept_headers,
            rows=[(key, entry.text, entry.payload) for key, entry in new.items()],
        )
        raced = [key for key in new if key not in ids]
        if raced:  # stored by a concurrent request between our read and our write
            known.update(known_messages(session, hook.name, raced))
        stored = sorted((ids[key], key) for key in new if key in ids)
        record_many(
            session,
            [
                PendingEvent(
                    new[key].event_type,
                    new[key].subject[:_SUBJECT_CHARS],
                    {"message_id": message_id, "hook": hook.name, **new[key].data},
                )
                for message_id, key in stored
            ],
        )
    results: list[dict[str, Any]] = []
    first_seen: set[str] = set()
    for key in keys:
        base = {"hook": hook.name, "kind": hook.kind, "sender_id": key}
        if key in ids:  # stored now; a repeat within the request is the first one's message
            fresh = {"id": ids[key], "received_at": now, "status": "received", "result": None}
            results.append({**base, **fresh, "duplicate": key in first_seen})
            first_seen.add(key)
        else:
            results.append({**base, **known[key], "duplicate": True})
    return results


def _store(
    session: Session,
    hook: InboundHook,
    sender_id: str,
    headers: Mapping[str, str],
    body: bytes,
    payload: dict[str, Any],
    event: tuple[str, str, dict[str, Any]],
) -> dict[str, Any]:
    """Store one message (Alertmanager, git) unless its sender id is known; its record."""
    check_storable(payload)
    # Text as received; bytes that are not UTF-8 (and NUL, which PostgreSQL text cannot
    # hold) become U+FFFD.
    text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    (result,) = _store_many(session, hook, headers, [_Entry(sender_id, text, payload, *event)])
    return result


def message_record(message: InboundMessage, duplicate: bool = False) -> dict[str, Any]:
    return {
        "id": message.id,
        "hook": message.hook_name,
        "kind": message.kind,
        "sender_id": message.sender_id,
        "received_at": message.received_at,
        "status": message.status,
        "result": message.result,
        "duplicate": duplicate,
    }


# -- Alertmanager -----------------------------------------------------------------------------


def receive_alertmanager(
    session: Session,
    headers: Mapping[str, str],
    body: bytes,
    *,
    hook: str = "alertmanager",
    principal: str | None = None,
) -> dict[str, Any]:
    """``POST /api/v1/hooks/alertmanager``: one Alertmanager v4 notification.

    Alertmanager sends no delivery id; a notification is identified by the digest of its
    canonical JSON, so a resend of the same notification is stored once.
    """
    lowered = _lower(headers)
    row = _hook(session, hook, "alertmanager", lowered, body, principal)
    payload = parse_json(body)
    _validate("alertmanager", payload)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    sender_id = "am:" + hashlib.sha256(canonical.encode()).hexdigest()
    return _store(
        session,
        row,
        sender_id,
        lowered,
        body,
        payload,
        (
            event_types.HOOKS_ALERTMANAGER_RECEIVED,
            f"alertgroup:{payload['groupKey']}",
            {
                "status": payload["status"],
                "alerts": len(payload["alerts"]),
                "group_key": payload["groupKey"],
                "receiver": payload["receiver"],
            },
        ),
    )


# -- CloudEvents ------------------------------------------------------------------------------


def receive_cloudevents(
    session: Session,
    headers: Mapping[str, str],
    body: bytes,
    *,
    hook: str = "cloudevents",
    principal: str | None = None,
) -> list[dict[str, Any]]:
    """``POST /api/v1/hooks/cloudevents``: structured, binary or batch mode.

    Idempotent on the CloudEvents identity, ``source`` + ``id``. Returns one result per event.
    Each event is stored with its own text (a batch's element, not the whole batch); a batch
    holds at most ``MAX_BATCH_EVENTS`` and is written in one short bulk transaction.
    """
    lowered = _lower(headers)
    row = _hook(session, hook, "cloudevents", lowered, body, principal)
    incoming = cloudevents_in.read(lowered, body, _now())
    entries = [
        _Entry(
            event.sender_id,
            event.text,
            event.attributes,
            event_types.HOOKS_CLOUDEVENT_RECEIVED,
            event.attributes.get("subject") or event.attributes["source"],
            {
                "ce_id": event.attributes["id"],
                "ce_source": event.attributes["source"],
                "ce_type": event.attributes["type"],
            },
        )
        for event in incoming
    ]
    return _store_many(session, row, lowered, entries)


# -- git --------------------------------------------------------------------------------------


def receive_git_push(
    session: Session,
    headers: Mapping[str, str],
    body: bytes,
    *,
    hook: str = "git",
    source: str | None = None,
    principal: str | None = None,
) -> dict[str, Any]:
    """``POST /api/v1/hooks/git``: store a push and name the catalog source to re-ingest.

    The source is the payload's ``source``, else ``source`` (a query parameter), else the
    hook's configured one; it must be a registered catalog source. Then call
    :func:`reingest_pushed_source` (after this transaction commits) to run the ingestion.
    """
    from sentier.store.models import CatalogSource

    lowered = _lower(headers)
    row = _hook(session, hook, "git", lowered, body, principal)
    payload = parse_json(body)
    _validate("git", payload)
    name = payload.get("source") or source or row.source_name
    if not name:
        raise EventsError(
            "no catalog source named: set it in the payload, the query or the hook",
            field="source",
        )
    if session.scalar(select(CatalogSource.id).where(CatalogSource.name == name)) is None:
        raise EventsError(
            f"no registered catalog source {name!r}", code="not_found", field="source"
        )
    delivery = next((lowered[h] for h in _DELIVERY_HEADERS if lowered.get(h)), None)
    sender_id = delivery or "sha256:" + hashlib.sha256(body).hexdigest()
    commit = payload.get("after") or payload.get("checkout_sha")
    return _store(
        session,
        row,
        sender_id,
        lowered,
        body,
        {**payload, "source": name},
        (
            event_types.HOOKS_GIT_PUSH_RECEIVED,
            f"source:{name}",
            {"source": name, "ref": payload.get("ref"), "commit": commit},
        ),
    )


def reingest_pushed_source(engine: Engine, message_id: int) -> dict[str, Any]:
    """Re-ingest the catalog source a stored git push names; runs once per push.

    The ingestion runs in its own transaction (all or nothing); the push records its
    outcome, so a retried notification neither re-runs nor loses it.
    """
    from sentier.catalog import ingest_source
    from sentier.store import session_scope
    from sentier.store.models import CatalogSource

    with session_scope(engine) as session:
        message = session.get(InboundMessage, message_id)
        if message is None or message.kind != "git":
            raise EventsError(f"no git push {message_id}", code="not_found")
        if message.status in ("ingested", "failed"):
            return message_record(message, duplicate=True)
        name = str((message.payload or {}).get("source"))
        source = session.scalar(select(CatalogSource).where(CatalogSource.name == name))
        if source is None:
            raise EventsError(f"no registered catalog source {name!r}", code="not_found")
        roots = [part for part in source.target.split("\n") if part]  # as ingest joins them
    try:
        with session_scope(engine) as session:
            from pathlib import Path

            report = ingest_source(session, [Path(r) for r in roots], name=name)
            outcome = {"status": "ingested", "result": report.summary()}
    except Exception as error:  # noqa: BLE001 - rolled back; recorded on the push
        outcome = {"status": "failed", "result": {"error": str(error)}}
    with session_scope(engine) as session:
        session.execute(
            update(InboundMessage).where(InboundMessage.id == message_id).values(**outcome)
        )
        message = session.get(InboundMessage, message_id)
        assert message is not None
        return message_record(message)


# -- the stored messages, for the AIOps domain -----------------------------------------------


def list_inbound(
    session: Session,
    *,
    kind: str | None = None,
    unconsumed: bool = False,
    after: int = 0,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Stored inbound messages in arrival order, with their parsed ``payload``."""
    query = select(InboundMessage).where(InboundMessage.id > after)
    if kind:
        query = query.where(InboundMessage.kind == kind)
    if unconsumed:
        query = query.where(InboundMessage.consumed_at.is_(None))
    rows = session.scalars(query.order_by(InboundMessage.id).limit(max(1, min(limit, 1000))))
    return [{**message_record(m), "payload": m.payload, "headers": m.headers} for m in rows]


def mark_consumed(session: Session, ids: Sequence[int]) -> int:
    """Mark messages as taken by their consumer (AIOps); returns how many changed."""
    if not ids:
        return 0
    result = session.execute(
        update(InboundMessage)
        .where(InboundMessage.id.in_(list(ids)), InboundMessage.consumed_at.is_(None))
        .values(consumed_at=_now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
