"""On real Loghub data (when the corpora are there): the generic configuration groups well."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sentier.aiops import grouping
from sentier.aiops.logs import TemplateMiner, compile_format, read_lines

pytestmark = pytest.mark.corpora


@pytest.mark.parametrize(
    ("system", "log_format", "minimum"),
    [
        ("HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>", 0.99),
        ("OpenSSH", r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>", 0.95),
    ],
)
def test_grouping_accuracy_on_loghub(
    corpora: Path, system: str, log_format: str, minimum: float
) -> None:
    folder = corpora / "loghub-2k" / system
    fmt = compile_format(log_format)
    miner = TemplateMiner()
    signatures = []
    for line in read_lines(folder / f"{system}_2k.log"):
        fields = fmt.split(line)
        assert fields is not None
        signatures.append(miner.add(fields["Content"].strip()).signature)
    miner.refresh()
    predicted = [miner.template_of(s).id for s in signatures]  # type: ignore[union-attr]
    with (folder / f"{system}_2k.log_structured.csv").open(encoding="utf-8") as handle:
        truth = [row["EventId"] for row in csv.DictReader(handle)]
    assert grouping(truth, predicted).ga >= minimum
