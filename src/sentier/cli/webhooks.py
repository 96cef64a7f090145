"""``sentier webhooks``: outgoing webhook subscriptions, their deliveries and redelivery."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from sentier.cli._common import console, fail, open_store, print_json

app = typer.Typer(
    help="Outgoing webhooks: subscribe a URL to events, see and redo deliveries.",
    no_args_is_help=True,
)


class Format(StrEnum):
    table = "table"
    json = "json"


def _run(action: Any) -> Any:
    """Run ``action(session)`` in one transaction; domain errors become one clear message."""
    from sentier.events import EventsError
    from sentier.store import session_scope

    engine = open_store()
    try:
        with session_scope(engine) as session:
            return action(session)
    except EventsError as error:
        fail(str(error))


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="Receiver URL (http or https).")],
    types: Annotated[
        list[str] | None,
        typer.Option("--types", "-t", help="Event type glob, e.g. 'io.sentier.catalog.*'."),
    ] = None,
    group: Annotated[
        str | None, typer.Option(help="Only events owned by this group (and its sub-groups).")
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Signing secret (whsec_...); generated when omitted.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the receiver is.")] = None,
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Admin: allow a private/loopback target (never link-local)."
        ),
    ] = False,
) -> None:
    """Subscribe URL to events; prints the id and the secret (shown only now)."""
    from sentier.events import add_subscription

    patterns = [p for value in types or [] for p in value.split(",") if p.strip()]
    result = _run(
        lambda s: add_subscription(
            s,
            url,
            types=patterns or None,
            group=group,
            secret=secret,
            description=description,
            allow_private=allow_private,
        )
    )
    console.print(f"id:     [bold]{result['id']}[/]", highlight=False)
    console.print(f"secret: {result['secret']}", highlight=False, soft_wrap=True)
    console.print(f"types:  {', '.join(result['types'])}", highlight=False)
    if result["group"]:
        console.print(f"group:  {result['group']}", highlight=False)


@app.command("list")
def list_(format: Annotated[Format, typer.Option("--format", "-f")] = Format.table) -> None:
    """List subscriptions with their status and pending deliveries."""
    from sentier.events import list_subscriptions

    subs = _run(list_subscriptions)
    if format is Format.json:
        print_json(subs)
        return
    table = Table(title=f"{len(subs)} webhook subscriptions")
    for column in ("id", "url", "types", "group", "status", "pending"):
        table.add_column(column)
    for sub in subs:
        status = sub["status"] + (f" ({sub['disabled_reason']})" if sub["disabled_reason"] else "")
        table.add_row(
            sub["id"],
            sub["url"],
            ", ".join(sub["types"]),
            sub["group"] or "",
            status,
            str(sub["pending"]),
        )
    console.print(table)


@app.command()
def deliveries(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (wh_...).")],
    status: Annotated[str | None, typer.Option(help="pending, delivered or dead.")] = None,
    after: Annotated[int, typer.Option(help="Only deliveries with a larger id.")] = 0,
    limit: Annotated[int, typer.Option()] = 100,
    format: Annotated[Format, typer.Option("--format", "-f")] = Format.table,
) -> None:
    """Deliveries of a subscription, in order, with attempts and the last error."""
    from sentier.events import list_deliveries

    rows = _run(
        lambda s: list_deliveries(s, subscription_id, status=status, after=after, limit=limit)
    )
    if format is Format.json:
        print_json(rows)
        return
    table = Table(title=f"deliveries of {subscription_id}")
    for column in ("id", "event type", "event id", "status", "attempts", "last", "next attempt"):
        table.add_column(column)
    for d in rows:
        last = str(d["last_status_code"] or "") + (f" {d['last_error']}" if d["last_error"] else "")
        table.add_row(
            str(d["id"]),
            d["event_type"],
            d["event_id"],
            d["status"],
            str(d["attempts"]),
            last.strip(),
            str(d["next_attempt_at"] or ""),
        )
    console.print(table)


@app.command()
def attempts(delivery_id: Annotated[int, typer.Argument(help="Delivery id.")]) -> None:
    """Every attempt of one delivery: status code, error, duration, response excerpt."""
    from sentier.events import get_delivery

    print_json(_run(lambda s: get_delivery(s, delivery_id)))


@app.command()
def redeliver(delivery_id: Annotated[int, typer.Argument(help="Delivery id.")]) -> None:
    """Queue a delivery again (a dead letter, or one to resend)."""
    from sentier.events import redeliver as requeue

    result = _run(lambda s: requeue(s, delivery_id))
    console.print(f"delivery {result['id']} of {result['event_id']} queued again")


@app.command()
def replay(
    subscription_id: Annotated[str, typer.Argument(help="Subscription id (wh_...).")],
    after: Annotated[int, typer.Option(help="Replay events with a larger sequence.")] = 0,
) -> None:
    """Queue past events matching the subscription again."""
    from sentier.events import replay as queue_again

    result = _run(lambda s: queue_again(s, subscription_id, after=after))
    console.print(f"{result['added']} events added, {result['requeued']} queued again")


@app.command()
def enable(subscription_id: Annotated[str, typer.Argument()]) -> None:
    """Re-enable a subscription (after a 410 Gone, or a manual disable)."""
    from sentier.events import update_subscription

    _run(lambda s: update_subscription(s, subscription_id, status="active"))
    console.print(f"{subscription_id} enabled")


@app.command()
def disable(subscription_id: Annotated[str, typer.Argument()]) -> None:
    """Stop delivering to a subscription; events keep queueing for it."""
    from sentier.events import update_subscription

    _run(lambda s: update_subscription(s, subscription_id, status="disabled"))
    console.print(f"{subscription_id} disabled")


@app.command("rotate-secret")
def rotate_secret(
    subscription_id: Annotated[str, typer.Argument()],
    secret: Annotated[str | None, typer.Option(help="New secret; generated when omitted.")] = None,
) -> None:
    """Replace the signing secret; prints the new one (shown only now)."""
    from sentier.events import rotate_secret as rotate

    result = _run(lambda s: rotate(s, subscription_id, secret))
    console.print(f"secret: {result['secret']}", highlight=False, soft_wrap=True)


@app.command()
def remove(subscription_id: Annotated[str, typer.Argument()]) -> None:
    """Delete a subscription and its delivery history."""
    from sentier.events import remove_subscription

    _run(lambda s: remove_subscription(s, subscription_id))
    console.print(f"{subscription_id} removed")
