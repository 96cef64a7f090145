"""Every API router, in the order they are mounted; domains add theirs here."""

from fastapi import APIRouter

from sentier.api.routers import (
    admin,
    aiops,
    backstage,
    backstage_locations,
    catalog,
    detect,
    events,
    finops,
    greenops,
    health,
    policy,
    sources,
)

ROUTERS: list[APIRouter] = [
    health.router,
    catalog.router,
    backstage.router,
    backstage_locations.router,
    sources.router,
    admin.router,
    policy.router,
    aiops.router,
    events.router,
    greenops.router,
    finops.router,
    detect.router,
]
