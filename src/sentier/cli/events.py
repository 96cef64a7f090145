"""``sentier events``: the event log, the dispatcher, broker consumers and inbound hooks."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sentier.cli._common import console, err_console, fail, open_store, print_json

app = typer.Typer(
    help="CloudEvents: the event log, delivery, brokers and inbound hooks.",
    no_args_is_help=True,
)
hooks_app = typer.Typer(help="Inbound hooks: Alertmanager, CloudEvents, git.", no_args_is_help=True)
app.add_typer(hooks_app, name="hooks")


class Format(StrEnum):
    table = "table"
    json = "json"


class Broker(StrEnum):
    rabbitmq = "rabbitmq"
    nats = "nats"


class DispatchBroker(StrEnum):
    none = "none"
    rabbitmq = "rabbitmq"
    nats = "nats"


def _run(action: Any) -> Any:
    from sentier.events import EventsError
    from sentier.store import session_scope

    engine = open_store()
    try:
        with session_scope(engine) as session:
            return action(session)
    except EventsError as error:
        fail(str(error))


def _stop_on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


@app.command("types")
def types_(format: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """The catalogue of event types, with a JSON Schema of each type's data."""
    from sentier.events import list_types

    entries = list_types()
    if format is Format.json:
        print_json(entries)
        return
    table = Table(title=f"{len(entries)} event types")
    for column in ("type", "domain", "description"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry["type"], entry["domain"], entry["description"] or "(undocumented)")
    console.print(table)


def _print_events(items: list[dict[str, Any]], format: Format) -> None:
    for item in items:
        if format is Format.json:
            sys.stdout.write(json.dumps(item, default=str, ensure_ascii=False) + "\n")
        else:
            console.print(
                f"{int(item['sequence']):>8}  {item['time']}  [bold]{item['type']}[/]  "
                f"{item.get('subject') or ''}",
                highlight=False,
            )
    sys.stdout.flush()


