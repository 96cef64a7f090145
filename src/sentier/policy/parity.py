"""Parity with KICS's own rule samples: does the rule mapped to each KICS query flag its
positive samples at the expected lines and leave its negative samples clean?

Used by ``bench/kics_parity.py`` and the corpus test; the samples are read where they are
(``SENTIER_CORPORA/kics``), never copied into sentier.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sentier.policy.rules.engine import Rule


@dataclass
class QueryParity:
    query: str
    rules: list[str]
    positives: int = 0
    positives_flagged: int = 0
    negatives: int = 0
    negatives_flagged: int = 0
    expected: int = 0
    lines_matched: int = 0
    module_positives: int = 0
    module_flagged: int = 0
    misses: list[str] = field(default_factory=list)


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def evaluate(corpus: str, rules: Sequence[Rule]) -> list[QueryParity]:
    from sentier.policy.scan import scan_paths

    by_query: dict[str, list[Rule]] = {}
    for rule in rules:
        for name in rule.kics:
            by_query.setdefault(name, []).append(rule)
    out: list[QueryParity] = []
    for query in sorted(os.listdir(corpus)):
        test_dir = os.path.join(corpus, query, "test")
        if not os.path.isdir(test_dir):
            continue
        mapped = by_query.get(query, [])
        parity = QueryParity(query, [r.id for r in mapped])
        ids = {r.id for r in mapped}
        files = sorted(
            (f for f in os.listdir(test_dir) if f.endswith((".tf", ".yaml", ".yml"))), key=_natural
        )
        lines_by_file: dict[str, list[int]] = {}
        for name in files:
            path = os.path.join(test_dir, name)
            found = (
                sorted(
                    {f.line for f in scan_paths([path], rules=mapped).findings if f.rule_id in ids}
                )
                if mapped
                else []
            )
            with open(path, encoding="utf-8") as handle:
                uses_module = 'source = "terraform-aws-modules' in re.sub(
                    r"\s+", " ", handle.read()
                )
            if name.startswith("positive"):
                parity.positives += 1
                lines_by_file[name] = list(found)
                if found:
                    parity.positives_flagged += 1
                else:
                    parity.misses.append(f"{name}: not flagged")
                if uses_module:
                    parity.module_positives += 1
                    parity.module_flagged += bool(found)
            elif name.startswith("negative"):
                parity.negatives += 1
                if found:
                    parity.negatives_flagged += 1
                    parity.misses.append(f"{name}: flagged at {found} (false positive)")
        with open(
            os.path.join(test_dir, "positive_expected_result.json"), encoding="utf-8"
        ) as handle:
            expected = json.load(handle)
        positives = [n for n in files if n.startswith("positive")]
        for item in expected:
            parity.expected += 1
            line = int(item["line"])
            candidates = [item["fileName"]] if item.get("fileName") else positives
            hit = next((c for c in candidates if line in lines_by_file.get(c, [])), None)
            if hit is not None:
                parity.lines_matched += 1
                lines_by_file[hit].remove(line)
            else:
                parity.misses.append(
                    f"expected line {line} in {item.get('fileName') or 'a positive file'}"
                )
        out.append(parity)
    return out


def totals(results: Sequence[QueryParity]) -> dict[str, float]:
    positives = sum(r.positives for r in results)
    flagged = sum(r.positives_flagged for r in results)
    negatives = sum(r.negatives for r in results)
    false_positives = sum(r.negatives_flagged for r in results)
    expected = sum(r.expected for r in results)
    matched = sum(r.lines_matched for r in results)
    modules = sum(r.module_positives for r in results)
    module_flagged = sum(r.module_flagged for r in results)
    return {
        "queries": len(results),
        "mapped": sum(1 for r in results if r.rules),
        "positives": positives,
        "positives_flagged": flagged,
        "recall": flagged / positives if positives else 0.0,
        "negatives": negatives,
        "false_positives": false_positives,
        "false_positive_rate": false_positives / negatives if negatives else 0.0,
        "expected_findings": expected,
        "lines_matched": matched,
        "line_exact": matched / expected if expected else 0.0,
        "module_positives": modules,
        "module_flagged": module_flagged,
    }
