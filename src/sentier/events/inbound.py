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
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from standardwebhooks import Webhook, WebhookVerificationError

from sentier.events import credentials
from sentier.events import types as event_types
from sentier.events.errors import EventsError
from sentier.events.outbox import record
from sentier.store.models import InboundHook, InboundMessage

HOOK_KINDS = ("alertmanager", "cloudevents", "git")
MAX_BODY_BYTES = 5 * 1024 * 1024
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


def authenticate(hook: InboundHook, headers: Mapping[str, str], body: bytes) -> None:
    """Check the sender's credential for ``hook``; :class:`EventsError` ``unauthorized`` if not."""
    if hook.token_sha256:
        token = None
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            token = authorization[7:].strip()
        token = token or headers.get("x-gitlab-token") or headers.get("x-sentier-token")
        if token and credentials.token_matches(token, hook.token_sha256):
            return
        raise EventsError(f"hook {hook.name}: missing or wrong token", code="unauthorized")
    if hook.secret_encrypted:
        secret = credentials.decrypt(hook.secret_encrypted)
        if "webhook-signature" in headers:
            try:
                Webhook(secret).verify(body, dict(headers), json_parse=False)
            except WebhookVerificationError as error:
                raise EventsError(f"hook {hook.name}: {error}", code="unauthorized") from error
            except ValueError as error:
                # The library splits and base64-decodes the header and decodes the body as
                # UTF-8 without guarding: a malformed one is a wrong signature, not a crash.
                raise EventsError(
                    f"hook {hook.name}: malformed webhook-signature", code="unauthorized"
                ) from error
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
        raise EventsError(f"hook {hook.name}: missing or wrong signature", code="unauthorized")
    raise EventsError(f"hook {hook.name} has no credential", code="unauthorized")


def _hook(session: Session, name: str, kind: str) -> InboundHook:
    hook = session.get(InboundHook, name)
    if hook is None or hook.kind != kind:
        raise EventsError(f"no {kind} hook {name}", code="not_found")
    return hook


def _json(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise EventsError(f"body larger than {MAX_BODY_BYTES} bytes", field="body")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except UnicodeDecodeError as error:
        raise EventsError("body is not UTF-8", field="body") from error
    except json.JSONDecodeError as error:
        raise EventsError(
            f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}",
            field="body",
        ) from error
    except ValueError as error:
        raise EventsError(str(error), field="body") from error
    except RecursionError as error:
        raise EventsError("JSON nested too deeply", field="body") from error


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_INT64 = 2**63
MAX_DEPTH = 200  # orjson, which writes JSON columns, stops at 254 levels


