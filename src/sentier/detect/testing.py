"""Running each rule file's own samples (``NAME.tests.yml`` beside ``NAME.yml``).

A sample is one stream — log ``lines`` read as ``sentier detect run`` reads files, or JSON
``event``s (one or a list) with an optional ``logsource`` — and the rule it is about (``rule``:
id or name; the file's last rule by default) must fire on it (``expect: match``) or not
(``expect: no match``). Every sample runs through both engines, the stream and the SQL hunt,
and a sample on which they disagree fails too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sentier.detect.engine import StreamEngine
from sentier.detect.errors import DetectError
from sentier.detect.hunt import HuntEngine
from sentier.detect.records import LineReader, Record, from_document
from sentier.detect.rules import (
    TESTS_SUFFIX,
    Correlation,
    Rule,
    RuleSet,
    load_rules,
    rule_files,
)

SAMPLE_YEAR = 2026  # syslog samples carry no year


@dataclass
class TestOutcome:
    __test__ = False  # not a pytest test class

    file: str
    test: str
    rule: str
    expected: bool
    stream: int
    sql: int
    error: str | None = None

    @property
    def passed(self) -> bool:
        if self.error is not None or self.stream != self.sql:
            return False
        return (self.stream > 0) == self.expected

    def describe(self) -> str:
        if self.error:
            return f"{self.file}: {self.test}: error: {self.error}"
        want = "a match" if self.expected else "no match"
        return (
            f"{self.file}: {self.test}: expected {want} of {self.rule}, "
            f"stream found {self.stream}, SQL found {self.sql}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "test": self.test,
            "rule": self.rule,
            "expected": "match" if self.expected else "no match",
            "stream": self.stream,
            "sql": self.sql,
            "passed": self.passed,
            "error": self.error,
        }


def samples_file(rule_file: Path) -> Path:
    return rule_file.with_name(rule_file.name.rsplit(".", 1)[0] + TESTS_SUFFIX)


def sample_records(sample: dict[str, Any], where: str) -> list[Record]:
    """The records of one sample, in stream order; raises DetectError for a malformed one."""
    logsource = sample.get("logsource") or {}
    if not isinstance(logsource, dict):
        raise DetectError("must be a mapping", file=where, field="logsource")
    given = {str(k): str(v) for k, v in logsource.items()}
    records: list[Record] = []
    if "lines" in sample:
        reader = LineReader("sample", year=SAMPLE_YEAR, logsource=given)
        for number, line in enumerate(str(sample["lines"]).splitlines(), start=1):
            records.extend(reader.read(line, number))
    elif "event" in sample:
        events = sample["event"] if isinstance(sample["event"], list) else [sample["event"]]
        for index, event in enumerate(events):
            if not isinstance(event, dict):
                raise DetectError("events must be JSON objects", file=where, field="event")
            records.append(from_document(event, f"sample#{index}", given))
    else:
        raise DetectError("a sample needs lines or event", file=where)
    for seq, record in enumerate(records):
        record.seq = seq
    return records


def _target(ruleset: RuleSet, key: str | None) -> str | None:
    if key is not None:
        found = ruleset.find(key)
        return found.id if found else None
    items: list[Rule | Correlation] = [*ruleset.rules, *ruleset.correlations]
    return max(items, key=lambda item: item.info.line).id if items else None


def run_file_tests(rule_file: Path) -> list[TestOutcome]:
    """The outcomes of one rule file's samples (an error outcome when there are none)."""
    where = str(rule_file)
    ruleset = load_rules([rule_file])
    if ruleset.refused:
        return [TestOutcome(where, "(load)", "", True, 0, 0, str(ruleset.refused[0]))]
    path = samples_file(rule_file)
    if not path.is_file():
        return [TestOutcome(where, "(tests)", "", True, 0, 0, f"no samples: {path.name}")]
    try:
        samples = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as error:
        return [TestOutcome(str(path), "(tests)", "", True, 0, 0, f"cannot read: {error}")]
    if not isinstance(samples, list):
        return [TestOutcome(str(path), "(tests)", "", True, 0, 0, "must be a list of samples")]
    outcomes = [_run_sample(ruleset, path, index, sample) for index, sample in enumerate(samples)]
    expectations = {o.expected for o in outcomes if o.error is None}
    if expectations != {True, False}:
        outcomes.append(
            TestOutcome(
                str(path),
                "(tests)",
                "",
                True,
                0,
                0,
                "a rule needs at least one matching and one non-matching sample",
            )
        )
    return outcomes


def _run_sample(ruleset: RuleSet, path: Path, index: int, sample: Any) -> TestOutcome:
    where = f"{path}#{index + 1}"
    if not isinstance(sample, dict):
        return TestOutcome(where, f"sample {index + 1}", "", True, 0, 0, "must be a mapping")
    name = str(sample.get("name") or f"sample {index + 1}")
    expect = str(sample.get("expect", "")).strip().lower()
    if expect not in ("match", "no match"):
        return TestOutcome(where, name, "", True, 0, 0, "expect must be 'match' or 'no match'")
    rule_id = _target(ruleset, sample.get("rule"))
    if rule_id is None:
        return TestOutcome(where, name, str(sample.get("rule")), True, 0, 0, "no such rule")
    try:
        records = sample_records(sample, where)
    except DetectError as error:
        return TestOutcome(where, name, rule_id, expect == "match", 0, 0, str(error))
    stream = StreamEngine(ruleset).run(sorted(records, key=lambda r: (r.at, r.seq)))
    hunt = HuntEngine(ruleset)
    hunt.load(records)
    sql = hunt.run().detections
    return TestOutcome(
        where,
        name,
        rule_id,
        expect == "match",
        sum(1 for d in stream if d.rule.id == rule_id),
        sum(1 for d in sql if d.rule.id == rule_id),
    )


def run_rule_tests(paths: list[Path]) -> list[TestOutcome]:
    """The samples of every rule file under ``paths``."""
    outcomes: list[TestOutcome] = []
    for rule_file in rule_files(paths):
        outcomes.extend(run_file_tests(rule_file))
    return outcomes


__all__ = ["TestOutcome", "run_file_tests", "run_rule_tests", "sample_records", "samples_file"]
