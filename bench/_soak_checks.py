"""Settling and checking, for the soak bench (``bench/soak.py``): once the load stops,
everything is brought back, converges, and is compared with what the load sent."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from _soak_load import (
    INTERRUPTED,
    SOURCES,
    AlertLoad,
    Api,
    BillingFile,
    CatalogLoad,
    FocusLoad,
    Options,
    Recorder,
)
from _soak_world import BrokerTap, Database, Servers, Subscriber, ensure_cluster_up

# -- settling and checking -------------------------------------------------------------------


async def until(
    what: str, done: Callable[[], Awaitable[bool]], deadline: float, recorder: Recorder
) -> bool:
    while not await done():
        if time.monotonic() >= deadline:
            recorder.notes.append(f"settle: gave up waiting for {what}")
            return False
        await asyncio.sleep(1.0)
    return True


def unfinished_jobs(db: Database) -> int:
    rows = db.query("SELECT count(*) FROM ingest_jobs WHERE status IN ('queued', 'running')")
    return int(rows[0][0])


def expected_events(db: Database, boundary: int) -> dict[str, str]:
    """event id -> type, of every outbox event after the subscriptions were made."""
    rows = db.query("SELECT event_id, type FROM outbox_events WHERE id > %s", (boundary,))
    return {str(e): str(t) for e, t in rows}


def self_notices(db: Database, subscription: str) -> set[str]:
    """Events about a subscription's own failing deliveries, never sent to it (routing)."""
    rows = db.query(
        "SELECT event_id FROM outbox_events WHERE type IN "
        "('io.sentier.events.delivery.deadlettered', 'io.sentier.events.subscription.disabled') "
        "AND data->>'subscription_id' = %s",
        (subscription,),
    )
    return {str(r[0]) for r in rows}


async def settle(
    options: Options,
    api: Api,
    db: Database,
    servers: Servers,
    subscribers: list[Subscriber],
    tap: BrokerTap,
    focus: FocusLoad,
    boundary: int,
    recorder: Recorder,
) -> dict[str, float]:
    """Bring everything back, converge, and wait until it is quiet. Returns the waits."""
    started = time.monotonic()
    deadline = started + options.settle_timeout
    waits: dict[str, float] = {}
    ensure_cluster_up()
    for server in servers.servers:
        if not server.up:
            servers.start(server)
        await servers.wait_ready(server)

    async def no_unfinished_jobs() -> bool:
        return await asyncio.to_thread(unfinished_jobs, db) == 0

    await until("jobs", no_unfinished_jobs, deadline, recorder)
    waits["jobs"] = time.monotonic() - started
    # Converge: refresh every pushed source, ingest every billing file once more.
    sources = await asyncio.to_thread(
        db.query, "SELECT id FROM catalog_sources WHERE name LIKE 'soak-%%'"
    )
    for (source_id,) in sources:
        await api.call(
            "POST /api/v1/sources/{id}/refresh", "POST", f"/api/v1/sources/{source_id}/refresh"
        )
    await focus.ingest([str(f.path) for f in focus.files])
    await until("the convergence jobs", no_unfinished_jobs, deadline, recorder)

    async def alerts_consumed() -> bool:
        rows = await asyncio.to_thread(
            db.query, "SELECT count(*) FROM inbound_messages WHERE consumed_at IS NULL"
        )
        return int(rows[0][0]) == 0

    await until("inbound alerts", alerts_consumed, deadline, recorder)
    waits["alerts"] = time.monotonic() - started

    async def delivered() -> bool:
        expected = await asyncio.to_thread(expected_events, db, boundary)
        for subscriber in subscribers:
            skipped = await asyncio.to_thread(self_notices, db, subscriber.subscription)
            if set(expected) - skipped - set(subscriber.acked):
                return False
        return not set(expected) - set(tap.seen)

    await until("deliveries", delivered, deadline, recorder)
    waits["deliveries"] = time.monotonic() - started
    return waits


@dataclass
class Check:
    name: str
    ok: bool
    figures: str


