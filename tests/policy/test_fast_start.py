"""What makes ``sentier scan`` start fast must not change what it does: the data cache of the
built-in packs and registry, lazily read rule tests, and the entry point's scan-only path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sentier.datacache import cached
from sentier.policy import load_rules

BUCKET = 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n  acl    = "public-read"\n}\n'


def _source(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data" / "facts.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_cache_is_reused_while_content_is_unchanged_and_missed_after_an_edit(
    tmp_path: Path,
) -> None:
    source = _source(tmp_path, "a: 1\n")
    builds: list[str] = []

    def build() -> dict[str, object]:
        builds.append(source.read_text())
        return {"text": source.read_text()}

    base = source.parent
    assert cached("facts", base, [source], build) == {"text": "a: 1\n"}
    assert cached("facts", base, [source], build) == {"text": "a: 1\n"}
    assert len(builds) == 1
    source.write_text("a: 2\n", encoding="utf-8")
    assert cached("facts", base, [source], build) == {"text": "a: 2\n"}
    assert len(builds) == 2
    # The entry of the old content is pruned, not left to pile up.
    assert len(list((base / "__pycache__").glob("facts-*.json"))) == 1


def test_cache_falls_back_to_sentier_home_when_the_package_cannot_hold_it(
    tmp_path: Path, isolated_settings: Path
) -> None:
    source = _source(tmp_path, "a: 1\n")
    (source.parent / "__pycache__").write_text("not a directory", encoding="utf-8")
    calls = []

    def build() -> dict[str, int]:
        calls.append(1)
        return {"a": 1}

    assert cached("facts", source.parent, [source], build) == {"a": 1}
    assert cached("facts", source.parent, [source], build) == {"a": 1}
    assert list((isolated_settings / "cache").glob("facts-*.json"))
    assert len(calls) == 1


def test_data_json_would_change_is_not_cached(tmp_path: Path) -> None:
    source = _source(tmp_path, "1: one\n")
    calls = []

    def build() -> dict[int, str]:
        calls.append(1)
        return {1: "one"}

    assert cached("facts", source.parent, [source], build) == {1: "one"}
    assert cached("facts", source.parent, [source], build) == {1: "one"}
    assert len(calls) == 2


def test_rules_loaded_from_the_cache_still_have_their_samples() -> None:
    load_rules(packs=["security"])  # warms the cache
    rule = next(r for r in load_rules(packs=["security"]) if r.id == "SNT-AWS-S3-001")
    assert rule.loaded_tests is None  # not read for a scan...
    assert any(t.expect for t in rule.tests)  # ...but there when asked


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sentier", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


def test_scan_through_the_entry_point_behaves_like_the_full_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sentier.cli import app

    (tmp_path / "main.tf").write_text(BUCKET, encoding="utf-8")
    fast = _run("scan", str(tmp_path), "-f", "json", cwd=tmp_path)
    full = CliRunner().invoke(app, ["scan", str(tmp_path), "-f", "json"])
    assert fast.returncode == full.exit_code == 1
    fast_ids = sorted(f["rule_id"] for f in json.loads(fast.stdout)["findings"])
    full_ids = sorted(f["rule_id"] for f in json.loads(full.stdout)["findings"])
    assert fast_ids == full_ids and "SNT-AWS-S3-001" in fast_ids
    assert _run("scan", str(tmp_path), "--fail-on", "none", cwd=tmp_path).returncode == 0
    bad = _run("scan", str(tmp_path / "missing"), cwd=tmp_path)
    assert bad.returncode == 2 and "no such file" in bad.stderr
    usage = _run("scan", "--help", cwd=tmp_path)
    assert usage.returncode == 0 and "sentier scan" in usage.stdout


def test_other_commands_go_through_the_full_application(tmp_path: Path) -> None:
    version = _run("version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.strip()
    listing = _run("rules", "list", "--pack", "security", "--json", cwd=tmp_path)
    assert listing.returncode == 0
    assert len(json.loads(listing.stdout)) >= 120
