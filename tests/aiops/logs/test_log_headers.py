from __future__ import annotations

import pytest

from sentier.aiops import AIOpsError
from sentier.aiops.logs import compile_format


def test_plain_format_splits_fields() -> None:
    fmt = compile_format("<Date> <Time> <Level> <Component>: <Content>")
    fields = fmt.split("2024-01-02 10:00:00  INFO  api.server: started in 3 ms")
    assert fields == {
        "Date": "2024-01-02",
        "Time": "10:00:00",
        "Level": "INFO",
        "Component": "api.server",
        "Content": "started in 3 ms",
    }


def test_loghub_escapes_and_optional_groups() -> None:
    fmt = compile_format(r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>")
    with_pid = fmt.split("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown")
    assert with_pid is not None
    assert with_pid["Component"] == "sshd(pam_unix)"
    assert with_pid["PID"] == "19939"
    without = fmt.split("Jun 14 15:16:01 combo kernel: Linux version 2.6.5")
    assert without is not None
    assert without["Component"] == "kernel"
    assert without["PID"] == ""


def test_literal_brackets_need_no_escape() -> None:
    fmt = compile_format("[<Time>] [<Level>] <Content>")
    assert fmt.split("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok") == {
        "Time": "Sun Dec 04 04:47:44 2005",
        "Level": "notice",
        "Content": "workerEnv.init() ok",
    }
    assert fmt.split("no header here") is None


@pytest.mark.parametrize("bad", ["<Date> <Time>", "<A> <A> <Content>", "(<A> <Content>"])
def test_bad_formats_are_explained(bad: str) -> None:
    with pytest.raises(AIOpsError) as error:
        compile_format(bad)
    assert "log format" in str(error.value)
