"""Every shipped mask matches its own examples and leaves its counter-examples alone."""

from __future__ import annotations

import re

import pytest

from sentier.aiops.logs import WILDCARD, default_masks
from sentier.aiops.logs.masks import Mask, MaskSet

MASKS = default_masks()


@pytest.mark.parametrize("mask", MASKS.masks, ids=lambda m: m.name)
def test_mask_examples(mask: Mask) -> None:
    single = MaskSet(MASKS.separators, (mask,)).compile()
    assert mask.matches, f"{mask.name} carries no positive example"
    assert mask.ignores, f"{mask.name} carries no negative example"
    for word in mask.matches:
        assert single.sub(WILDCARD, word) == WILDCARD, f"{mask.name} should mask {word!r}"
    for word in mask.ignores:
        assert single.sub(WILDCARD, word) == word, f"{mask.name} should keep {word!r}"


def test_masks_whole_words_between_separators() -> None:
    pattern = MASKS.compile()
    line = "Received block blk_-123 of size 67108864 from /10.250.19.102 (HWID=1973) via SOCKS5"
    assert pattern.sub(WILDCARD, line) == (
        "Received block <*> of size <*> from <*> (HWID=<*>) via SOCKS5"
    )
    assert re.search("<", pattern.sub(WILDCARD, "state: idle")) is None
