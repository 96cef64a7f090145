"""The tagging plan shared by the policy engine and FinOps."""

from sentier.tagging.plan import (
    KeyRule,
    TaggingError,
    TaggingPlan,
    TagViolation,
    canonical_key_text,
    load_plan,
)

__all__ = [
    "KeyRule",
    "TagViolation",
    "TaggingError",
    "TaggingPlan",
    "canonical_key_text",
    "load_plan",
]
