"""The events domain's part of the one settings object (``sentier.config``, ``SENTIER_EVENTS_*``).

Kept as a named accessor so delivery code reads ``get_events_settings().lease_seconds``; the
values live in ``get_settings().events`` (clear ``get_settings``'s cache after changing env).
"""

from __future__ import annotations

from sentier.config import EventsSettings, get_settings

__all__ = ["EventsSettings", "get_events_settings"]


def get_events_settings() -> EventsSettings:
    """The ``SENTIER_EVENTS_*`` settings of this process (``get_settings().events``)."""
    return get_settings().events
