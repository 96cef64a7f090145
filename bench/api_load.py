"""API under load: the 100,000-entity catalog served on 127.0.0.1, hammered by wrk for 30 s each.

Endpoints: entity by name, a filtered list page, full-text search (and the Backstage-compatible
by-name). Reports requests/s and p50/p99 latency. Targets on 2 cores: entity-by-name ≥ 1,000
req/s with p99 ≤ 50 ms; filtered list ≥ 300 req/s with p99 ≤ 100 ms.

    python bench/api_load.py [--duration 30] [--workers 2] [--connections 16]

wrk (Debian package) generates the load: a C tool, so the load generator takes little of the
two cores the server needs. The peer column is a raw Uvicorn "hello" route on the same machine
in the same run: the ceiling any Python API can reach here.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from catalog_ingest import WORK, generate

ENTITIES, FILES = 100_000, 10_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(home: Path) -> str:
    """A SENTIER_HOME holding the 100k catalog (built once, reused), and an admin token."""
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    database = home / "sentier.db"
    if not database.exists():
        tree = WORK / f"catalog-{ENTITIES}"
        if not (tree / "repo-000").exists():
            generate(tree, ENTITIES, FILES)
        print(f"ingesting {ENTITIES:,} entities into {database} ...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "sentier", "catalog", "ingest", "--no-warnings", str(tree)],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    out = subprocess.run(
        [sys.executable, "-m", "sentier", "token", "create", "--name", "bench", "--role", "viewer"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def wait_ready(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1], {["Authorization"] = "Bearer %s"})
end
"""


def wrk(
    base: str, paths: list[str], token: str, duration: int, connections: int
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % (", ".join(f'"{p}"' for p in paths), token))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    Path(script.name).unlink()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(name: str) -> float:
        match = re.search(rf"\s{name}%\s+([\d.]+)(us|ms|s)", out)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non2xx": int(errors.group(1)) if errors else 0,
    }


HELLO = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"hello":"world"}'})
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")

    home = WORK / "api-load-home"
    home.mkdir(parents=True, exist_ok=True)
    token = prepare(home)
    rng = random.Random(3)
    # Indices ending in 2 are components (see catalog_ingest.generate); the first ones are groups.
    names = [f"e{rng.randrange(300, ENTITIES // 10) * 10 + 2:06d}" for _ in range(200)]
    by_name = [f"/api/v1/entities/component/default/{n}" for n in names]
    backstage = [f"/api/catalog/entities/by-name/component/default/{n}" for n in names]
    teams = [f"team-{i:04d}" for i in rng.sample(range(ENTITIES // 200), 50)]
    lists = [f"/api/v1/entities?kind=component&owner={t}&limit=50&total=false" for t in teams]
    searches = [f"/api/v1/search?q=entity+{rng.randrange(ENTITIES)}&limit=20" for _ in range(50)]

    port = _free_port()
    env = {**os.environ, "SENTIER_HOME": str(home)}
    env.pop("SENTIER_DATABASE_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sentier",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    results = {}
    try:
        wait_ready(f"{base}/readyz")
        for label, paths in (
            ("entity by name", by_name),
            ("Backstage by-name", backstage),
            ("filtered list (50 per page)", lists),
            ("search", searches),
        ):
            wrk(base, paths[:5], token, 3, args.connections)  # warm-up
            results[label] = wrk(base, paths, token, args.duration, args.connections)
            print(label, results[label], flush=True)
    finally:
        server.terminate()
        server.wait(timeout=20)

    hello_dir = Path(tempfile.mkdtemp())
    (hello_dir / "hello.py").write_text(HELLO)
    port = _free_port()
    peer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "hello:app",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-server-header",
        ],
        cwd=hello_dir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/")
        hello = wrk(f"http://127.0.0.1:{port}", ["/"], token, args.duration, args.connections)
    finally:
        peer.terminate()
        peer.wait(timeout=20)
    print("uvicorn hello", hello)

    targets = {
        "entity by name": (1000, 50),
        "Backstage by-name": (1000, 50),
        "filtered list (50 per page)": (300, 100),
        "search": (None, None),
    }
    rows = []
    for label, r in results.items():
        rps_target, p99_target = targets[label]
        target = f"≥ {rps_target:,} req/s, p99 ≤ {p99_target} ms" if rps_target else "—"
        rows.append(
            [
                label,
                f"{r['rps']:,.0f}",
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                int(r["non2xx"]),
                target,
                f"{r['rps'] / hello['rps']:.2f}×",
            ]
        )
    rows.append(
        [
            "peer: bare Uvicorn hello route",
            f"{hello['rps']:,.0f}",
            f"{hello['p50']:.1f}",
            f"{hello['p99']:.1f}",
            0,
            "—",
            "1.00×",
        ]
    )
    body = (
        f"`bench/api_load.py`: {ENTITIES:,} entities on SQLite, "
        f"`sentier serve --workers {args.workers}`, wrk with {args.connections} connections "
        f"for {args.duration} s per endpoint on 127.0.0.1, "
        "every request authenticated with a bearer token; 200 different entities, 50 owners, 50 "
        "searches in rotation.\n\n"
        + table(["endpoint", "req/s", "p50 ms", "p99 ms", "non-2xx", "target", "of peer"], rows)
    )
    write_section("api_load", "API under load (100k entities)", body)


if __name__ == "__main__":
    main()
