"""The security pack against KICS's own samples (read from SENTIER_CORPORA)."""

from __future__ import annotations

from sentier.policy import load_rules
from sentier.policy.parity import evaluate, totals


def test_kics_parity_targets(corpora) -> None:  # type: ignore[no-untyped-def]
    results = evaluate(str(corpora / "kics"), load_rules(packs=["security"]))
    t = totals(results)
    assert t["mapped"] == t["queries"] == 58
    assert t["recall"] >= 0.95
    assert t["module_flagged"] == t["module_positives"] == 26
    assert t["false_positives"] == 0
    assert t["line_exact"] >= 0.95
