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
