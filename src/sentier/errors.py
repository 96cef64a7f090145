"""The shape every domain's error shares: a message with the file, line and field it is about.

Each domain keeps its own error type (``except GreenOpsError`` says whose input was bad); this
base gives them one rendering, ``file:line: field: message``, so a user reads the same form
whichever command refused the input.
"""

from __future__ import annotations


class LocatedError(Exception):
    """Bad input, located as precisely as the input allows."""

    #: Shown in place of the file when the input has no file name (``<tagging plan>``).
    unnamed_input: str | None = None

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message, self.file, self.line, self.field = message, file, line, field
        where = file or self.unnamed_input or ""
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(": ".join(part for part in (where, field, message) if part))
