"""The policy domain's one error type, carrying file, line and field where the input has them."""

from __future__ import annotations

from sentier.errors import LocatedError


class PolicyError(LocatedError):
    """Bad input to the policy engine (a rule file, a config, a baseline, a state file)."""

    unnamed_input = "<input>"
