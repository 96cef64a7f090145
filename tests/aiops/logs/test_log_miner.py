"""The miner on hand-written lines: what a user would notice in its templates and groups."""

from __future__ import annotations

import pytest

from sentier.aiops import AIOpsError
from sentier.aiops.logs import MinerSettings, TemplateMiner, parameters


def mine(
    lines: list[str], settings: MinerSettings | None = None
) -> tuple[TemplateMiner, list[str]]:
    miner = TemplateMiner(settings)
    signatures = [miner.add(line).signature for line in lines]
    miner.refresh()
    texts = []
    for signature in signatures:
        template = miner.template_of(signature)
        assert template is not None
        texts.append(template.text)
    return miner, texts


def test_numbers_ips_and_block_ids_become_variables() -> None:
    _, texts = mine(
        [
            "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106 "
            "dest: /10.250.19.102:50010",
            "Receiving block blk_7503483334202473044 src: /10.251.215.16:55695 "
            "dest: /10.251.215.16:50010",
        ]
    )
    assert set(texts) == {"Receiving block <*> src: <*>:<*> dest: <*>:<*>"}


def test_words_with_many_values_become_variables() -> None:
    users = ["webmaster", "test", "admin", "oracle", "guest", "ubnt", "support", "pi"]
    _, texts = mine([f"Invalid user {u} from 173.234.31.186" for u in users])
    assert set(texts) == {"Invalid user <*> from <*>"}


def test_a_closed_vocabulary_splits_into_sibling_templates() -> None:
    lines = []
    for index in range(30):
        for state in ("Started", "Paused", "Resumed", "Stopped"):
            lines.append(f"[instance: {index:08x}-aaaa] VM {state} (Lifecycle Event)")
    _, texts = mine(lines)
    assert len(set(texts)) == 4
    assert "[instance: <*>] VM Paused (Lifecycle Event)" in texts


def test_different_messages_stay_apart() -> None:
    _, texts = mine(["disk full on /var", "connection reset by peer", "disk full on /var"])
    assert len(set(texts)) == 2


def test_templates_stay_bounded_on_endless_repetition() -> None:
    miner = TemplateMiner()
    for index in range(20_000):
        miner.add(f"PacketResponder {index % 3} for block blk_{index * 7919} terminating")
        miner.add(
            f"Deleting block blk_{index} file /mnt/hadoop/dfs/data/current/subdir{index % 50}"
        )
    miner.refresh()
    assert len(miner) == 2


def test_max_templates_evicts_the_least_recent() -> None:
    miner = TemplateMiner(MinerSettings(max_templates=10))
    for index in range(100):
        miner.add(f"event{chr(97 + index % 26)}{chr(97 + index // 26)} happened")
    assert len(miner) <= 10


def test_snapshot_round_trip_keeps_templates_and_ids() -> None:
    miner, _ = mine([f"Invalid user u{i}x from 1.2.3.{i}" for i in range(5)] + ["boot ok"])
    before = {t.id: t.text for t in miner.templates()}
    restored = TemplateMiner.restore(miner.snapshot())
    assert {t.id: t.text for t in restored.templates()} == before
    again = restored.add("boot ok")
    assert again.template == "boot ok"
    assert again.template_id in before


def test_bad_snapshot_is_an_aiops_error() -> None:
    with pytest.raises(AIOpsError):
        TemplateMiner.restore({"version": 99})
    with pytest.raises(AIOpsError):
        TemplateMiner.restore({"version": 1, "next": [1, 1, 1], "families": [{"id": 1}]})


def test_parameters_are_extracted_in_order() -> None:
    assert parameters(
        "Received block <*> of size <*> from <*>", "Received block blk_1 of size 42 from /10.0.0.1"
    ) == ["blk_1", "42", "/10.0.0.1"]
    assert parameters("Received block <*>", "something else") is None


def test_extra_masks_from_per_source_settings() -> None:
    settings = MinerSettings.from_dict({"extra_masks": [{"name": "job", "pattern": "job-[a-z]+"}]})
    _, texts = mine(["started job-alpha now", "started job-beta now"], settings)
    assert set(texts) == {"started <*> now"}


CLOSE = [
    "chrome.exe close, 0 bytes sent, 0 bytes received, lifetime 00:01",
    "chrome.exe close, 1217 bytes (1.18 KB) sent, 0 bytes received, lifetime 00:03",
    "chrome.exe close, 30 bytes sent, 5461 bytes (5.33 KB) received, lifetime <1 sec",
    "chrome.exe close, 12 bytes sent, 90 bytes received, lifetime <1 sec",
    "chrome.exe close, 2048 bytes (2.00 KB) sent, 4096 bytes (4.00 KB) received, lifetime 01:10",
]


def test_values_written_at_other_lengths_are_one_event() -> None:
    # A size restated in parentheses, a duration with its unit: one value, however many words.
    miner, texts = mine(CLOSE)
    assert len(set(texts)) == 1 and len(miner) == 1
    (template,) = miner.templates()
    assert template.count == len(CLOSE)
    assert (
        template.text
        == "chrome.exe close, <*> bytes <*> sent, <*> bytes <*> received, lifetime <*>"
    )
    for line in CLOSE:
        assert parameters(template.text, line) is not None


def test_words_added_next_to_a_value_still_make_another_event() -> None:
    lines = [
        "Failed password for root from 10.0.0.1 port 22 ssh2",
        "Failed password for admin from 10.0.0.2 port 22 ssh2",
        "Failed password for invalid user bob from 10.0.0.3 port 22 ssh2",
        "authentication failure; rhost=10.0.0.4",
        "authentication failure; rhost=10.0.0.5 user=root",
        "Received block blk_1 of size 67108864 from 10.0.0.6",
        "Received block blk_2 src: 10.0.0.7:50010 dest: 10.0.0.8:50010 of size 67108864",
    ]
    _, texts = mine(lines)
    assert texts[0] == texts[1]
    assert len({texts[1], texts[2]}) == 2
    assert len({texts[3], texts[4]}) == 2
    assert len({texts[5], texts[6]}) == 2


def test_one_configuration_can_keep_lengths_apart() -> None:
    _, texts = mine(CLOSE, MinerSettings(spread=0))
    assert len(set(texts)) > 1


def test_snapshot_keeps_values_of_other_lengths_together() -> None:
    miner, _ = mine(CLOSE)
    again = TemplateMiner.restore(miner.snapshot())
    assert [t.text for t in again.templates()] == [t.text for t in miner.templates()]
    assert (
        again.add("chrome.exe close, 7 bytes sent, 1 bytes received, lifetime <1 sec").template_id
        == miner.templates()[0].id
    )
