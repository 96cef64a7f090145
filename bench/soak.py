"""Soak: several ``sentier serve`` on one PostgreSQL, a broker, a mixed load, kill -9 and a
database restart; then, once everything has settled, nothing lost, nothing doubled, nothing
frozen.

The world (``_soak_world``): a fresh PostgreSQL database (dropped at the end), ``--servers``
servers sharing it and one SENTIER_HOME, all started at once on the empty database (their
migrations race), events forwarded to RabbitMQ or NATS (``--broker``) and delivered to three
webhook subscribers the bench runs: one failing 3% of requests at random, one answering 503
through two windows of the run, one whose socket is closed through another (connection
refused).

The load, for ``--duration`` seconds: catalog pushes (``POST /api/v1/sources/push``) to four
pushed sources whose content changes each time (entities created, updated, removed); alert
storms through the Alertmanager hook (bursts of notifications, some repeated, some resolving
earlier alerts); FOCUS CSV ingestions through the API; reads (entities, incidents, jobs, FinOps
showback); ``/healthz`` probed on every server. Every ``--kill-every`` seconds a server is
killed with SIGKILL and restarted (every other time the one that has just accepted a push or
an ingestion); once, mid-run, the PostgreSQL cluster is restarted.

Then the bench restarts whatever is down, refreshes the sources, ingests the billing files once
more, waits for every job, alert and delivery to settle and checks: every event of the outbox
delivered to every subscriber at least once and published to the broker, each webhook-id
always carrying the same event (same body), valid signatures; the entities of each source
exactly those of its last push; every acknowledged alert stored once, incidents plausible,
nothing left unconsumed; the stored FOCUS rows those of the files; no job left queued or
running; no 500 anywhere, and no 503 outside the database restart. Prints a table, writes
its figures to docs/benchmarks.md (section ``soak``), exits 1 if a check failed.

    python bench/soak.py [--duration 180] [--servers 3] [--kill-every 30] [--broker rabbitmq]

Needs root (it restarts the cluster with ``pg_ctlcluster``) and the services of the dev
machine on 127.0.0.1: PostgreSQL (trust), RabbitMQ or NATS.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from _soak_checks import (
    Check,
    check_alerts,
    check_catalog,
    check_errors,
    check_events,
    check_focus,
    check_jobs,
    check_logs,
    log_findings,
    percentile,
    settle,
)
from _soak_load import (
    AlertLoad,
    Api,
    CatalogLoad,
    FocusLoad,
    Options,
    Recorder,
    billing_files,
    chaos,
    pause,
    probe,
    reads,
)
from _soak_world import (
    BrokerTap,
    Database,
    Servers,
    Subscriber,
    ensure_cluster_up,
    flaky,
    pg_online,
    windows,
)

# -- setting up ------------------------------------------------------------------------------


def create_token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "sentier", "token", "create", "--name", "soak", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return next(w for w in out.stdout.split() if w.startswith("snt_"))


async def subscribe(api: Api, subscriber: Subscriber) -> None:
    answer = await api.call(
        "POST /api/v1/webhooks",
        "POST",
        "/api/v1/webhooks",
        json={"url": subscriber.url, "allow_private": True, "description": subscriber.name},
    )
    if answer is None or answer.status_code != 201:
        raise RuntimeError(f"cannot subscribe {subscriber.name}: {answer and answer.text}")
    created = answer.json()
    subscriber.secret, subscriber.subscription = created["secret"], created["id"]


async def hook_token(api: Api) -> str:
    answer = await api.call(
        "POST /api/v1/inbound-hooks",
        "POST",
        "/api/v1/inbound-hooks",
        json={"name": "alertmanager", "kind": "alertmanager"},
    )
    if answer is None or answer.status_code != 201:
        raise RuntimeError(f"cannot create the alertmanager hook: {answer and answer.text}")
    return str(answer.json()["token"])


# -- the run ---------------------------------------------------------------------------------


async def quietly(step: Awaitable[object], timeout: float = 10.0) -> None:
    """A clean-up step that may not hold the rest up."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(step, timeout)


