"""The one error type of the FinOps domain, and the problems an ingestion reports per file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


class FinOpsError(Exception):
    """Input FinOps cannot use; names the file, the row (or line) and the column or field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = file or ""
        if row is not None:
            where = f"{where}: row {row}" if where else f"row {row}"
        if column:
            where = f"{where}: {column}" if where else column
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.row, self.column, self.message = file, row, column, message


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding of an ingestion: an error quarantines the file, a warning does not."""

    severity: Literal["error", "warning"]
    message: str
    file: str | None = None
    row: int | None = None
    column: str | None = None
    count: int = 1

    def __str__(self) -> str:
        where = self.file or ""
        if self.row is not None:
            where += f": row {self.row}"
        if self.column:
            where += f": {self.column}"
        more = f" ({self.count - 1} more rows)" if self.count > 1 else ""
        return f"{where}: {self.message}{more}" if where else f"{self.message}{more}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "row": self.row,
            "column": self.column,
            "count": self.count,
        }
