"""KICS parity: sentier's packs over KICS's own rule samples (positives, negatives, lines).

    python bench/kics_parity.py --corpora /path/to/corpora

Peer figures (Checkov 3.3.30 on the same samples) come from the corpus README, measured on a
machine of this project's kind; Checkov is not re-run here (see bench/iac_scan.py for timing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__))))

from _report import table, write_section
from sentier.policy.parity import evaluate, totals
from sentier.policy.rules.engine import load_rules

CHECKOV = {"recall": 0.689, "false_positive_rate": 0.043, "line_exact": 0.66, "module_flagged": 0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", default=os.environ.get("SENTIER_CORPORA"))
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    if not args.corpora or not os.path.isdir(os.path.join(args.corpora, "kics")):
        print("corpora not found: pass --corpora DIR or set SENTIER_CORPORA", file=sys.stderr)
        return 2
    started = time.perf_counter()
    results = evaluate(os.path.join(args.corpora, "kics"), load_rules(packs=["security"]))
    elapsed = time.perf_counter() - started
    t = totals(results)
    for r in results:
        for miss in r.misses:
            print(f"  {r.query}: {miss}")
    rows = [
        [
            "recall on positive files",
            f"{t['recall']:.1%} ({t['positives_flagged']}/{t['positives']})",
            f"{CHECKOV['recall']:.1%} (84/122)",
            "≥ 95 %",
        ],
        [
            "… of which call registry modules",
            f"{t['module_flagged']}/{t['module_positives']}",
            "0/26",
            "",
        ],
        [
            "false positives on negative files",
            f"{t['false_positive_rate']:.1%} ({t['false_positives']}/{t['negatives']})",
            f"{CHECKOV['false_positive_rate']:.1%} (4/94)",
            "0",
        ],
        [
            "expected findings matched at the same line",
            f"{t['line_exact']:.1%} ({t['lines_matched']}/{t['expected_findings']})",
            f"{CHECKOV['line_exact']:.0%} (124/187)",
            "≥ 95 %",
        ],
        ["KICS queries mapped to a sentier rule", f"{t['mapped']}/{t['queries']}", "", ""],
    ]
    body = table(["measure", "sentier", "Checkov 3.3.30 (corpus README)", "target"], rows)
    body += f"\n\nAll {t['queries']} sample folders scanned file by file in {elapsed:.2f} s.\n"
    misses = [f"- `{r.query}`: {m}" for r in results for m in r.misses]
    if misses:
        body += "\nMisses:\n\n" + "\n".join(misses) + "\n"
    if args.no_write:
        print(body)
    else:
        write_section("kics-parity", "KICS parity (bench/kics_parity.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
