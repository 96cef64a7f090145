"""The one error type of the events domain."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal["invalid", "unauthorized", "not_found", "refused", "conflict", "unavailable"]


class EventsError(Exception):
    """A request the events domain cannot honour, with a code a shell maps to its own status.

    ``code``: ``invalid`` (bad input, 400/422), ``unauthorized`` (401), ``not_found`` (404),
    ``refused`` (a policy such as SSRF protection, 403), ``conflict`` (409),
    ``unavailable`` (a broker or dependency is down, 503). ``field`` names the offending
    input where there is one.
    """

    def __init__(self, message: str, *, code: ErrorCode = "invalid", field: str | None = None):
        super().__init__(message)
        self.message = message
        self.code: ErrorCode = code
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "field": self.field}
