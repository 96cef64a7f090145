"""The one error type of the AIOps domain, carrying where the bad input was."""

from __future__ import annotations

from sentier.errors import LocatedError


class AIOpsError(LocatedError):
    """Bad input or state in AIOps: the message names the file, line and field when known."""
