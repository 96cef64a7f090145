"""Running each rule's own tests: its positive samples must be flagged at the expected lines,
its negative samples not at all (``sentier rules test``, and the test suite for every pack).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from sentier.policy.rules.engine import Rule, RuleTest


@dataclass
class TestOutcome:
    rule_id: str
    test: str
    expected: list[int]
    found: list[int]
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and sorted(set(self.found)) == sorted(set(self.expected))

    def describe(self) -> str:
        if self.error:
            return f"{self.rule_id} / {self.test}: error: {self.error}"
        return f"{self.rule_id} / {self.test}: expected lines {self.expected}, found {self.found}"


def run_test(rule: Rule, test: RuleTest, *, tagging_plan: object = None) -> TestOutcome:
    from sentier.policy.errors import PolicyError
    from sentier.policy.scan import scan_paths

    with tempfile.TemporaryDirectory(prefix="sentier-rule-test-") as directory:
        path = os.path.join(directory, os.path.basename(test.filename))
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(test.code)
        try:
            result = scan_paths([path], rules=[rule], tagging_plan=tagging_plan)
        except PolicyError as error:
            return TestOutcome(rule.id, test.name, test.expect, [], str(error))
        problems = [f for f in result.findings if f.rule_id.startswith("SNT-PARSE")]
        if problems:
            return TestOutcome(rule.id, test.name, test.expect, [], problems[0].message)
        found = sorted({f.line for f in result.findings if f.rule_id == rule.id})
    return TestOutcome(rule.id, test.name, test.expect, found)


def run_rule_tests(rules: Sequence[Rule]) -> list[TestOutcome]:
    plan = None
    if any(r.pack == "tagging" for r in rules):
        from sentier.policy.config import PolicyConfig
        from sentier.policy.scan import load_tagging_plan

        plan = load_tagging_plan(PolicyConfig())
    out: list[TestOutcome] = []
    for rule in rules:
        for test in rule.tests:
            out.append(run_test(rule, test, tagging_plan=plan))
    return out
