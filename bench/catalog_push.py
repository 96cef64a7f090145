"""Pushed descriptors cannot freeze the server: /healthz latency while pushes are read.

Starts ``sentier serve`` on a fresh SENTIER_HOME, polls ``/healthz`` every 10 ms from a thread,
and meanwhile pushes (1) a descriptor with a 40,000-bracket line (refused by the pre-scan),
(2) the largest accepted single file of the costliest shape (512 KiB of flow collections 60
deep), (3) a full push of 2,000 ordinary descriptors. Reports each push's time and the worst
/healthz wait during it. Also times the parser against the pre-scan on the 40k-bracket line.

    python bench/catalog_push.py [--port 8765]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section

DOC = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
    "  description: {text}\nspec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
)


def _post(url: str, token: str, data: bytes) -> tuple[int, float]:
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, time.perf_counter() - started


class HealthProbe:
    """Polls /healthz; ``worst()`` is the longest answer since the last ``reset()``."""

    def __init__(self, url: str) -> None:
        self.url, self.samples, self.stop = url, [], False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop:
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=60) as response:
                    response.read()
            except OSError:
                return  # the server is stopping
            self.samples.append(time.perf_counter() - started)
            time.sleep(0.01)

    def reset(self) -> None:
        self.samples = []

    def worst(self) -> float:
        return max(self.samples, default=0.0)


def parser_versus_prescan() -> list[list[object]]:
    import ryaml

    from sentier.catalog.nesting import too_deep_line

    text = "x: " + "[" * 40_000
    started = time.perf_counter()
    line = too_deep_line(text)
    scan = time.perf_counter() - started
    started = time.perf_counter()
    with contextlib.suppress(ryaml.InvalidYamlError):
        ryaml.loads(text)
    parse = time.perf_counter() - started
    return [[f"pre-scan (refuses at line {line})", scan * 1000], ["ryaml (refuses)", parse * 1000]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each push (medians)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="sentier-push-bench-"))
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    sentier = [sys.executable, "-m", "sentier"]
    subprocess.run([*sentier, "db", "upgrade"], env=env, check=False, capture_output=True)
    created = subprocess.run(
        [*sentier, "token", "create", "--name", "bench", "--role", "admin"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = next(w for w in created.stdout.split() if w.startswith("snt_"))
    server = subprocess.Popen([*sentier, "serve", "--port", str(args.port)], env=env)
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        probe = HealthProbe(base + "/healthz")
        time.sleep(0.5)
        deep_row = "[" * 60 + "]" * 60 + ", "
        cases = {
            "40,000 brackets on one line": {"d.yaml": "x: " + "[" * 40_000 + "\n"},
            "512 KiB of flow collections 60 deep": {
                "f.yaml": "x: [" + deep_row * (500 * 1024 // len(deep_row)) + "a]\n"
            },
            "2,000 ordinary descriptors": {
                f"svc/{i}.yaml": DOC.format(name=f"svc-{i}", text="x" * 1500) for i in range(2000)
            },
        }
        rows = []
        for label, files in cases.items():
            # Encoded first: the probe shares this process, and must not wait for our own work.
            data = json.dumps({"name": "bench", "files": files}).encode()
            answers, worst = [], []
            for _ in range(args.repeat):
                time.sleep(0.5)
                probe.reset()
                status, seconds = _post(base + "/api/v1/sources/push", token, data)
                time.sleep(2)  # the ingestion job that follows an accepted push
                answers.append(seconds)
                worst.append(probe.worst() * 1000)
            size = sum(len(t) for t in files.values())
            rows.append(
                [
                    label,
                    f"{size / 2**20:.2f} MiB",
                    status,
                    statistics.median(answers),
                    statistics.median(worst),
                    max(worst),
                ]
            )
        probe.stop = True
        probe.thread.join(timeout=5)
    finally:
        server.terminate()
        server.wait(timeout=30)
    body = (
        f"Each push {args.repeat} times (load average {os.getloadavg()[0]:.1f} at the end: "
        "other work on the machine shows in the worst waits).\n\n"
        + table(
            [
                "push",
                "size",
                "status",
                "answer (s, median)",
                "worst /healthz, push + job (ms, median)",
                "(ms, max)",
            ],
            rows,
        )
        + "\n\nThe 40,000-bracket line, parsed directly (as before the pre-scan, inside the"
        " request):\n\n" + table(["", "ms"], parser_versus_prescan())
    )
    write_section("catalog-push", "Catalog push limits (bench/catalog_push.py)", body)


if __name__ == "__main__":
    main()
