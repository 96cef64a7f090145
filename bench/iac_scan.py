"""IaC scan speed: ``sentier scan`` against Checkov on the iac-bench corpora, same run.

    python bench/iac_scan.py --corpora DIR [--checkov PATH] [--repeat 3]

Checkov is looked for in bench/.work/checkov-venv (create it with
``python3 -m venv bench/.work/checkov-venv && bench/.work/checkov-venv/bin/pip install checkov``);
it is never a dependency of sentier. Wall time and peak RSS are measured on child processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import table, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = ("terragoat", "terraform-aws-vpc", "terraform-aws-s3-bucket")


def run(command: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MiB of the child, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        out = os.open(os.devnull, os.O_WRONLY)
        capture = os.open(
            os.path.join(HERE, ".work", f"out-{os.getpid()}.txt"),
            os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
        )
        os.dup2(capture, 1)
        os.dup2(out, 2)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    path = os.path.join(HERE, ".work", f"out-{pid}.txt")
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    os.unlink(path)
    del before, status
    return elapsed, usage.ru_maxrss / 1024, text


def median_run(command: list[str], repeat: int) -> tuple[float, float, str]:
    runs = [run(command) for _ in range(repeat)]
    return statistics.median(r[0] for r in runs), max(r[1] for r in runs), runs[-1][2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", default=os.environ.get("SENTIER_CORPORA"))
    parser.add_argument(
        "--checkov", default=os.path.join(HERE, ".work", "checkov-venv", "bin", "checkov")
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.corpora or not os.path.isdir(os.path.join(args.corpora, "iac-bench")):
        print("corpora not found: pass --corpora DIR or set SENTIER_CORPORA", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(HERE, ".work"), exist_ok=True)
    sentier = os.path.join(os.path.dirname(sys.executable), "sentier")
    have_checkov = os.path.exists(args.checkov)
    rows = []
    start_s, start_mem, _ = median_run([sentier, "version"], args.repeat)
    row = ["start-up (`version`)", f"{start_s:.2f}", f"{start_mem:.0f}", "–"]
    if have_checkov:
        c_s, c_mem, _ = median_run([args.checkov, "--version"], args.repeat)
        row += [f"{c_s:.2f}", f"{c_mem:.0f}", "–", f"{c_s / start_s:.1f}×"]
    rows.append(row)
    for name in CORPORA:
        path = os.path.join(args.corpora, "iac-bench", name)
        s_s, s_mem, out = median_run(
            [sentier, "scan", path, "-f", "json", "--fail-on", "none"], args.repeat
        )
        summary = json.loads(out)["summary"]
        row = [
            name,
            f"{s_s:.2f}",
            f"{s_mem:.0f}",
            f"{summary['resources']} res, {summary['open']} findings",
        ]
        if have_checkov:
            c_s, c_mem, c_out = median_run(
                [args.checkov, "-d", path, "--framework", "terraform", "-o", "json", "--quiet"],
                args.repeat,
            )
            try:
                data = json.loads(c_out)
                reports = data if isinstance(data, list) else [data]
                failed = sum(r.get("summary", {}).get("failed", 0) for r in reports)
                passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
                c_what = f"{passed} passed, {failed} failed"
            except ValueError:
                c_what = "output not JSON"
            row += [f"{c_s:.2f}", f"{c_mem:.0f}", c_what, f"{c_s / s_s:.1f}×"]
        rows.append(row)
    headers = ["corpus", "sentier s", "sentier MiB", "sentier evaluated"]
    if have_checkov:
        headers += ["Checkov s", "Checkov MiB", "Checkov checks", "sentier faster by"]
    body = table(headers, rows)
    body += (
        f"\n\nMedian of {args.repeat} runs each, both tools in the same run on the same machine; "
        "peak RSS of the child process. Targets: ≥ 10× faster than Checkov, start-up ≤ 0.5 s, "
        "peak memory ≤ 150 MiB.\n"
    )
    if not have_checkov:
        body += "\nCheckov was not found at " + args.checkov + "; only sentier was measured.\n"
    write_section("iac-scan", "IaC scan speed (bench/iac_scan.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
