"""SigmaHQ's Linux, web and cloud packs (SENTIER_CORPORA/sigma, Detection Rule License 1.1):
every rule loads or is refused with a located reason; the corpus files are read in place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentier.detect import load_rules
from sentier.detect.rules import rule_files

pytestmark = pytest.mark.corpora


def test_every_sigmahq_rule_loads_or_is_refused_with_a_location(corpora: Path) -> None:
    root = corpora / "sigma" / "rules"
    files = list(rule_files([root]))
    assert len(files) == 480
    loaded = load_rules([root])
    for problem in loaded.refused:
        assert re.match(r"^/.+\.yml(:\d+)?: ", str(problem)), problem
    assert len(loaded.rules) + len(loaded.correlations) + len(loaded.refused) >= 480
    # Authors travel with the rules (DRL 1.1 attribution).
    assert all(r.info.author for r in loaded.rules)
