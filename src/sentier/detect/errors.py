"""The one error type of the detection domain, carrying the rule file, line and field."""

from __future__ import annotations

from sentier.errors import LocatedError


class DetectError(LocatedError):
    """A rule, an event or a request the detection domain refuses; located when it can be."""

    unnamed_input = "<rule>"
