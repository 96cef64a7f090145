"""The JSON API (FastAPI): one router per domain, auth as dependencies, problem+json errors."""

from sentier.api.app import create_app, create_served_app

__all__ = ["create_app", "create_served_app"]
