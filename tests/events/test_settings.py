"""The events settings are part of the one settings object, under their SENTIER_EVENTS_* names."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sentier.config import get_settings
from sentier.events import get_events_settings


def test_events_settings_keep_their_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_RETENTION_DAYS", "3")
    monkeypatch.setenv("SENTIER_EVENTS_ALLOW_PRIVATE_TARGETS", "1")
    monkeypatch.setenv("SENTIER_EVENTS_RABBITMQ_URL", "amqp://u:p@127.0.0.1:5673/")
    monkeypatch.setenv("SENTIER_EVENTS_DISPATCH_IN_SERVE", "false")
    monkeypatch.setenv("SENTIER_SESSION_HOURS", "2")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.events.retention_days == 3.0 and settings.events.allow_private_targets
    assert settings.events.rabbitmq_url == "amqp://u:p@127.0.0.1:5673/"
    assert not settings.events.dispatch_in_serve and settings.session_hours == 2.0
    assert get_events_settings() is settings.events  # one object, read once


def test_a_bad_events_setting_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTIER_EVENTS_BROKER", "kafka")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match=r"events\.broker"):
        get_settings()
