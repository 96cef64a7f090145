"""The one error type of the GreenOps domain, carrying file, line and field where there are."""

from __future__ import annotations


class GreenOpsError(Exception):
    """Input GreenOps cannot use: a bad utilisation file, an unknown instance type or region.

    Rendered as ``file:line: field: message`` so a user finds what to fix.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        elif self.line:
            where = f"line {self.line}: "
        column = f"{self.field}: " if self.field else ""
        return f"{where}{column}{self.message}"
