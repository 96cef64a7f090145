"""Rules load through pySigma, carry their own samples, and a broken rule is refused with the
file, line and field at fault — never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentier.detect import load_rules, run_rule_tests, shipped_rules_dir
from sentier.detect.rules import MAX_FILE_BYTES, rule_files
from sentier.detect.testing import samples_file

GOOD = """title: ok
id: 11111111-2222-3333-4444-555555555555
logsource: {product: linux}
detection:
  selection:
    Image|endswith: /bin/sh
  condition: selection
level: high
"""


def test_every_shipped_rule_passes_its_samples_on_both_engines() -> None:
    outcomes = run_rule_tests([shipped_rules_dir()])
    failed = [o.describe() for o in outcomes if not o.passed]
    assert failed == []
    files = list(rule_files([shipped_rules_dir()]))
    assert len(files) >= 10 and all(samples_file(f).is_file() for f in files)
    # Each file has a matching and a non-matching sample.
    for file in files:
        mine = [o for o in outcomes if o.file.startswith(str(samples_file(file)))]
        assert {o.expected for o in mine} == {True, False}, file


def test_a_sample_that_does_not_match_fails(tmp_path: Path) -> None:
    (tmp_path / "r.yml").write_text(GOOD)
    (tmp_path / "r.tests.yml").write_text(
        "- {name: wrong, expect: match, event: {Image: /bin/bash}, logsource: {product: linux}}\n"
        "- {name: right, expect: no match, event: {Image: /bin/bash},"
        " logsource: {product: linux}}\n"
    )
    outcomes = run_rule_tests([tmp_path])
    assert [o.passed for o in outcomes] == [False, True]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            GOOD.replace("Image|endswith", "Image|endswidth"),
            ":6: detection.selection.Image|endswidth:",
        ),
        (
            GOOD.replace("condition: selection", "condition: selection and other"),
            ":7: detection.condition:",
        ),
        (
            GOOD.replace("Image|endswith: /bin/sh", "Image|re: '(open'"),
            ":6: detection.selection.Image|re:",
        ),
        (GOOD.replace("id: 11111111-2222-3333-4444-555555555555", "id: nope"), ":2: id:"),
        (GOOD.replace("level: high", "level: severe"), ":8: level:"),
        (GOOD.replace("    Image|endswith: /bin/sh", "    Image: [a, b"), "invalid YAML"),
        (
            GOOD.replace("Image|endswith: /bin/sh", "Image|minute: 5"),
            "detection.selection.Image|minute",
        ),
    ],
)
def test_a_broken_rule_is_refused_with_its_location(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "broken.yml"
    path.write_text(text)
    (tmp_path / "good.yml").write_text(GOOD.replace("1111", "9999"))
    loaded = load_rules([tmp_path])
    assert len(loaded.rules) == 1  # the good one still loads
    assert len(loaded.refused) == 1
    message = str(loaded.refused[0])
    assert message.startswith(str(path)) and where in message
    assert "Traceback" not in message


def test_aliases_and_oversized_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "alias.yml").write_text(
        GOOD.replace("  selection:\n", "  selection: &s\n").replace(
            "  condition:", "  other: *s\n  condition:"
        )
    )
    (tmp_path / "big.yml").write_text(GOOD + "#" * (MAX_FILE_BYTES + 1))
    refused = sorted(str(e) for e in load_rules([tmp_path]).refused)
    assert "anchors and aliases" in refused[0] and "larger than" in refused[1]


def test_a_correlation_naming_an_unknown_rule_is_refused_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "c.yml").write_text(
        "title: c\nid: 66666666-6666-6666-6666-666666666666\ncorrelation:\n  type: event_count\n"
        "  rules: [missing]\n  group-by: [host]\n  timespan: 5m\n  condition: {gte: 3}\n"
    )
    refused = [str(e) for e in load_rules([tmp_path]).refused]
    assert refused == [
        f"{tmp_path / 'c.yml'}:5: correlation.rules: "
        "refers to missing, which is not a loaded detection rule"
    ]


def test_level_tags_and_attack_ids_are_kept() -> None:
    loaded = load_rules([], shipped=True)
    rule = loaded.find("3c5d7e9f-1a2b-4c3d-9e5f-7a9b1c3d5e10")
    assert rule is not None and rule.info.severity == "critical"
    assert rule.info.attack == ["T1098"]
