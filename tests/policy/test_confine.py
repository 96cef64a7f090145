"""A confined scan (an editor's, through the API) reads no file outside its directories."""

from __future__ import annotations

from pathlib import Path

from sentier.policy.confine import confined
from sentier.policy.loaders import load_paths


def test_confined_loading_reads_nothing_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    tree = tmp_path / "tree"
    (tree / "modules" / "m").mkdir(parents=True)
    (tree / "link.tf").symlink_to(secret)
    (tree / "k8s.yaml").symlink_to(secret)
    (tree / "main.tf").write_text(
        'resource "aws_s3_bucket" "outside" {\n'
        f'  bucket = file("{secret}")\n}}\n'
        'resource "aws_s3_bucket" "inside" {\n'
        '  bucket = file("${path.module}/name.txt")\n}\n',
        encoding="utf-8",
    )
    (tree / "name.txt").write_text("inside-name", encoding="utf-8")
    free = load_paths([str(tree)])
    assert any("TOPSECRET" in str(r.attrs) for r in free.resources) or any(
        "TOPSECRET" in p.message for p in free.problems
    )
    with confined([str(tree)]):
        loaded = load_paths([str(tree)])
    buckets = {r.name: r.attrs.get("bucket") for r in loaded.resources}
    assert buckets["inside"] == "inside-name"
    assert "TOPSECRET" not in str(buckets["outside"])
    assert all("TOPSECRET" not in p.message for p in loaded.problems)
    assert {p.file for p in loaded.problems if "outside the locations" in p.message} == {
        str(tree / "link.tf"),
        str(tree / "k8s.yaml"),
    }
