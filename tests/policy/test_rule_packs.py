"""Every rule of every pack passes its own positive and negative samples (KICS-style)."""

from __future__ import annotations

import pytest

from sentier.policy import load_rules
from sentier.policy.testing import run_rule_tests

RULES = load_rules()


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_rule_samples(rule) -> None:  # type: ignore[no-untyped-def]
    assert rule.tests, f"{rule.id} has no tests"
    assert any(t.expect for t in rule.tests), f"{rule.id} has no positive sample"
    assert any(not t.expect for t in rule.tests), f"{rule.id} has no negative sample"
    failures = [o.describe() for o in run_rule_tests([rule]) if not o.passed]
    assert failures == []


def test_security_pack_size_and_coverage() -> None:
    security = [r for r in RULES if r.pack == "security"]
    assert len(security) >= 58
    providers = {r.path.split("/security/")[1].split("/")[0] for r in security}
    assert providers == {"aws", "azure", "gcp", "kubernetes"}
