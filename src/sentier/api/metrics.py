"""Prometheus metrics: requests and latencies per route, ingestion durations, entity counts."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

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


async def middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    start = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    template = getattr(route, "path", "unmatched")
    LATENCY.labels(template, request.method).observe(time.perf_counter() - start)
    REQUESTS.labels(template, request.method, str(response.status_code)).inc()
    return response