@app.command()
def tail(
    type: Annotated[str | None, typer.Option("--type", "-t", help="Type prefix or glob.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject (entity ref).")] = None,
    after: Annotated[int, typer.Option(help="Start after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="Without --follow: at most this many.")] = 100,
    follow: Annotated[bool, typer.Option("--follow", "-F", help="Wait for new events.")] = False,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """List events (oldest first, after a sequence); --follow keeps printing new ones."""
    from sentier.events import events_page
    from sentier.events.outbox import event_record, type_condition
    from sentier.events.reader import Position, end_position, horizon, read_after
    from sentier.store import session_scope

    engine = open_store()
    if not follow:
        with session_scope(engine) as session:
            page = events_page(session, type=type, subject=subject, after=after, limit=limit)
        _print_events(page["items"], format)
        return
    # Follow through the commit-ordered reader, so late commits on PostgreSQL still show.
    with session_scope(engine) as session:
        position = end_position(session, horizon(engine)) if not after else Position(0, after)
    pattern = type_condition(type) if type else None
    try:
        while True:
            horizon_tx = horizon(engine)
            with session_scope(engine) as session:
                rows = list(read_after(session, position, horizon_tx, 500))
                if rows:
                    position = Position(int(rows[-1].tx or 0), rows[-1].id)
                items = [
                    event_record(r)
                    for r in rows
                    if (subject is None or r.subject == subject)
                    and (pattern is None or _matches_type(type or "", r.type))
                ]
            _print_events(items, format)
            if not rows:
                time.sleep(0.25)
    except KeyboardInterrupt:
        return


def _matches_type(pattern: str, value: str) -> bool:
    import fnmatch

    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(value, pattern)
    return value.startswith(pattern)


@app.command()
def dispatch(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    broker: Annotated[
        DispatchBroker | None,
        typer.Option(help="Also forward the outbox to this broker (default: settings)."),
    ] = None,
) -> None:
    """Run the dispatcher: route the outbox, deliver webhooks, forward to a broker."""
    from sentier.events import Dispatcher

    engine = open_store()
    dispatcher = Dispatcher(engine, broker=broker.value if broker else None)

    async def main() -> None:
        if once:
            await dispatcher.run_until_idle()
            return
        stop = asyncio.Event()
        _stop_on_signals(asyncio.get_running_loop(), stop)
        err_console.print(
            f"dispatcher {dispatcher.owner} running (broker: {dispatcher.broker}); Ctrl-C stops"
        )
        await dispatcher.run(stop)

    asyncio.run(main())
    s = dispatcher.stats
    forwarded = ", ".join(f"{k}: {v}" for k, v in s.forwarded.items()) or "none"
    err_console.print(
        f"routed {s.routed}, delivered {s.delivered}, failed attempts {s.failed_attempts}, "
        f"dead-lettered {s.dead_lettered}, subscriptions disabled {s.disabled}, "
        f"forwarded {forwarded}"
    )


@app.command()
def consume(
    from_: Annotated[Broker, typer.Option("--from", help="The broker to consume from.")],
    types: Annotated[
        list[str] | None, typer.Option("--types", "-t", help="Event type globs.")
    ] = None,
    group: Annotated[
        str, typer.Option(help="Worker group: workers of one group share the events.")
    ] = "sentier-workers",
    max_events: Annotated[
        int, typer.Option("--max", help="Stop after this many events (0: run until Ctrl-C).")
    ] = 0,
) -> None:
    """Consume events from RabbitMQ or NATS as one worker of a group; prints JSON lines.

    Each event is handled once per group even if the broker delivers it twice.
    """
    from sentier.events import EventsError
    from sentier.events.brokers import consume as run_consumer

    engine = open_store()
    patterns = [p for value in types or ["*"] for p in value.split(",") if p.strip()]
    seen = 0

    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(asyncio.get_running_loop(), stop)

        def on_handled(event: dict[str, Any]) -> None:
            nonlocal seen
            seen += 1
            sys.stdout.write(json.dumps(event, default=str, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            if max_events and seen >= max_events:
                stop.set()

        await run_consumer(
            engine, from_.value, stop, name=group, types=patterns, on_handled=on_handled
        )

    try:
        asyncio.run(main())
    except EventsError as error:
        fail(str(error))
    err_console.print(f"{seen} events handled")


@app.command()
def purge(
    days: Annotated[
        float | None, typer.Option(help="Retention in days (default: the setting).")
    ] = None,
) -> None:
    """Delete events and finished deliveries older than the retention window."""
    from sentier.events import purge_expired

    result = _run(lambda s: purge_expired(s, retention_days=days))
    console.print(
        f"before {result['cutoff']:%Y-%m-%d %H:%M}: {result['events']} events, "
        f"{result['deliveries']} deliveries, {result['inbound_messages']} inbound messages, "
        f"{result['consumed_records']} consumer records deleted"
    )


@app.command("cursors")
def cursors_() -> None:
    """Where each reader of the outbox (webhook router, broker forwarders) stands."""
    from sentier.events import cursors

    print_json(_run(cursors))


# -- inbound hooks -----------------------------------------------------------------------------


class HookKind(StrEnum):
    alertmanager = "alertmanager"
    cloudevents = "cloudevents"
    git = "git"


class HookAuth(StrEnum):
    token = "token"
    hmac = "hmac"


@hooks_app.command("add")
def hooks_add(
    name: Annotated[str, typer.Argument(help="Hook name (alertmanager, cloudevents, git, ...).")],
    kind: Annotated[HookKind, typer.Option(help="What the hook receives.")],
    auth: Annotated[HookAuth, typer.Option(help="Bearer token or HMAC secret.")] = HookAuth.token,
    source: Annotated[
        str | None, typer.Option(help="git: the catalog source a push re-ingests.")
    ] = None,
) -> None:
    """Create an inbound hook; prints its token or secret (shown only now)."""
    from sentier.events import add_hook

    result = _run(lambda s: add_hook(s, name, kind.value, auth=auth.value, source=source))
    console.print(f"hook {result['name']} ({result['kind']}, {result['auth']})", highlight=False)
    for key in ("token", "secret"):
        if key in result:
            console.print(f"{key}: {result[key]}", highlight=False, soft_wrap=True)


@hooks_app.command("list")
def hooks_list() -> None:
    """List inbound hooks (never their credentials)."""
    from sentier.events import list_hooks

    print_json(_run(list_hooks))


@hooks_app.command("remove")
def hooks_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Delete an inbound hook."""
    from sentier.events import remove_hook

    _run(lambda s: remove_hook(s, name))
    console.print(f"hook {name} removed")


@hooks_app.command("receive")
def hooks_receive(
    name: Annotated[str, typer.Argument(help="Hook name.")],
    file: Annotated[Path, typer.Argument(help="Payload file ('-' for stdin).")],
    header: Annotated[
        list[str] | None, typer.Option("--header", "-H", help="'Name: value' (repeatable).")
    ] = None,
) -> None:
    """Feed a payload to a hook as if it came over HTTP, trusted as the local admin."""
    from sentier.events import (
        receive_alertmanager,
        receive_cloudevents,
        receive_git_push,
        reingest_pushed_source,
    )
    from sentier.store.models import InboundHook

    body = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    headers = {}
    for item in header or []:
        key, _, value = item.partition(":")
        headers[key.strip()] = value.strip()
    headers.setdefault("content-type", "application/json")

    def receive(session: Any) -> Any:
        hook = session.get(InboundHook, name)
        if hook is None:
            fail(f"no hook {name}")
        if hook.kind == "alertmanager":
            return receive_alertmanager(session, headers, body, hook=name, principal="cli")
        if hook.kind == "cloudevents":
            return receive_cloudevents(session, headers, body, hook=name, principal="cli")
        return receive_git_push(session, headers, body, hook=name, principal="cli")

    result = _run(receive)
    if isinstance(result, dict) and result["kind"] == "git" and not result["duplicate"]:
        result = reingest_pushed_source(open_store(), result["id"])
    print_json(result)


@app.command()
def inbound(
    kind: Annotated[HookKind | None, typer.Option(help="Only this kind.")] = None,
    unconsumed: Annotated[bool, typer.Option(help="Only messages not yet consumed.")] = False,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """Messages received by inbound hooks, raw and parsed, oldest first."""
    from sentier.events import list_inbound

    print_json(
        _run(
            lambda s: list_inbound(
                s, kind=kind.value if kind else None, unconsumed=unconsumed, limit=limit
            )
        )
    )
