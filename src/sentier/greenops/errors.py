"""The one error type of the GreenOps domain, carrying file, line and field where there are."""

from __future__ import annotations

from sentier.errors import LocatedError


class GreenOpsError(LocatedError):
    """Input GreenOps cannot use: a bad utilisation file, an unknown instance type or region."""