def check_events(
    db: Database, boundary: int, subscribers: list[Subscriber], tap: BrokerTap
) -> tuple[list[Check], list[list[object]]]:
    expected = expected_events(db, boundary)
    checks, rows = [], []
    for subscriber in subscribers:
        wanted = set(expected) - self_notices(db, subscriber.subscription)
        missing = wanted - set(subscriber.acked)
        unknown = set(subscriber.acked) - set(expected)
        mixed = [
            wid
            for wid, ids in subscriber.event_ids.items()
            if ids != {wid} or len(subscriber.bodies[wid]) != 1
        ]
        redelivered = sum(n - 1 for n in subscriber.acked.values())
        rows.append(
            [
                subscriber.name,
                len(wanted),
                len(wanted) - len(missing),
                redelivered,
                subscriber.requests,
                subscriber.refused,
                subscriber.bad_signatures,
            ]
        )
        checks.append(
            Check(
                f"webhooks `{subscriber.name}`: every event delivered",
                not missing and not unknown,
                f"{len(wanted) - len(missing):,}/{len(wanted):,} delivered"
                + (f", {len(unknown)} not in the outbox" if unknown else ""),
            )
        )
        checks.append(
            Check(
                f"webhooks `{subscriber.name}`: one webhook-id per event, signed",
                not mixed and subscriber.bad_signatures == 0,
                f"{len(mixed)} ids with another event or body, "
                f"{subscriber.bad_signatures} bad signatures, {redelivered:,} redeliveries",
            )
        )
    missing = set(expected) - set(tap.seen)
    copies = sum(n - 1 for n in tap.seen.values())
    checks.append(
        Check(
            f"{tap.kind}: every event published",
            not missing,
            f"{len(expected) - len(missing):,}/{len(expected):,} published, {copies:,} copies",
        )
    )
    rows.append([f"broker ({tap.kind})", len(expected), len(expected) - len(missing), copies])
    return checks, rows


def check_catalog(db: Database, catalog: CatalogLoad) -> Check:
    stored: dict[str, set[str]] = {}
    for source, name in db.query(
        "SELECT s.name, e.name FROM entities e JOIN catalog_sources s ON s.id = e.source_id"
    ):
        stored.setdefault(str(source), set()).add(str(name))
    wrong = []
    for source in range(SOURCES):
        candidates = catalog.expected(source)
        have = stored.pop(f"soak-{source}", set())
        if candidates and not any(have == set(c) for c in candidates):
            wrong.append(f"soak-{source}: {len(have)} stored, expected {len(candidates[-1])}")
    wrong += [f"{name}: {len(names)} unexpected" for name, names in stored.items()]
    total = db.query("SELECT count(*) FROM entities")[0][0]
    pushes = sum(len(p) for p in catalog.pushes.values())
    return Check(
        "catalog: entities are those of each source's last push",
        not wrong,
        "; ".join(wrong) or f"{total} entities after {pushes} pushes",
    )


def check_alerts(db: Database, alerts: AlertLoad) -> list[Check]:
    stored = [str(r[0]) for r in db.query("SELECT fingerprint FROM aiops_alerts")]
    doubles = len(stored) - len(set(stored))
    lost = alerts.acked - set(stored)
    invented = set(stored) - alerts.sent
    incidents = int(db.query("SELECT count(*) FROM aiops_incidents")[0][0])
    orphans = int(db.query("SELECT count(*) FROM aiops_alerts WHERE incident_id IS NULL")[0][0])
    unconsumed = int(
        db.query("SELECT count(*) FROM inbound_messages WHERE consumed_at IS NULL")[0][0]
    )
    messages = int(db.query("SELECT count(*) FROM inbound_messages")[0][0])
    return [
        Check(
            "alerts: every acknowledged alert stored once",
            not lost and not invented and doubles == 0,
            f"{len(set(stored)):,} stored, {len(alerts.acked):,} acknowledged, "
            f"{len(alerts.sent):,} sent, {len(lost)} lost, {doubles} doubled",
        ),
        Check(
            "alerts: incidents plausible, inbox drained",
            0 < incidents <= len(stored) and unconsumed == 0,
            f"{incidents:,} incidents, {orphans} alerts without one, {messages:,} notifications "
            f"stored ({dict(alerts.notifications)}), {unconsumed} unconsumed",
        ),
    ]


