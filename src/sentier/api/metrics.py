"""Prometheus metrics: requests and latencies per route, ingestion durations, entity counts."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "sentier_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "sentier_http_request_seconds",
    "HTTP request latency by route template.",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
INGESTION_SECONDS = Histogram(
    "sentier_catalog_ingestion_seconds",
    "Duration of catalog ingestions run by the server.",
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
    registry=REGISTRY,
)


class EntityCounts(Collector):
    """Entities per kind, read from the database at scrape time."""

    def describe(self):  # type: ignore[no-untyped-def]
        # Registration must not touch the database.
        yield GaugeMetricFamily(
            "sentier_catalog_entities", "Catalog entities by kind.", labels=["kind"]
        )

    def collect(self):  # type: ignore[no-untyped-def]
        from sentier.catalog import counts_by_kind
        from sentier.store import get_engine, session_scope

        family = GaugeMetricFamily(
            "sentier_catalog_entities", "Catalog entities by kind.", labels=["kind"]
        )
        with session_scope(get_engine()) as session:
            for kind, count in sorted(counts_by_kind(session).items()):
                family.add_metric([kind], count)
        yield family


REGISTRY.register(EntityCounts())


def exposition() -> bytes:
    return generate_latest(REGISTRY)


class ObserveMiddleware:
    """Pure ASGI middleware: per-route metrics and the security headers, in one cheap pass.

    (Starlette's ``BaseHTTPMiddleware`` would add a task and memory streams per request.)
    """

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        api = scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                if api and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            LATENCY.labels(template, scope["method"]).observe(time.perf_counter() - start)
            REQUESTS.labels(template, scope["method"], str(status)).inc()
