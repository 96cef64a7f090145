"""The stream's literal prefilter changes how much work a record costs, never what it detects."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sentier.detect import Record, StreamEngine, load_rules
from sentier.detect.ir import ANY, And, Leaf, Not, Or
from sentier.detect.prefilter import Prefilter, clauses
from sentier.detect.sources import read_log_files

CORPORA = Path(os.environ.get("SENTIER_CORPORA", "/nonexistent"))
AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _record(logsource: dict[str, str], **fields: str) -> Record:
    return Record(
        AT,
        dict(fields),
        "t",
        product=logsource.get("product"),
        services=tuple(s for s in (logsource.get("service"),) if s),
        category=logsource.get("category"),
    )


def _keys(ruleset, records, *, prefilter):  # type: ignore[no-untyped-def]
    return [d.key for d in StreamEngine(ruleset, prefilter=prefilter).run(records)]


def test_regex_gives_its_mandatory_literals_and_optional_parts_none() -> None:
    leaf = Leaf("CommandLine", "regex", r"(?i)union(\s|\+)+(all\s+)?select|x", cased=True)
    # A top-level alternative with a branch of one letter: the union of both branches' best.
    assert clauses(leaf) == [{"CommandLine": frozenset({"select", "x"})}]
    # "b" is optional: the runs are "a" and "c", then one of the class's letters.
    found = clauses(Leaf("f", "regex", r"aB?c[dE]", cased=True))
    assert sorted(c["f"] for c in found) == sorted(
        [frozenset({"a"}), frozenset({"c"}), frozenset({"d", "e"})]
    )
    assert clauses(Leaf("f", "regex", r"(?:foo)?\d+", cased=True)) == []


def test_or_with_an_unfilterable_branch_and_not_give_nothing() -> None:
    contains = Leaf("f", "glob", (ANY, "evil", ANY))
    assert clauses(Or((contains, Leaf("g", "exists", True)))) == []
    assert clauses(Not(contains)) == []
    # And keeps the clauses of every item that has some: both must hold.
    both = clauses(And((contains, Leaf("g", "glob", ("ssh",)))))
    assert {next(iter(c)) for c in both} == {"f", "g"}


def test_cased_non_ascii_literal_is_not_used() -> None:
    assert clauses(Leaf("f", "glob", (ANY, "ΣΑΣ", ANY), cased=True)) == []
    assert clauses(Leaf("f", "glob", (ANY, "ΣΑΣ", ANY), cased=False)) == [{"f": frozenset({"σας"})}]


def test_a_record_meets_only_rules_whose_clauses_all_hold() -> None:
    conditions = [
        And((Leaf("f", "glob", ("get",)), Leaf("m", "glob", (ANY, "={{", ANY)))),
        Leaf("f", "glob", (ANY, "post", ANY)),
        Not(Leaf("f", "glob", ("x",))),
    ]
    prefilter = Prefilter(conditions)
    assert prefilter.candidates({"f": "get", "m": "a=1"}) == [2]
    assert prefilter.candidates({"f": "get", "m": "a={{7*7}}"}) == [0, 2]
    assert prefilter.candidates({"f": "a post b"}) == [1, 2]


def test_many_literals_use_an_automaton_and_find_each_one() -> None:
    words = [f"word{i:03d}" for i in range(300)]
    conditions = [Leaf("f", "glob", (ANY, w, ANY)) for w in words]
    prefilter = Prefilter(conditions)
    assert prefilter.candidates({"f": "xx word007 word299 yy"}) == [7, 299]
    # word010 contains word01 as no rule: only exact literals count.
    assert prefilter.candidates({"f": "nothing here"}) == []


def test_shipped_rules_detect_the_same_with_and_without_prefilter() -> None:
    ruleset = load_rules([], shipped=True)
    records = [
        _record(
            {"product": "aws", "service": "cloudtrail"},
            eventName="StopLogging",
            eventSource="cloudtrail.amazonaws.com",
        ),
        _record({"category": "webserver"}, **{"url.query": "id=1 UNION ALL SELECT pw"}),
        _record({"category": "webserver"}, **{"url.query": "q=../../etc/passwd"}),
        _record(
            {"product": "linux", "category": "process_creation"},
            Image="/usr/bin/base64",
            CommandLine="base64 -d payload | sh",
        ),
    ]
    with_filter = _keys(ruleset, records, prefilter=True)
    assert with_filter == _keys(ruleset, records, prefilter=False)
    assert with_filter  # the samples do detect something


@pytest.mark.skipif(not (CORPORA / "sigma").is_dir(), reason="needs SENTIER_CORPORA")
def test_sigmahq_rules_over_the_linux_logs_detect_the_same_with_and_without_prefilter() -> None:
    ruleset = load_rules([CORPORA / "sigma" / "rules" / "linux"], shipped=True)
    logs = [
        CORPORA / "loghub-2k" / "Linux" / "Linux_2k.log",
        CORPORA / "loghub-2k" / "OpenSSH" / "OpenSSH_2k.log",
    ]
    records = read_log_files(logs, year=2005)
    records.sort(key=lambda r: (r.at, r.seq))
    with_filter = _keys(ruleset, records, prefilter=True)
    assert with_filter == _keys(ruleset, records, prefilter=False)
    assert len(with_filter) > 1000
