"""The policy domain's one error type, carrying file, line and field where the input has them."""

from __future__ import annotations


class PolicyError(Exception):
    """Bad input to the policy engine (a rule file, a config, a baseline, a state file)."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        where = file or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {field}: {message}" if field else f"{where}: {message}")
        self.message, self.file, self.line, self.field = message, file, line, field