def check_focus(db: Database, home: Path, files: list[BillingFile]) -> Check:
    import pyarrow.parquet as pq

    expected = {(f.period, f.account): f.rows for f in files}
    sql = {
        (str(p), str(a)): int(r)
        for p, a, r in db.query("SELECT period, billing_account, rows FROM finops_slices")
    }
    dataset = home / "facts" / "finops"
    manifest = json.loads((dataset / "_manifest.json").read_text(encoding="utf-8"))
    facts: dict[tuple[str, str], int] = {}
    for period, slices in manifest["partitions"].items():
        for item in slices.values():
            lines = sum(
                pq.ParquetFile(dataset / f).metadata.num_rows for f in item["tables"]["lines"]
            )
            account = str(item.get("meta", {}).get("billing_account", "?"))
            facts[(period, account)] = facts.get((period, account), 0) + lines
    ok = sql == expected and facts == expected
    return Check(
        "FOCUS: stored rows are the files' rows",
        ok,
        f"{sum(expected.values()):,} rows in {len(files)} files; SQL {sum(sql.values()):,} in "
        f"{len(sql)} slices; Parquet {sum(facts.values()):,} in {len(facts)} slices",
    )


def check_jobs(db: Database) -> tuple[Check, Check]:
    statuses = dict(db.query("SELECT status, count(*) FROM ingest_jobs GROUP BY status"))
    stuck = int(statuses.get("queued", 0)) + int(statuses.get("running", 0))
    errors = Counter(
        _error_kind(str(e))
        for (e,) in db.query("SELECT error FROM ingest_jobs WHERE status = 'failed'")
    )
    unexplained = {k: n for k, n in errors.items() if k not in ("interrupted (kill -9)",)}
    return (
        Check("jobs: none stuck queued or running", stuck == 0, f"{dict(statuses)}"),
        Check(
            "jobs: every failure explained by a kill",
            not unexplained,
            ", ".join(f"{n} {k}" for k, n in errors.items()) or "no failure",
        ),
    )


def _error_kind(error: str) -> str:
    if error.startswith(INTERRUPTED):
        return "interrupted (kill -9)"
    return error[:120]


def check_errors(recorder: Recorder) -> Check:
    bad = [e for e in recorder.errors if e.status != 503 or not recorder.in_pg_window(e.at)]
    by_route = Counter(f"{e.route} {e.status}" for e in bad)
    return Check(
        "no 500 (nor 503 outside the database restart)",
        not bad,
        "; ".join(f"{n}× {k}" for k, n in by_route.most_common())
        or (
            f"{len(recorder.errors)} 5xx, all 503 during the database restart"
            if recorder.errors
            else "no 5xx"
        ),
    )


def log_findings(logs: Path) -> Counter[str]:
    """The last line of every traceback the servers logged, counted."""
    found: Counter[str] = Counter()
    for path in sorted(logs.glob("server-*.log")):
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        in_trace = False
        for i, line in enumerate(lines):
            if line.startswith("Traceback"):
                in_trace = True
                continue
            continued = i + 1 < len(lines) and lines[i + 1].startswith(" ")
            if in_trace and line and not line.startswith(" ") and not continued:
                found[line[:140]] += 1
                in_trace = False
    return found


# The exceptions a database restart leaves in the logs (the dispatcher and the alert consumer
# log them and retry; the API answers 503): anything else is a finding.
RESTART_TRACES = ("OperationalError", "AdminShutdown", "InvalidatePoolError", "InterfaceError")


def check_logs(findings: Counter[str]) -> Check:
    other = {line: n for line, n in findings.items() if not any(t in line for t in RESTART_TRACES)}
    restart = sum(findings.values()) - sum(other.values())
    return Check(
        "server logs: no traceback but the database restart's",
        not other,
        "; ".join(f"{n}× {line[:100]}" for line, n in other.items())
        or f"{restart} tracebacks, all connection failures during the restart",
    )


def percentile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100)[q - 1]
