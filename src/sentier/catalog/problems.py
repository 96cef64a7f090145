"""Problems found while reading descriptors, each pointing at a file, a line and a field."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One precise complaint: ``services/pay/catalog-info.yaml:12: spec.owner: required``."""

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None
    entity_ref: str | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(**data)


class CatalogError(Exception):
    """The catalog domain's one error type; carries the problem that caused it."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem

    @classmethod
    def of(
        cls,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> CatalogError:
        return cls(Problem("error", message, file=file, line=line, field=field))
