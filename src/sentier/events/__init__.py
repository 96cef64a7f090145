"""CloudEvents for every change: the outbox every domain writes to in its own transaction,
and its delivery — signed webhooks, RabbitMQ and NATS JetStream — plus inbound hooks.

Domains only need ``record`` / ``record_many`` and the type constants; the shells (CLI, API)
call the subscription, delivery, listing and inbound functions, which return plain data.
"""

from sentier.events.catalogue import check_data, data_schema, list_types, validate_data
from sentier.events.dispatcher import Dispatcher, DispatchStats, due_subscriptions, pending_count
from sentier.events.errors import EventsError
from sentier.events.inbound import (
    HOOK_KINDS,
    add_hook,
    list_hooks,
    list_inbound,
    mark_consumed,
    payload_schema,
    receive_alertmanager,
    receive_cloudevents,
    receive_git_push,
    reingest_pushed_source,
    remove_hook,
)
from sentier.events.outbox import (
    STRUCTURED_CONTENT_TYPE,
    PendingEvent,
    as_cloudevent,
    event_record,
    events_page,
    list_events,
    record,
    record_many,
    structured_body,
    to_cloudevent,
)
from sentier.events.payloads import MAX_BATCH_EVENTS, MAX_BODY_BYTES
from sentier.events.reader import Position, cursors
from sentier.events.redact import redact_text, redact_url
from sentier.events.retention import purge_expired
from sentier.events.routing import route_once
from sentier.events.settings import EventsSettings, get_events_settings
from sentier.events.subscriptions import (
    add_subscription,
    get_delivery,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    normalise_group,
    redeliver,
    remove_subscription,
    replay,
    rotate_secret,
    update_subscription,
)
from sentier.events.types import (
    CATALOG_ENTITY_ADDED,
    CATALOG_ENTITY_REMOVED,
    CATALOG_ENTITY_UPDATED,
    CATALOG_INGESTION_FAILED,
    EVENTS_DELIVERY_DEAD_LETTERED,
    EVENTS_SUBSCRIPTION_DISABLED,
    HOOKS_ALERTMANAGER_RECEIVED,
    HOOKS_CLOUDEVENT_RECEIVED,
    HOOKS_GIT_PUSH_RECEIVED,
)

__all__ = [
    "CATALOG_ENTITY_ADDED",
    "CATALOG_ENTITY_REMOVED",
    "CATALOG_ENTITY_UPDATED",
    "CATALOG_INGESTION_FAILED",
    "EVENTS_DELIVERY_DEAD_LETTERED",
    "EVENTS_SUBSCRIPTION_DISABLED",
    "HOOKS_ALERTMANAGER_RECEIVED",
    "HOOKS_CLOUDEVENT_RECEIVED",
    "HOOKS_GIT_PUSH_RECEIVED",
    "HOOK_KINDS",
    "MAX_BATCH_EVENTS",
    "MAX_BODY_BYTES",
    "STRUCTURED_CONTENT_TYPE",
    "DispatchStats",
    "Dispatcher",
    "EventsError",
    "EventsSettings",
    "PendingEvent",
    "Position",
    "add_hook",
    "add_subscription",
    "as_cloudevent",
    "check_data",
    "cursors",
    "data_schema",
    "due_subscriptions",
    "event_record",
    "events_page",
    "get_delivery",
    "get_events_settings",
    "get_subscription",
    "list_deliveries",
    "list_events",
    "list_hooks",
    "list_inbound",
    "list_subscriptions",
    "list_types",
    "mark_consumed",
    "normalise_group",
    "payload_schema",
    "pending_count",
    "purge_expired",
    "receive_alertmanager",
    "receive_cloudevents",
    "receive_git_push",
    "record",
    "record_many",
    "redact_text",
    "redact_url",
    "redeliver",
    "reingest_pushed_source",
    "remove_hook",
    "remove_subscription",
    "replay",
    "rotate_secret",
    "route_once",
    "structured_body",
    "to_cloudevent",
    "update_subscription",
    "validate_data",
]