async def soak(options: Options, work: Path) -> tuple[list[Check], str]:
    # SIGTERM cancels the run like Ctrl-C does (asyncio.run's own handler): through the
    # clean-up below, never from inside whatever code the signal happens to interrupt.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    rng = random.Random(options.seed)
    run = uuid.uuid4().hex[:8]
    home, logs = work / "home", work / "logs"
    logs.mkdir(parents=True)
    db = Database(f"soak_{run}")
    db.create()
    recorder = Recorder()
    tap = BrokerTap(options.broker, run)
    env = {
        **os.environ,
        "SENTIER_HOME": str(home),
        "SENTIER_DATABASE_URL": db.url,
        "SENTIER_LOG_LEVEL": "WARNING",
        # Faster retries and lease take-overs than production, to converge within the run.
        "SENTIER_EVENTS_BACKOFF_BASE_SECONDS": "0.5",
        "SENTIER_EVENTS_BACKOFF_MAX_SECONDS": "5",
        "SENTIER_EVENTS_LEASE_SECONDS": "6",
        **tap.server_env(),
    }
    servers = Servers(options.servers, env, logs)
    api = Api(servers, recorder, rng)
    subscribers = [
        Subscriber("flaky-3%", recorder.clock, flaky(0.03, rng)),
        Subscriber(
            "503-windows",
            recorder.clock,
            windows(
                [
                    (options.duration * 0.15, options.duration * 0.35),
                    (options.duration * 0.6, options.duration * 0.7),
                ]
            ),
        ),
        Subscriber(
            "offline-window",
            recorder.clock,
            lambda _t: False,
            offline=[(options.duration * 0.3, options.duration * 0.5)],
        ),
    ]
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        await tap.start()
        for subscriber in subscribers:
            await subscriber.start()
        files = billing_files(work / "billing", rng)
        # All at once on the empty database: their migrations race (issue 12, M3).
        for server in servers.servers:
            servers.start(server)
        await asyncio.gather(*(servers.wait_ready(s) for s in servers.servers))
        api.token = await asyncio.to_thread(create_token, env)
        alerts = AlertLoad(api, rng, await hook_token(api))
        for subscriber in subscribers:
            await subscribe(api, subscriber)
        await asyncio.sleep(1.0)
        boundary = int(db.query("SELECT coalesce(max(id), 0) FROM outbox_events")[0][0])
        catalog, focus = CatalogLoad(api, rng), FocusLoad(api, rng, files)

        recorder.started = time.monotonic()
        print(
            f"soak {run}: {options.servers} servers, {options.broker}, {options.duration:.0f} s "
            f"(logs in {logs})",
            flush=True,
        )
        loads: list[Awaitable[None]] = [
            catalog.run(options.push_every, stop),
            alerts.run(options.storm_every, stop),
            focus.run(options.focus_every, stop),
            reads(api, catalog, stop),
            chaos(options, servers, api, recorder, rng, stop),
            *(probe(s, servers, recorder, stop) for s in servers.servers),
            *(s.schedule(stop) for s in subscribers),
        ]
        tasks = [asyncio.ensure_future(load) for load in loads]
        await pause(stop, options.duration)
        stop.set()
        await asyncio.gather(*tasks)
        health = list(recorder.health)
        print("load done; settling", flush=True)
        waits = await settle(options, api, db, servers, subscribers, tap, focus, boundary, recorder)
        checks, delivery_rows = check_events(db, boundary, subscribers, tap)
        checks.append(check_catalog(db, catalog))
        checks += check_alerts(db, alerts)
        checks.append(check_focus(db, home, files))
        checks += check_jobs(db)
        checks.append(check_errors(recorder))
        checks.append(
            Check(
                "servers: every restart after a kill came up",
                not recorder.failed_starts,
                "; ".join(recorder.failed_starts)
                or f"{len(recorder.kills)} kills, restarts in "
                f"{min((k[2] for k in recorder.kills), default=0):.1f}–"
                f"{max((k[2] for k in recorder.kills), default=0):.1f} s",
            )
        )
        p50, p99 = percentile(health, 50) * 1000, percentile(health, 99) * 1000
        checks.append(
            Check(
                f"/healthz p99 under load ≤ {options.health_p99_ms:.0f} ms",
                p99 <= options.health_p99_ms,
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(health, default=0) * 1000:.0f} ms "
                f"over {len(health):,} probes",
            )
        )
        findings = log_findings(logs)
        checks.append(check_logs(findings))
        body = report(options, recorder, checks, delivery_rows, waits, findings)
        return checks, body
    finally:
        # What matters first: no server left running, the cluster up, the database dropped.
        stop.set()
        for task in tasks:
            task.cancel()
        servers.stop_all()
        ensure_cluster_up()
        if options.keep:
            print(f"kept: database {db.name}, work directory {work}")
        else:
            db.drop()
        await quietly(asyncio.gather(*tasks, return_exceptions=True))
        await quietly(api.close())
        for subscriber in subscribers:
            await quietly(subscriber.close())
        await quietly(tap.close())


