"""Every API router, in the order they are mounted; domains add theirs here."""

from fastapi import APIRouter

from sentier.api.routers import admin, backstage, catalog, greenops, health, sources

ROUTERS: list[APIRouter] = [
    health.router,
    catalog.router,
    backstage.router,
    sources.router,
    admin.router,
    greenops.router,
]
