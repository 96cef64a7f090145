"""The load and the chaos of the soak bench (``bench/soak.py``): what is sent, what was
answered, which server is killed when."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _soak_world import Server, Servers, pg_ctl

SOURCES = 4  # pushed catalog sources
POOL = 40  # component names per source; each push keeps a random 60-100% of them
ACCOUNTS, PERIODS, ROWS_PER_FILE = ("111122223333", "444455556666"), ("2026-01", "2026-02"), 1500
PROBE_SECONDS = 0.25
INTERRUPTED = "interrupted:"  # how sentier.api.recovery fails the jobs of a killed server

DESCRIPTOR = """apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  description: {description}
  annotations:
    sentier.io/soak: "{source}"
spec:
  type: service
  lifecycle: production
  owner: group:default/team-soak-{source}
{depends}"""


@dataclass
class Options:
    duration: float
    servers: int
    kill_every: float
    down_seconds: float
    broker: str
    pg_restart: bool
    push_every: float
    storm_every: float
    focus_every: float
    settle_timeout: float
    health_p99_ms: float
    seed: int
    keep: bool
    write: bool


# -- what the bench saw ----------------------------------------------------------------------


@dataclass
class ServerError:
    at: float
    route: str
    status: int
    detail: str
    server: int


@dataclass
class Recorder:
    """Every answer by route, every 5xx with its detail, /healthz latencies, the timeline."""

    started: float = field(default_factory=time.monotonic)
    answers: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: list[ServerError] = field(default_factory=list)
    health: list[float] = field(default_factory=list)
    health_failures: int = 0
    pg_windows: list[tuple[float, float]] = field(default_factory=list)
    kills: list[tuple[float, int, float]] = field(default_factory=list)  # at, server, recovery s
    notes: list[str] = field(default_factory=list)
    failed_starts: list[str] = field(default_factory=list)

    def clock(self) -> float:
        return time.monotonic() - self.started

    def answer(self, route: str, status: int | None) -> None:
        outcome = "unreachable" if status is None else f"{status // 100}xx"
        self.answers[(route, outcome)] += 1

    def in_pg_window(self, at: float, grace: float = 5.0) -> bool:
        return any(start - 1.0 <= at <= end + grace for start, end in self.pg_windows)


class Api:
    """Requests to a random live server; connection failures and 5xx are retried elsewhere
    (as Alertmanager, a CI job or a person would), and every answer is recorded."""

    RETRIED = (500, 502, 503, 504)

    def __init__(self, servers: Servers, recorder: Recorder, rng: random.Random) -> None:
        self.servers, self.recorder, self.rng = servers, recorder, rng
        self.token = ""
        # The server that last accepted work (a push or an ingestion), and when: kills aim at
        # it half of the time, so that jobs are caught mid-way.
        self.accepted = asyncio.Event()
        self.accepted_by: Server | None = None
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=3.0),
            limits=httpx.Limits(max_connections=40, max_keepalive_connections=20),
        )

    async def call(
        self,
        route: str,
        method: str,
        path: str,
        *,
        attempts: int = 5,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """The last answer, or None if no server could be reached (outcome unknown)."""
        merged = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        answer: httpx.Response | None = None
        for attempt in range(attempts):
            live = self.servers.live()
            if not live:
                await asyncio.sleep(0.5)
                continue
            server = self.rng.choice(live)
            try:
                answer = await self.client.request(
                    method, server.base + path, headers=merged, **kwargs
                )
            except httpx.HTTPError:
                self.recorder.answer(route, None)
                answer = None
                await asyncio.sleep(0.3 * (attempt + 1))
                continue
            self.recorder.answer(route, answer.status_code)
            if answer.status_code >= 500:
                self._record_error(route, answer, server)
            if answer.status_code == 202 and method == "POST":
                self.accepted_by = server
                self.accepted.set()
            if answer.status_code not in self.RETRIED:
                return answer
            await asyncio.sleep(0.5 * (attempt + 1))
        return answer

    def _record_error(self, route: str, answer: httpx.Response, server: Server) -> None:
        try:
            detail = str(answer.json().get("detail", answer.text))
        except ValueError:
            detail = answer.text
        self.recorder.errors.append(
            ServerError(
                self.recorder.clock(), route, answer.status_code, detail[:160], server.index
            )
        )

    async def close(self) -> None:
        await self.client.aclose()


# -- the load --------------------------------------------------------------------------------


@dataclass
class Push:
    names: frozenset[str]
    status: int | None  # None: no server answered
    job: str | None


class CatalogLoad:
    """Pushes to SOURCES pushed sources, each time a different subset and descriptions."""

    def __init__(self, api: Api, rng: random.Random) -> None:
        self.api, self.rng = api, rng
        self.pushes: dict[int, list[Push]] = {k: [] for k in range(SOURCES)}
        self.count = 0

    def files(self, source: int) -> tuple[frozenset[str], dict[str, str]]:
        pool = [f"soak{source}-svc{i:02d}" for i in range(POOL)]
        chosen = sorted(self.rng.sample(pool, self.rng.randint(POOL * 6 // 10, POOL)))
        files = {}
        for i, name in enumerate(chosen):
            depends = f"  dependsOn: [component:default/{chosen[i - 1]}]\n" if i else ""
            # A quarter of the descriptions change on each push: updates, not only adds.
            version = self.count if self.rng.random() < 0.25 else 0
            files[f"services/{name}.yaml"] = DESCRIPTOR.format(
                name=name, description=f"soak v{version}", source=source, depends=depends
            )
        return frozenset(chosen), files

    async def push(self, source: int) -> None:
        self.count += 1
        names, files = self.files(source)
        body = json.dumps({"name": f"soak-{source}", "files": files}).encode()
        answer = await self.api.call(
            "POST /api/v1/sources/push",
            "POST",
            "/api/v1/sources/push",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        status = answer.status_code if answer is not None else None
        job = answer.json().get("job") if answer is not None and status == 202 else None
        self.pushes[source].append(Push(names, status, job))

    async def run(self, every: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.push(self.rng.randrange(SOURCES))
            await pause(stop, every)

    def expected(self, source: int) -> list[frozenset[str]]:
        """What the source may hold now: its last acknowledged push, or one sent after it whose
        outcome is unknown (no server answered)."""
        candidates: list[frozenset[str]] = []
        for push in reversed(self.pushes[source]):
            if push.status is None:
                candidates.append(push.names)
            elif push.status == 202:
                candidates.append(push.names)
                break
        return candidates


class AlertLoad:
    """Alert storms through the Alertmanager hook: bursts of notifications sent concurrently,
    some repeated (stored once), some resolving alerts of earlier storms."""

    def __init__(self, api: Api, rng: random.Random, hook_token: str) -> None:
        self.api, self.rng, self.hook_token = api, rng, hook_token
        self.sent: set[str] = set()  # fingerprints
        self.acked: set[str] = set()
        self.firing: list[dict[str, Any]] = []
        self.notifications = Counter[str]()  # new, repeat, unknown, refused
        self.storms = 0

    def notification(self, alerts: list[dict[str, Any]], key: str) -> dict[str, Any]:
        status = "resolved" if all(a["status"] == "resolved" for a in alerts) else "firing"
        return {
            "version": "4",
            "groupKey": key,
            "status": status,
            "receiver": "sentier",
            "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonLabels": {"alertname": alerts[0]["labels"]["alertname"]},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.soak.invalid",
            "alerts": alerts,
        }

    def storm_payloads(self, size: int) -> list[dict[str, Any]]:
        self.storms += 1
        now = datetime.now(UTC).replace(microsecond=0)
        payloads = []
        for n in range(size):
            alerts = []
            name = self.rng.choice(["HighLatency", "ErrorRate", "PodCrashLooping", "DiskFull"])
            for a in range(self.rng.randint(1, 4)):
                source, index = self.rng.randrange(SOURCES), self.rng.randrange(POOL)
                alerts.append(
                    {
                        "status": "firing",
                        "labels": {
                            "alertname": name,
                            "service": f"soak{source}-svc{index:02d}",
                            "severity": self.rng.choice(["warning", "critical"]),
                        },
                        "annotations": {"summary": f"{name} on soak{source}-svc{index:02d}"},
                        "startsAt": (now - timedelta(seconds=n)).isoformat().replace("+00:00", "Z"),
                        "endsAt": "0001-01-01T00:00:00Z",
                        "fingerprint": f"soak-{self.storms}-{n}-{a}",
                    }
                )
            payloads.append(self.notification(alerts, f"soak-{self.storms}-{n}"))
        # Resolve some alerts of earlier storms; repeat some notifications of this one.
        old = self.rng.sample(self.firing, min(len(self.firing), size // 5))
        for i, alert in enumerate(old):
            resolved = {**alert, "status": "resolved", "endsAt": now.isoformat()}
            payloads.append(self.notification([resolved], f"soak-{self.storms}-resolve-{i}"))
        self.firing = [a for a in self.firing if a not in old]
        payloads += self.rng.sample(payloads, size // 6)
        return payloads

    async def send(self, payload: dict[str, Any]) -> None:
        fingerprints = {a["fingerprint"] for a in payload["alerts"]}
        self.sent |= fingerprints
        answer = await self.api.call(
            "POST /api/v1/hooks/alertmanager",
            "POST",
            "/api/v1/hooks/alertmanager",
            json=payload,
            headers={"Authorization": f"Bearer {self.hook_token}"},
        )
        if answer is None:
            self.notifications["unknown"] += 1
        elif answer.status_code in (200, 202):
            self.notifications["new" if answer.status_code == 202 else "repeat"] += 1
            self.acked |= fingerprints
            self.firing += [a for a in payload["alerts"] if a["status"] == "firing"]
        else:
            self.notifications[f"refused {answer.status_code}"] += 1

    async def run(self, every: float, stop: asyncio.Event) -> None:
        gate = asyncio.Semaphore(6)

        async def one(payload: dict[str, Any]) -> None:
            async with gate:
                await self.send(payload)

        while not stop.is_set():
            await asyncio.gather(*(one(p) for p in self.storm_payloads(30)))
            await pause(stop, every)


@dataclass
class BillingFile:
    path: Path
    period: str
    account: str
    rows: int


def billing_files(directory: Path, rng: random.Random) -> list[BillingFile]:
    """FOCUS CSV exports, one per billing period and account (a slice each)."""
    directory.mkdir(parents=True, exist_ok=True)
    made = []
    for account in ACCOUNTS:
        for period in PERIODS:
            start = datetime.fromisoformat(f"{period}-01T00:00:00+00:00")
            end = (start + timedelta(days=32)).replace(day=1)
            path = directory / f"focus-{account}-{period}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(
                    [
                        "BillingAccountId", "BillingCurrency", "BillingPeriodStart",
                        "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd",
                        "ChargeCategory", "ChargeFrequency", "BilledCost", "EffectiveCost",
                        "ListCost", "ContractedCost", "ConsumedQuantity", "ConsumedUnit",
                        "ProviderName", "ServiceName", "ResourceId", "RegionId", "Tags",
                    ]
                )  # fmt: skip
                for row in range(ROWS_PER_FILE):
                    day = start + timedelta(days=row % 28)
                    cost = round(rng.lognormvariate(0, 1.2), 6)
                    service = f"soak{row % SOURCES}-svc{row % POOL:02d}"
                    writer.writerow(
                        [
                            account, "USD", start.isoformat(), end.isoformat(),
                            day.isoformat(), (day + timedelta(days=1)).isoformat(),
                            "Usage", "Usage-Based", cost, cost, round(cost * 1.2, 6), cost,
                            24, "Hours", "AWS", f"Service {row % 7}",
                            f"arn:aws:ec2:eu-west-1:{account}:instance/i-{row:08x}",
                            "eu-west-1", json.dumps({"service": service}),
                        ]
                    )  # fmt: skip
            made.append(BillingFile(path, period, account, ROWS_PER_FILE))
    return made


class FocusLoad:
    """FOCUS ingestions through the API, one or two files at a time."""

    def __init__(self, api: Api, rng: random.Random, files: list[BillingFile]) -> None:
        self.api, self.rng, self.files = api, rng, files
        self.jobs: list[str] = []
        self.requests = 0

    async def ingest(self, paths: list[str]) -> str | None:
        self.requests += 1
        answer = await self.api.call(
            "POST /api/v1/finops/ingestions",
            "POST",
            "/api/v1/finops/ingestions",
            json={"paths": paths, "provider_format": "focus"},
        )
        if answer is not None and answer.status_code == 202:
            job = str(answer.json()["job"])
            self.jobs.append(job)
            return job
        return None

    async def run(self, every: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            chosen = self.rng.sample(self.files, self.rng.randint(1, 2))
            await self.ingest([str(f.path) for f in chosen])
            await pause(stop, every)


async def reads(api: Api, catalog: CatalogLoad, stop: asyncio.Event) -> None:
    """What people and dashboards read meanwhile."""
    while not stop.is_set():
        await api.call("GET /api/v1/entities", "GET", "/api/v1/entities?limit=50", attempts=2)
        await api.call("GET /api/v1/incidents", "GET", "/api/v1/incidents?limit=20", attempts=2)
        by = api.rng.choice(["group", "service", "region"])
        await api.call(
            "GET /api/v1/finops/showback", "GET", f"/api/v1/finops/showback?by={by}", attempts=2
        )
        jobs = [p.job for pushes in catalog.pushes.values() for p in pushes[-2:] if p.job]
        if jobs:
            job = api.rng.choice(jobs)
            await api.call("GET /api/v1/jobs/{id}", "GET", f"/api/v1/jobs/{job}", attempts=2)
        await pause(stop, 1.0)


async def probe(server: Server, servers: Servers, recorder: Recorder, stop: asyncio.Event) -> None:
    """/healthz of one server, while the bench believes it up."""
    async with httpx.AsyncClient(timeout=30.0) as client:
        while not stop.is_set():
            if server in servers.live():
                started = time.perf_counter()
                try:
                    answer = await client.get(server.base + "/healthz")
                    if answer.status_code == 200:
                        recorder.health.append(time.perf_counter() - started)
                    else:
                        recorder.health_failures += 1
                except httpx.HTTPError:
                    if server in servers.live():  # not killed meanwhile
                        recorder.health_failures += 1
            await pause(stop, PROBE_SECONDS)


async def chaos(
    options: Options,
    servers: Servers,
    api: Api,
    recorder: Recorder,
    rng: random.Random,
    stop: asyncio.Event,
) -> None:
    """kill -9 a server every ``kill_every`` s (restarted after ``down_seconds``), and restart
    PostgreSQL once, 45% into the run. Every other kill takes the server that has just
    accepted a push or an ingestion, a moment later (its job is then likely under way)."""
    next_kill = options.kill_every
    pg_at = options.duration * 0.45 if options.pg_restart else float("inf")
    kills = 0
    while not stop.is_set():
        at = min(next_kill, pg_at)
        while recorder.clock() < at and not stop.is_set():
            await asyncio.sleep(0.2)
        if stop.is_set():
            return
        if at == pg_at:
            pg_at = float("inf")
            started = recorder.clock()
            done = await asyncio.to_thread(pg_ctl, "restart")
            recorder.pg_windows.append((started, recorder.clock()))
            if done.returncode != 0:
                recorder.notes.append(f"pg_ctlcluster restart failed: {done.stderr.strip()}")
            continue
        next_kill += options.kill_every
        kills += 1
        victim = rng.choice(servers.live() or servers.servers)
        if kills % 2 == 0:
            api.accepted.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(api.accepted.wait(), timeout=options.kill_every / 2)
                await asyncio.sleep(rng.uniform(0.0, 0.5))
                if api.accepted_by is not None and api.accepted_by.up:
                    victim = api.accepted_by
        killed_at = recorder.clock()
        servers.kill(victim)
        await asyncio.sleep(options.down_seconds)
        back = await restart(victim, servers, recorder)
        recorder.kills.append((killed_at, victim.index, options.down_seconds + back))


async def restart(server: Server, servers: Servers, recorder: Recorder) -> float:
    """Start a killed server again; seconds until it answers (a failed start is recorded and
    tried again: the check on restarts fails, the run goes on)."""
    started = time.monotonic()
    for _ in range(3):
        servers.start(server)
        try:
            await servers.wait_ready(server)
            break
        except RuntimeError as error:
            recorder.failed_starts.append(str(error))
            servers.kill(server)
    return time.monotonic() - started


async def pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