def report(
    options: Options,
    recorder: Recorder,
    checks: list[Check],
    delivery_rows: list[list[object]],
    waits: dict[str, float],
    findings: Counter[str],
) -> str:
    routes = sorted({route for route, _ in recorder.answers})
    outcomes = ["2xx", "4xx", "5xx", "unreachable"]
    load = [[r, *(recorder.answers[(r, o)] for o in outcomes)] for r in routes]
    kills = ", ".join(f"{at:.0f} s: #{i} (back in {s:.1f} s)" for at, i, s in recorder.kills)
    pg = ", ".join(f"{a:.0f}–{b:.0f} s" for a, b in recorder.pg_windows) or "none"
    parts = [
        f"{options.servers} `sentier serve` on one PostgreSQL database, events to "
        f"{options.broker}, {options.duration:.0f} s of load (seed {options.seed}), then "
        f"settling ({', '.join(f'{k} {v:.0f} s' for k, v in waits.items())}). "
        f"kill -9 every {options.kill_every:.0f} s: {kills or 'none'}. "
        f"PostgreSQL restarted: {pg}.",
        table(["check", "result", "figures"], [[c.name, "ok" if c.ok else "FAILED", c.figures]
                                                for c in checks]),
        "Requests by route and answer (retried elsewhere after a 5xx or a connection error):",
        table(["route", *outcomes], load),
        "Deliveries (each subscriber fails in its own way during the load; *redelivered*: sent "
        "again with the same webhook-id, at-least-once after a kill mid-batch; *refused on "
        "purpose*: the receiver's 503s, the offline one refuses connections instead):",
        table(
            ["receiver", "events", "delivered", "redelivered", "requests", "refused on purpose",
             "bad signatures"],
            delivery_rows,
        ),
    ]  # fmt: skip
    if recorder.errors:
        groups: dict[tuple[str, int, bool, str], list[float]] = {}
        for e in recorder.errors:
            key = (e.route, e.status, recorder.in_pg_window(e.at), e.detail)
            groups.setdefault(key, []).append(e.at)
        parts.append(
            "Every 5xx, by route:\n\n"
            + table(
                ["route", "status", "count", "at (s)", "during the restart", "detail"],
                [
                    [route, status, len(at), f"{min(at):.0f}–{max(at):.0f}", "yes" if inside
                     else "**no**", detail]
                    for (route, status, inside, detail), at in sorted(groups.items())
                ],
            )
        )  # fmt: skip
    if findings:
        parts.append(
            "Tracebacks in the servers' logs (last line, counted):\n\n"
            + table(["exception", "count"], [[k, n] for k, n in findings.most_common(15)])
        )
    if recorder.notes:
        parts.append("Notes: " + "; ".join(recorder.notes))
    return "\n\n".join(parts)


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--servers", type=int, default=3, choices=(2, 3))
    parser.add_argument("--kill-every", type=float, default=30.0, help="seconds between kills")
    parser.add_argument("--down-seconds", type=float, default=2.0, help="before a restart")
    parser.add_argument("--broker", choices=("rabbitmq", "nats"), default="rabbitmq")
    parser.add_argument("--no-pg-restart", action="store_true")
    parser.add_argument("--push-every", type=float, default=3.0)
    parser.add_argument("--storm-every", type=float, default=20.0)
    parser.add_argument("--focus-every", type=float, default=20.0)
    parser.add_argument("--settle-timeout", type=float, default=300.0)
    parser.add_argument("--health-p99-ms", type=float, default=1000.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--keep", action="store_true", help="keep the database and files")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/")
    args = parser.parse_args(argv)
    return Options(
        duration=args.duration,
        servers=args.servers,
        kill_every=args.kill_every,
        down_seconds=args.down_seconds,
        broker=args.broker,
        pg_restart=not args.no_pg_restart,
        push_every=args.push_every,
        storm_every=args.storm_every,
        focus_every=args.focus_every,
        settle_timeout=args.settle_timeout,
        health_p99_ms=args.health_p99_ms,
        seed=args.seed,
        keep=args.keep,
        write=not args.no_write,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    if os.geteuid() != 0:
        print("soak: needs root to restart the PostgreSQL cluster (or --no-pg-restart)")
        if options.pg_restart:
            return 2
    if not pg_online():
        print("soak: PostgreSQL is not answering on 127.0.0.1:5432")
        return 2
    work = Path(tempfile.mkdtemp(prefix="sentier-soak-"))
    try:
        checks, body = asyncio.run(soak(options, work))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("soak: interrupted (servers stopped, database dropped)")
        if not options.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 130
    finally:
        ensure_cluster_up()
    if options.write:
        write_section("soak", "Soak: servers killed, database restarted (bench/soak.py)", body)
    else:
        print(body)
    failed = [c.name for c in checks if not c.ok]
    if failed or options.keep:
        print(f"soak: the servers' logs are in {work / 'logs'}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("soak: " + (f"FAILED: {'; '.join(failed)}" if failed else "every check passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