def check_storable(value: Any) -> None:
    """Refuse what the database cannot keep as JSON on every backend: U+0000 in a string
    (PostgreSQL), integers beyond 64 bits, NaN and infinities, nesting deeper than
    ``MAX_DEPTH`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise EventsError("JSON strings may not contain U+0000", field="body")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not -_INT64 <= item < _INT64:
                raise EventsError("JSON integers must fit in 64 bits", field="body")
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise EventsError("JSON numbers must be finite", field="body")
        elif isinstance(item, dict | list | tuple):
            if depth >= MAX_DEPTH:
                raise EventsError(f"JSON nested deeper than {MAX_DEPTH} levels", field="body")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


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


def _store(
    session: Session,
    hook: InboundHook,
    sender_id: str,
    headers: Mapping[str, str],
    body: bytes,
    payload: dict[str, Any],
    event: tuple[str, str, dict[str, Any]] | None,
) -> tuple[InboundMessage, bool]:
    """Insert the message unless the sender's id is known; ``(message, duplicate)``."""
    check_storable(payload)
    sender_id = _sender_key(sender_id)
    existing = session.scalar(
        select(InboundMessage).where(
            InboundMessage.hook_name == hook.name, InboundMessage.sender_id == sender_id
        )
    )
    if existing is not None:
        return existing, True
    message = InboundMessage(
        hook_name=hook.name,
        kind=hook.kind,
        sender_id=sender_id,
        received_at=_now(),
        content_type=(headers.get("content-type") or "")[:_CONTENT_TYPE_CHARS] or None,
        headers={k: v for k, v in headers.items() if k not in _SECRET_HEADERS},
        # Text as received; bytes that are not UTF-8 (and NUL, which PostgreSQL text cannot
        # hold) become U+FFFD. A binary CloudEvent's exact data is in payload.data_base64.
        body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        payload=payload,
        status="received",
    )
    try:
        with session.begin_nested():
            session.add(message)
            session.flush()
    except IntegrityError:  # the same delivery, raced in by a concurrent request
        again = session.scalar(
            select(InboundMessage).where(
                InboundMessage.hook_name == hook.name, InboundMessage.sender_id == sender_id
            )
        )
        assert again is not None
        return again, True
    if event is not None:
        type, subject, data = event
        subject = subject[:_SUBJECT_CHARS]
        record(session, type, subject, {"message_id": message.id, "hook": hook.name, **data})
    return message, False


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
    row = _hook(session, hook, "alertmanager")
    if principal is None:
        authenticate(row, lowered, body)
    payload = _json(body)
    _validate("alertmanager", payload)
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    sender_id = "am:" + hashlib.sha256(canonical.encode()).hexdigest()
    message, duplicate = _store(
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
    return message_record(message, duplicate)


# -- CloudEvents ------------------------------------------------------------------------------


def _parse_cloudevents(headers: dict[str, str], body: bytes) -> list[dict[str, Any]]:
    from cloudevents.core.bindings.http import HTTPMessage, from_http
    from cloudevents.core.exceptions import BaseCloudEventException
    from cloudevents.core.formats.json import JSONFormat

    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = JSONFormat()
    try:
        if content_type == "application/cloudevents-batch+json":
            items = _json(body)
            if not isinstance(items, list):
                raise EventsError("a batch must be a JSON array", field="body")
            events = [fmt.read(None, json.dumps(item)) for item in items]
        else:
            if not any(k.startswith("ce-") for k in headers):
                _json(body)  # a clear line/column for broken JSON
            events = [from_http(HTTPMessage(headers=headers, body=body), fmt)]
    except EventsError:
        raise
    except (BaseCloudEventException, ValueError, TypeError, KeyError) as error:
        raise EventsError(f"not a valid CloudEvent: {error}", field="body") from error
    except (AttributeError, RecursionError) as error:  # the SDK meeting an odd shape
        raise EventsError(
            f"not a valid CloudEvent ({type(error).__name__})", field="body"
        ) from error
    out = []
    for event in events:
        attributes = dict(event.get_attributes())
        if attributes.get("time") is not None:
            attributes["time"] = attributes["time"].isoformat()
        data = event.get_data()
        if isinstance(data, bytes):
            attributes["data_base64"] = base64.b64encode(data).decode("ascii")
        elif data is not None:
            attributes["data"] = data
        out.append(attributes)
    return out


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
    """
    lowered = _lower(headers)
    row = _hook(session, hook, "cloudevents")
    if principal is None:
        authenticate(row, lowered, body)
    results = []
    for event in _parse_cloudevents(lowered, body):
        message, duplicate = _store(
            session,
            row,
            f"{event['source']}#{event['id']}",
            lowered,
            body,
            event,
            (
                event_types.HOOKS_CLOUDEVENT_RECEIVED,
                event.get("subject") or event["source"],
                {"ce_id": event["id"], "ce_source": event["source"], "ce_type": event["type"]},
            ),
        )
        results.append(message_record(message, duplicate))
    return results


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
    row = _hook(session, hook, "git")
    if principal is None:
        authenticate(row, lowered, body)
    payload = _json(body)
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
    message, duplicate = _store(
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
    return message_record(message, duplicate)


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
