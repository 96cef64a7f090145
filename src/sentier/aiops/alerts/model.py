"""One alert model for every source, and the severities and statuses it speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

FIRING, RESOLVED = "firing", "resolved"
SEVERITIES = ("critical", "error", "warning", "info")
SEVERITY_WEIGHT = {"critical": 1.0, "error": 0.8, "warning": 0.5, "info": 0.2}
# Spellings seen in the wild (PagerDuty, Opsgenie, syslog, Datadog...) -> our four.
SEVERITY_ALIASES = {
    "crit": "critical",
    "fatal": "critical",
    "emergency": "critical",
    "emerg": "critical",
    "alert": "critical",
    "page": "critical",
    "p1": "critical",
    "sev1": "critical",
    "high": "error",
    "err": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "p3": "warning",
    "sev3": "warning",
    "low": "info",
    "notice": "info",
    "informational": "info",
    "none": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
}
STATUS_ALIASES = {
    "firing": FIRING,
    "triggered": FIRING,
    "open": FIRING,
    "active": FIRING,
    "alerting": FIRING,
    "problem": FIRING,
    "critical": FIRING,
    "warning": FIRING,
    "resolved": RESOLVED,
    "ok": RESOLVED,
    "closed": RESOLVED,
    "recovered": RESOLVED,
    "inactive": RESOLVED,
    "normal": RESOLVED,
}


def normal_severity(value: Any) -> str:
    text = str(value or "").strip().lower()
    if text in SEVERITIES:
        return text
    return SEVERITY_ALIASES.get(text, "warning")


def normal_status(value: Any) -> str | None:
    return STATUS_ALIASES.get(str(value or "").strip().lower())


@dataclass
class Alert:
    """An alert as sentier understands it, whatever sent it.

    ``entity`` is the catalog entity reference it concerns once resolved; ``entity_hint`` is
    what the alert itself named (a label or annotation value), kept when nothing matched.
    """

    source: str
    fingerprint: str
    name: str
    status: str
    severity: str
    starts_at: datetime
    ends_at: datetime | None = None
    summary: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    entity_hint: str | None = None
    entity: str | None = None
    strength: float = 1.0
    received_at: datetime | None = None
    origin: str | None = None  # file:line or payload index, for messages

    @property
    def at(self) -> datetime:
        """When this notification happened: the end for a resolution, else the start."""
        if self.status == RESOLVED and self.ends_at is not None:
            return self.ends_at
        return self.received_at or self.starts_at

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "name": self.name,
            "status": self.status,
            "severity": self.severity,
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "summary": self.summary,
            "labels": self.labels,
            "annotations": self.annotations,
            "entity": self.entity,
            "entity_hint": self.entity_hint,
        }
