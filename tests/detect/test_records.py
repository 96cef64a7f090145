"""Reading lines into records: the fast paths read exactly what the general ones did."""

from __future__ import annotations

from datetime import UTC, datetime

from sentier.detect.records import LineReader, flatten

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _read(line: str):  # type: ignore[no-untyped-def]
    return list(LineReader("t.log", year=2026, now=NOW).read(line, 1))


def test_access_log_times_with_offsets_and_odd_days_are_read_in_utc() -> None:
    for stamp, expected in [
        ("10/Oct/2025:13:55:36 -0700", datetime(2025, 10, 10, 20, 55, 36, tzinfo=UTC)),
        ("1/Jan/2026:00:00:00 +0530", datetime(2025, 12, 31, 18, 30, tzinfo=UTC)),
    ]:
        (record,) = _read(f'10.0.0.1 - - [{stamp}] "GET /a?b=1 HTTP/1.1" 200 5 "-" "curl/8"')
        assert record.at == expected and record.fields["url.query"] == "b=1"
    # An impossible date is no time: the record takes the reader's clock, as before.
    (record,) = _read('10.0.0.1 - - [31/Feb/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 5')
    assert record.at == NOW


def test_json_that_only_python_reads_is_still_a_document() -> None:
    (record,) = _read('{"value": NaN, "big": 123456789012345678901234567890, "s": "x"}')
    assert record.kind == "json"
    assert record.fields == {"value": "NaN", "big": "123456789012345678901234567890", "s": "x"}


def test_logsource_is_taken_from_the_document_and_left_out_of_its_fields() -> None:
    (record,) = _read(
        '{"logsource": {"product": "linux", "category": "process_creation"}, '
        '"Image": "/bin/sh", "nested": {"logsource": "kept"}}'
    )
    assert (record.product, record.category) == ("linux", "process_creation")
    assert record.fields == {"Image": "/bin/sh", "nested.logsource": "kept"}
    assert flatten({"a\x00b": "c\x00d"}) == {"ab": "cd"}


def test_sshd_fields_come_from_prose_lines_only_when_present() -> None:
    (failed,) = _read(
        "Jun  1 10:00:00 h sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2"
    )
    assert (failed.fields["source.ip"], failed.fields["user.name"]) == ("1.2.3.4", "root")
    (closed,) = _read("Jun  1 10:00:00 h sshd[1]: pam_unix(sshd:session): session closed")
    assert "source.ip" not in closed.fields and "user.name" not in closed.fields
    (bracket,) = _read("Jun  1 10:00:00 h sshd[1]: reverse mapping for x [5.6.7.8] failed")
    assert bracket.fields["source.ip"] == "5.6.7.8"
