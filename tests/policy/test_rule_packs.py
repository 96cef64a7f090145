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
    assert len(security) >= 120
    per_provider: dict[str, int] = {}
    for rule in security:
        provider = rule.path.split("/security/")[1].split("/")[0]
        per_provider[provider] = per_provider.get(provider, 0) + 1
    assert set(per_provider) == {"aws", "azure", "gcp", "kubernetes"}
    assert min(per_provider.values()) >= 30


def test_rule_metadata_is_complete() -> None:
    """Every rule says why it matters and how to fix it, and ids are namespaced by provider."""
    prefixes = {"aws": "SNT-AWS-", "azure": "SNT-AZ-", "gcp": "SNT-GCP-", "kubernetes": "SNT-K8S-"}
    for rule in (r for r in RULES if r.pack == "security"):
        provider = rule.path.split("/security/")[1].split("/")[0]
        assert rule.id.startswith(prefixes[provider]), rule.id
        assert rule.description and rule.description != rule.title, rule.id
        assert rule.remediation, rule.id
        assert rule.references, rule.id
