"""IaC scan speed: ``sentier scan`` against Checkov on the iac-bench corpora, same run.

    python bench/iac_scan.py --corpora DIR [--checkov PATH] [--repeat 5]

Checkov is looked for in bench/.work/checkov-venv (create it with
``python3 -m venv bench/.work/checkov-venv && bench/.work/checkov-venv/bin/pip install checkov``);
it is never a dependency of sentier. Wall time, CPU time and peak RSS are measured on child
processes. The two tools run alternately (sentier, Checkov, sentier, Checkov...) so that both
see the same load on a shared machine; each figure is the median of ``--repeat`` runs and the
ratio is the median of the per-pair ratios. Checkov runs with ``--skip-download`` so that
neither tool waits on the network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import table, write_section

HERE = os.path.dirname(os.path.abspath(__file__))
CORPORA = ("terragoat", "terraform-aws-vpc", "terraform-aws-s3-bucket")


class Run:
    """One child process: wall seconds, CPU seconds (user + system), peak RSS MiB, stdout."""

    def __init__(self, command: list[str]) -> None:
        with tempfile.TemporaryFile() as capture:
            started = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(capture.fileno(), 1)
                os.dup2(devnull, 2)
                os.execvp(command[0], command)
            _, _status, usage = os.wait4(pid, 0)
            self.wall = time.perf_counter() - started
            self.cpu = usage.ru_utime + usage.ru_stime
            self.mib = usage.ru_maxrss / 1024
            capture.seek(0)
            self.out = capture.read().decode("utf-8", errors="replace")


class Series:
    def __init__(self) -> None:
        self.runs: list[Run] = []

    def add(self, command: list[str]) -> Run:
        run = Run(command)
        self.runs.append(run)
        return run

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def mib(self) -> float:
        return max(r.mib for r in self.runs)


def paired_ratio(peer: Series, ours: Series) -> float:
    return statistics.median(p.wall / o.wall for p, o in zip(peer.runs, ours.runs, strict=True))


def checkov_summary(text: str) -> str:
    try:
        data = json.loads(text)
    except ValueError:
        return "output not JSON"
    reports = data if isinstance(data, list) else [data]
    failed = sum(r.get("summary", {}).get("failed", 0) for r in reports)
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    return f"{passed} passed, {failed} failed"


def clear_data_cache() -> int:
    """Remove sentier's cached pack and registry data, as after a fresh install."""
    import sentier.policy.rules.engine as engine
    import sentier.sovereignty as sovereignty

    removed = 0
    for directory in (engine.PACKS_DIR / "__pycache__", sovereignty.HERE / "__pycache__"):
        for entry in directory.glob("*.json") if directory.is_dir() else []:
            entry.unlink()
            removed += 1
    return removed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpora", default=os.environ.get("SENTIER_CORPORA"))
    parser.add_argument(
        "--checkov", default=os.path.join(HERE, ".work", "checkov-venv", "bin", "checkov")
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.corpora or not os.path.isdir(os.path.join(args.corpora, "iac-bench")):
        print("corpora not found: pass --corpora DIR or set SENTIER_CORPORA", file=sys.stderr)
        return 2
    sentier = os.path.join(os.path.dirname(sys.executable), "sentier")
    checkov = args.checkov if os.path.exists(args.checkov) else None
    checkov_base = [checkov or "", "--framework", "terraform", "-o", "json", "--quiet"]
    checkov_base.append("--skip-download")
    empty = tempfile.mkdtemp(prefix="sentier-bench-empty-")
    rows: list[list[object]] = []

    def measure(label: str, ours_cmd: list[str], peer_cmd: list[str] | None) -> None:
        ours, peer = Series(), Series()
        for _ in range(args.repeat):
            ours.add(ours_cmd)
            if peer_cmd is not None:
                peer.add(peer_cmd)
        what = "–"
        if ours_cmd[1:2] == ["scan"] and ours.runs[-1].out.strip().startswith("{"):
            summary = json.loads(ours.runs[-1].out)["summary"]
            what = f"{summary['resources']} res, {summary['open']} findings"
        row: list[object] = [label, f"{ours.wall:.2f}", f"{ours.cpu:.2f}", f"{ours.mib:.0f}", what]
        if peer_cmd is not None:
            ratio = paired_ratio(peer, ours)
            peer_what = checkov_summary(peer.runs[-1].out) if "-d" in peer_cmd else "–"
            row += [
                f"{peer.wall:.2f}",
                f"{peer.cpu:.2f}",
                f"{peer.mib:.0f}",
                peer_what,
                f"{ratio:.1f}×",
            ]
        rows.append(row)
        print(" | ".join(str(c) for c in row), file=sys.stderr, flush=True)

    # Warm the data cache once (what any first scan after install does), then measure.
    Run([sentier, "scan", empty, "-f", "json", "--fail-on", "none"])
    measure(
        "start-up (`sentier version` / `checkov --version`)",
        [sentier, "version"],
        [checkov, "--version"] if checkov else None,
    )
    measure(
        "scan start-up (empty directory)",
        [sentier, "scan", empty, "-f", "json", "--fail-on", "none"],
        [*checkov_base[:1], "-d", empty, *checkov_base[1:]] if checkov else None,
    )
    for name in CORPORA:
        path = os.path.join(args.corpora, "iac-bench", name)
        measure(
            name,
            [sentier, "scan", path, "-f", "json", "--fail-on", "none"],
            [*checkov_base[:1], "-d", path, *checkov_base[1:]] if checkov else None,
        )
    terragoat = os.path.join(args.corpora, "iac-bench", "terragoat")
    cold = []
    for _ in range(args.repeat):
        clear_data_cache()
        cold.append(Run([sentier, "scan", terragoat, "-f", "json", "--fail-on", "none"]))
    cold_wall = statistics.median(r.wall for r in cold)
    cold_cpu = statistics.median(r.cpu for r in cold)
    os.rmdir(empty)

    headers = ["corpus", "sentier s", "sentier CPU s", "sentier MiB", "sentier evaluated"]
    if checkov:
        headers += ["Checkov s", "Checkov CPU s", "Checkov MiB", "Checkov checks", "faster by"]
    body = table(headers, rows)
    body += (
        f"\n\nMedians of {args.repeat} runs each, sentier and Checkov alternating in the same "
        "run on the same (shared) machine; wall and CPU (user + system) time and peak RSS of "
        'the child process; "faster by" is the median of the per-pair wall-time ratios. '
        "Checkov runs with `--skip-download`. Targets: ≥ 10× faster than Checkov on each "
        "corpus, start-up ≤ 0.5 s, peak memory ≤ 150 MiB.\n\n"
        f"First scan after install (terragoat, built-in packs and region registry not yet "
        f"cached): {cold_wall:.2f} s wall, {cold_cpu:.2f} s CPU (median of {args.repeat}); "
        "later scans read the packs from the data cache (`sentier.datacache`).\n"
    )
    if not checkov:
        body += "\nCheckov was not found at " + args.checkov + "; only sentier was measured.\n"
    write_section("iac-scan", "IaC scan speed (bench/iac_scan.py)", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
