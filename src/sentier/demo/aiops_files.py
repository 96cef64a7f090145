"""Writes the demo organisation's operations data: a day of logs, and an alert storm.

The storm carries two independent faults striking within a minute of each other on the
organisation's real dependency graph (the payments database, and the orders database), with
their cascades, re-sent notifications, flapping and unrelated noise. The faults are still
under way at the end of the file, so that ingesting it shows two open incidents, each with
its root cause, among a few short-lived ones from the noise. The logs are those services'
application logs for the same day, with the errors of the faults in them.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sentier.aiops.alerts import DependencyGraph, Scenario, generate
from sentier.demo.organisation import Organisation

DAY = datetime(2026, 11, 2, tzinfo=UTC)
FAULT_AT = DAY + timedelta(hours=14, minutes=7)
FAULTS = ("resource:default/payments-db", "resource:default/orders-db")
LOGGED = ("payments", "cart", "card-vault", "orders", "warehouse", "checkout")
LOG_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"

NORMAL = (
    ("INFO", "http", "GET /api/v1/{path}/{id} 200 {ms}ms"),
    ("INFO", "http", "POST /api/v1/{path} 201 {ms}ms"),
    ("INFO", "db", "query ok rows={rows} in {ms}ms"),
    ("DEBUG", "cache", "cache hit key={path}:{id}"),
    ("DEBUG", "cache", "cache miss key={path}:{id}"),
    ("INFO", "auth", "token validated for user {user}"),
    ("INFO", "worker", "job {id} finished in {ms}ms"),
    ("WARN", "http", "slow request GET /api/v1/{path}/{id} took {ms}ms"),
)
DURING_FAULT = (
    ("ERROR", "db", "connection to {db} failed: timeout after {ms}ms"),
    ("ERROR", "http", "GET /api/v1/{path}/{id} 503 {ms}ms"),
    ("WARN", "pool", "connection pool exhausted ({rows} waiting)"),
    ("ERROR", "worker", "job {id} failed: upstream unavailable"),
)


def _edges(org: Organisation) -> list[tuple[str, str]]:
    """The dependency edges the catalog derives from the descriptors this organisation writes."""
    provider = {api: c.name for c in org.components for api in c.provides}
    edges = []
    for component in org.components:
        source = f"component:default/{component.name}"
        for target in component.depends_on:
            kind, _, name = target.partition(":")
            edges.append((source, f"{kind}:default/{name}"))
        for api in component.consumes:
            edges.append((source, f"api:default/{api}"))
    for api, name in provider.items():
        edges.append((f"api:default/{api}", f"component:default/{name}"))
    return edges


def write_aiops(org: Organisation, root: Path) -> dict[str, int]:
    """Write ``aiops/alerts/storm.json`` and ``aiops/logs/<service>.log`` under ``root``."""
    base = root / "aiops"
    graph = DependencyGraph.from_edges(_edges(org))
    scenario = generate(
        graph,
        seed=org.seed,
        faults=2,
        noise=5,
        hours=24,
        start=DAY,
        fault_entities=list(FAULTS),
        simultaneous=1.0,
        silent_roots=0.0,
    )
    # Both faults at the same afternoon minute, whatever time the generator drew.
    shift = FAULT_AT - scenario.faults[0].start
    payloads = [
        p
        for p in json.loads(_shifted(json.dumps(scenario.payloads), scenario, shift))
        if p["alerts"]
    ]
    (base / "alerts").mkdir(parents=True, exist_ok=True)
    (base / "alerts" / "storm.json").write_text(json.dumps(payloads, indent=1), encoding="utf-8")
    lines = _write_logs(org, base / "logs")
    return {"alert notifications": scenario.notifications, "log lines": lines}


def _shifted(text: str, scenario: Scenario, shift: timedelta) -> str:
    """Move every notification by ``shift``; the faults' resolutions are dropped (still on)."""
    data = json.loads(text)
    faulty = {fp for (fp, _), group in scenario.truth.items() if group.startswith("fault")}
    for payload in data:
        payload["alerts"] = [
            a
            for a in payload["alerts"]
            if not (a["fingerprint"] in faulty and a["status"] == "resolved")
        ]
        for alert in payload["alerts"]:
            for key in ("startsAt", "endsAt"):
                value = alert[key]
                if value.startswith("0001-"):
                    continue
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
                alert[key] = (moment + shift).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(data)


def _write_logs(org: Organisation, folder: Path) -> int:
    rng = random.Random(org.seed)
    folder.mkdir(parents=True, exist_ok=True)
    users = [p.name for p in org.people]
    paths = ("orders", "payments", "carts", "products", "search", "invoices")
    total = 0
    for service in LOGGED:
        at = DAY
        out = []
        while at < DAY + timedelta(days=1):
            at += timedelta(seconds=rng.expovariate(1 / 40))
            in_fault = FAULT_AT <= at <= FAULT_AT + timedelta(minutes=25)
            level, component, text = rng.choice(
                DURING_FAULT if in_fault and rng.random() < 0.6 else NORMAL
            )
            content = text.format(
                path=rng.choice(paths),
                id=rng.randint(1000, 99999),
                ms=rng.randint(2, 900) if not in_fault else rng.randint(900, 30000),
                rows=rng.randint(0, 500),
                user=rng.choice(users),
                db=f"{service}-db.internal:5432",
            )
            stamp = at.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
            out.append(f"{stamp} {level} {service}.{component}: {content}")
        (folder / f"{service}.log").write_text("\n".join(out) + "\n", encoding="utf-8")
        total += len(out)
    (folder / "README.md").write_text(
        f"Application logs of the demo organisation for one day.\n\n"
        f"Header format: `{LOG_FORMAT}` (the date and time are two fields).\n\n"
        f"    sentier logs parse payments.log --log-format '{LOG_FORMAT}'\n",
        encoding="utf-8",
    )
    return total
