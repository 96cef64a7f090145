"""The stream and the SQL hunt give the same detections on the same data: every shipped rule
over all shipped samples pooled into one stream, and the corpora's Linux logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sentier.detect import HuntEngine, Record, StreamEngine, load_rules, shipped_rules_dir
from sentier.detect.rules import rule_files
from sentier.detect.sources import read_log_files
from sentier.detect.testing import sample_records, samples_file


def _both(ruleset, records: list[Record]):  # type: ignore[no-untyped-def]
    records = sorted(records, key=lambda r: (r.at, r.seq))  # the stream's order: by time
    for seq, record in enumerate(records):
        record.seq = seq
    stream = StreamEngine(ruleset).run(records)
    hunt = HuntEngine(ruleset)
    hunt.load(records)
    return stream, hunt.run().detections


def _pooled_samples() -> list[Record]:
    records: list[Record] = []
    for file in rule_files([shipped_rules_dir()]):
        path = samples_file(file)
        for index, sample in enumerate(yaml.safe_load(path.read_text())):
            for record in sample_records(sample, f"{path}#{index}"):
                record.origin = f"{path.name}#{index}/{record.origin}"
                records.append(record)
    return records


def test_stream_and_sql_agree_on_every_shipped_rule() -> None:
    ruleset = load_rules([], shipped=True)
    stream, sql = _both(ruleset, _pooled_samples())
    assert sorted(d.key for d in stream) == sorted(d.key for d in sql)
    fired = {d.rule.id for d in stream}
    every = {r.id for r in ruleset.rules} | {c.id for c in ruleset.correlations}
    assert fired == every  # each shipped rule fires somewhere, so the comparison means something


@pytest.mark.corpora
def test_stream_and_sql_agree_on_the_linux_logs(corpora: Path) -> None:
    ruleset = load_rules([corpora / "sigma" / "rules" / "linux"], shipped=True)
    logs = [
        corpora / "loghub-2k" / "Linux" / "Linux_2k.log",
        corpora / "loghub-2k" / "OpenSSH" / "OpenSSH_2k.log",
    ]
    records = read_log_files(logs, year=2005)
    stream, sql = _both(ruleset, records)
    assert sorted(d.key for d in stream) == sorted(d.key for d in sql)
    assert any(d.kind == "correlation" for d in stream)
